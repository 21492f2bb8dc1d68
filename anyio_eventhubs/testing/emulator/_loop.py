"""The server thread: one selector loop over the listener and every connection.

Everything that touches proton runs here. Other threads talk to the loop only through
the event store's lock, the fault injector's lock, and :meth:`ServerLoop.wake`.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import selectors
import socket
import threading
import time
from collections.abc import Callable

from ._connection import ServerConnection
from ._faults import FaultInjector
from ._hooks import ConnectionInfo
from ._hubs import EventStore
from ._lifetime import SERVICE_RULES, ServiceRules
from ._receivers import ReceiverRegistry

__all__ = ["ServerLoop"]

_LOG = logging.getLogger(__name__)
_RECV_SIZE = 256 * 1024


class ServerLoop:
    """Accept, read, write and run timers until :meth:`stop` (see the module doc)."""

    def __init__(
        self,
        listener: socket.socket,
        *,
        store: EventStore,
        faults: FaultInjector,
        key_name: str,
        key: str | None,
        connection_ids: itertools.count[int],
        rules: ServiceRules = SERVICE_RULES,
    ) -> None:
        self.store = store
        self.faults = faults
        self.rules = rules
        self.receivers = ReceiverRegistry()
        self.key_name = key_name
        self.key = key
        self.tokens_first_put: dict[str, float] = {}
        self._listener = listener
        self._ids = connection_ids
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._stopping = False
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._soon: list[Callable[[], None]] = []  # from other threads, under _soon_lock
        self._soon_lock = threading.Lock()
        self._timer_ids = itertools.count()
        self._dirty: set[ServerConnection] = set()
        self._sockets: dict[ServerConnection, socket.socket] = {}
        self._hung: list[socket.socket] = []
        self.accepted = 0
        self.connections: dict[int, ServerConnection] = {}  # every connection, also closed
        self.thread = threading.Thread(target=self._run, name="eventhubs-emulator", daemon=True)

    # --- called from other threads ----------------------------------------------------

    def wake(self) -> None:
        with contextlib.suppress(OSError):  # full or closed: the loop is awake anyway
            self._wake_w.send(b"\x00")

    def run_soon(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` on the server thread soon (any thread may call this)."""
        with self._soon_lock:
            self._soon.append(callback)
        self.wake()

    def detach_hub_links(self, hub_name: str, condition: str, description: str) -> None:
        """Detach every producer and consumer link of a hub (server thread)."""
        for conn in list(self._sockets):
            self._guarded(conn, lambda c: c.detach_hub_links(hub_name, condition, description))
            self._dirty.add(conn)

    def stop(self) -> None:
        self._stopping = True
        self.wake()
        self.thread.join()

    @property
    def open_count(self) -> int:
        return len(self._sockets) + len(self._hung)

    def infos(self) -> list[ConnectionInfo]:
        return [conn.info() for conn in list(self.connections.values())]

    # --- ServerHooks ------------------------------------------------------------------

    def call_later(self, delay: float, callback: Callable[[], None]) -> None:
        heapq.heappush(self._timers, (time.monotonic() + delay, next(self._timer_ids), callback))

    def mark_dirty(self, connection: ServerConnection) -> None:
        self._dirty.add(connection)

    # --- the loop ---------------------------------------------------------------------

    def _run(self) -> None:
        selector = self._selector
        selector.register(self._listener, selectors.EVENT_READ, None)
        selector.register(self._wake_r, selectors.EVENT_READ, None)
        try:
            while not self._stopping:
                for key, mask in selector.select(self._timeout()):
                    conn = key.data
                    if conn is None:
                        if key.fileobj is self._listener:
                            self._accept()
                        else:
                            self._drain_wake()
                        continue
                    if mask & selectors.EVENT_READ:
                        self._guarded(conn, self._read)
                    self._dirty.add(conn)
                self._run_timers()
                while self._dirty:
                    self._guarded(self._dirty.pop(), self._flush)
        except Exception:  # pragma: no cover - a bug: keep the traceback, free the port
            _LOG.exception("the Event Hubs emulator's server loop failed")
            raise
        finally:
            for conn in list(self._sockets):
                self._close(conn)
            for sock in self._hung:
                sock.close()
            self._hung.clear()
            selector.close()
            self._listener.close()
            self._wake_r.close()
            self._wake_w.close()
            self.store.notify()

    def _guarded(self, conn: ServerConnection, step: Callable[[ServerConnection], None]) -> None:
        """Run one step for ``conn``; a failure closes that connection, not the server."""
        try:
            step(conn)
        except Exception:
            _LOG.exception("emulator connection %d failed; closing it", conn.connection_id)
            self._close(conn)

    def _timeout(self) -> float | None:
        deadlines = [conn.next_tick for conn in self._sockets if conn.next_tick]
        if self._timers:
            deadlines.append(self._timers[0][0])
        if not deadlines:
            return None
        return max(0.0, min(deadlines) - time.monotonic())

    def _run_timers(self) -> None:
        with self._soon_lock:
            soon, self._soon = self._soon, []
        for callback in soon:
            try:
                callback()
            except Exception:
                _LOG.exception("an emulator task failed")
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            try:
                heapq.heappop(self._timers)[2]()
            except Exception:
                _LOG.exception("an emulator timer failed")
        for conn in list(self._sockets):
            if conn.next_tick and conn.next_tick <= now:
                self._guarded(conn, lambda c: c.tick(now))
                self._dirty.add(conn)

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except BlockingIOError:
            pass

    def _accept(self) -> None:
        while True:
            try:
                sock, peer = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # e.g. too many open files: try again on the next wake-up
                return
            self.accepted += 1
            if self.faults.hanging:
                self._hung.append(sock)
                self.store.notify()
                continue
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = ServerConnection(self, next(self._ids), (str(peer[0]), int(peer[1])))
            self.connections[conn.connection_id] = conn
            self._sockets[conn] = sock
            self._selector.register(sock, selectors.EVENT_READ, conn)
            self.store.notify()

    def _read(self, conn: ServerConnection) -> None:
        sock = self._sockets.get(conn)
        if sock is None:
            return
        try:
            data = sock.recv(_RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            conn.abort()
            return
        if data:
            conn.receive(data)
        else:
            conn.end_of_input()

    def _flush(self, conn: ServerConnection) -> None:
        sock = self._sockets.get(conn)
        if sock is None:
            return
        conn.pull_output()
        if conn.aborted:
            self._close(conn)
            return
        out = conn.out
        if out:
            try:
                sent = sock.send(out)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                self._close(conn)
                return
            del out[:sent]
        if conn.finished and (not out or conn.aborted):
            self._close(conn)
            return
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if out else 0)
        if self._selector.get_key(sock).events != events:
            self._selector.modify(sock, events, conn)

    def _close(self, conn: ServerConnection) -> None:
        sock = self._sockets.pop(conn, None)
        if sock is None:
            return
        self._dirty.discard(conn)
        self._selector.unregister(sock)
        sock.close()
        conn.release()
        self.store.notify()
