"""The public face of the emulator: configuration, start/stop, and what tests inspect."""

from __future__ import annotations

import itertools
import socket
import ssl
import threading
from collections.abc import Callable, Mapping
from types import TracebackType

from ._faults import DETACH_FORCED, FaultInjector
from ._gateway import Gateway
from ._hooks import ConnectionInfo
from ._hubs import EventStore, StoredEvent
from ._lifetime import ServiceRules
from ._loop import ServerLoop

__all__ = ["EventHubsEmulator"]

_UNUSED_KEY = "unused"
#: the most partitions a hub may have (a dedicated cluster's limit per event hub)
MAX_PARTITIONS = 1024


class EventHubsEmulator:
    """A local Azure Event Hubs endpoint speaking AMQP 1.0 over plain TCP.

    azure-eventhub connects to it with :meth:`connection_string` (which carries
    ``UseDevelopmentEmulator=true``, turning TLS off). The server runs in a daemon thread
    between :meth:`start` and :meth:`stop`; stopping closes every connection abruptly,
    and starting again listens on the same port with the stored events kept.

    :param hubs: event hub name -> partition count (default ``{"eh1": 4}``).
    :param host: address to listen on.
    :param port: port to listen on; ``0`` picks a free one (see :attr:`port`).
    :param max_message_size: default largest transfer a hub accepts, in bytes.
    :param key_name: the shared access key name tokens must name.
    :param key: the shared access key SAS tokens are checked against; ``None`` accepts
        any token.
    :param tls: serve AMQP over TLS too, with this server context, on :attr:`tls_port`
        (a client reaches it with ``custom_endpoint_address="sb://127.0.0.1:<tls_port>"``).
    :param tls_port: the TLS port; ``0`` picks a free one.
    :param websocket_port: serve AMQP over WebSocket (subprotocol ``AMQPWSB10``) on this
        port too (``0`` picks one; ``None``, the default, does not); ``wss://`` when *tls*
        is given. Needs aiohttp (``pip install "anyio-eventhubs[websockets]"``).

    The service's rules for long-lived connections (``docs/service-lifetime.md``), each in
    seconds, ``None`` to turn it off; the defaults are the service's values:

    :param first_token_timeout: a connection that has put no accepted token on ``$cbs``
        this long after it was accepted is closed (service: 20).
    :param max_token_lifetime: treat every token as expiring at most this long after it
        was first put (default ``None``: when the token says); the same token put again
        after that is refused as expired, as the service refuses an expired token. When
        a token expires and no fresh one was put for its audience, the connection's links
        to that entity are detached with ``amqp:link:detach-forced``, and new ones are
        refused.
    :param idle_timeout: the ``idle-time-out`` of the emulator's AMQP ``open``: a
        connection that sends no frame, not even an empty one, for this long is closed
        (service: 240).
    :param first_link_timeout: a connection with no link this long after it was accepted
        is closed with ``amqp:connection:forced`` (service: 60).
    :param linkless_timeout: a connection whose links have all been closed for this long
        is closed with ``amqp:connection:forced`` (service: 300).
    :param link_idle_timeout: a link to an event hub that carried no transfer for this long
        is detached with ``amqp:link:detach-forced`` (service: 1800).
    """

    def __init__(
        self,
        hubs: Mapping[str, int] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        max_message_size: int = 1024 * 1024,
        key_name: str = "emulator",
        key: str | None = "emulator-key",
        tls: ssl.SSLContext | None = None,
        tls_port: int = 0,
        websocket_port: int | None = None,
        first_token_timeout: float | None = 20.0,
        max_token_lifetime: float | None = None,
        idle_timeout: float | None = 240.0,
        first_link_timeout: float | None = 60.0,
        linkless_timeout: float | None = 300.0,
        link_idle_timeout: float | None = 1800.0,
    ) -> None:
        for name, number in (
            ("port", port),
            ("tls_port", tls_port),
            ("websocket_port", websocket_port),
        ):
            if number is not None and not 0 <= number <= 65535:
                raise ValueError(f"{name} must be in 0..65535, got {number}")
        if tls is not None and not isinstance(tls, ssl.SSLContext):
            raise TypeError(f"tls must be an ssl.SSLContext, got {type(tls).__name__}")
        self._gateways: list[Gateway] = []
        if tls is not None:
            self._gateways.append(
                Gateway("tls", host=host, port=tls_port, target_port=0, ssl_context=tls)
            )
        if websocket_port is not None:
            self._gateways.append(
                Gateway("websocket", host=host, port=websocket_port, target_port=0, ssl_context=tls)
            )
        #: the service's lifetime rules as configured (see the parameters)
        self.rules = ServiceRules(
            first_token_timeout=first_token_timeout,
            max_token_lifetime=max_token_lifetime,
            idle_timeout=idle_timeout,
            first_link_timeout=first_link_timeout,
            linkless_timeout=linkless_timeout,
            link_idle_timeout=link_idle_timeout,
        )
        self.host = host
        self.port = port
        self.max_message_size = max_message_size
        self.key_name = key_name
        self.key = key
        self.faults = FaultInjector()
        self._store = EventStore()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._loop: ServerLoop | None = None
        self._accepted_before = 0
        self._closed_infos: list[ConnectionInfo] = []
        for name, partition_count in (hubs if hubs is not None else {"eh1": 4}).items():
            self.add_hub(name, partition_count)

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return (
            f"<EventHubsEmulator {state} {self.host}:{self.port} hubs={list(self.hubs)} "
            f"connections_open={self.connections_open}>"
        )

    # --- lifecycle --------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._loop is not None

    def start(self) -> None:
        """Listen and serve in a background thread (no-op if already running).

        :raises OSError: if the address cannot be bound.
        """
        with self._lock:
            if self._loop is not None:
                return
            family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
            listener = socket.create_server((self.host, self.port), family=family, backlog=128)
            listener.setblocking(False)
            self.port = listener.getsockname()[1]
            self._loop = ServerLoop(
                listener,
                store=self._store,
                faults=self.faults,
                key_name=self.key_name,
                key=self.key,
                connection_ids=self._ids,
                rules=self.rules,
            )
            self._loop.thread.start()
            for gateway in self._gateways:
                gateway.target_port = self.port
                gateway.start()

    def stop(self) -> None:
        """Close every connection and the listener (no-op if not running)."""
        with self._lock:
            loop, self._loop = self._loop, None
            if loop is None:
                return
            for gateway in self._gateways:
                gateway.stop()
            loop.stop()
            self._accepted_before += loop.accepted
            self._closed_infos.extend(loop.infos())

    def __enter__(self) -> EventHubsEmulator:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def tls_port(self) -> int | None:
        """The port of AMQP over TLS (``None`` without *tls*; known once started)."""
        return next((g.port for g in self._gateways if g.kind == "tls"), None)

    @property
    def websocket_port(self) -> int | None:
        """The port of AMQP over WebSocket (``None`` if not served; known once started)."""
        return next((g.port for g in self._gateways if g.kind == "websocket"), None)

    # --- hubs and events --------------------------------------------------------------

    def add_hub(self, name: str, partition_count: int, max_message_size: int | None = None) -> None:
        """Create an event hub with partitions ``"0"`` to ``str(partition_count - 1)``.

        :raises ValueError: if the name is taken or a number is out of range.
        """
        self._store.add_hub(name, partition_count, max_message_size or self.max_message_size)

    def add_partitions(
        self, eventhub_name: str, count: int = 1, *, detach_links: bool = True
    ) -> list[str]:
        """Add ``count`` partitions to a hub, running or not, as a premium or dedicated
        namespace can; returns the new partition ids.

        From now on the ``$management`` READ of the hub reports them, links to them attach,
        sends to the hub round-robin over them, and partition keys hash modulo the new
        count. With ``detach_links`` (the default) the producer and consumer links to the
        hub are then detached with ``amqp:link:detach-forced``, as the service tells its
        clients that the entity changed (they re-attach and may read the partitions again);
        this happens on the server thread shortly after the call returns.

        :raises KeyError: if there is no such hub.
        :raises ValueError: if ``count`` is not positive or the hub would pass 1024.
        """
        added = self._store.add_partitions(eventhub_name, count, MAX_PARTITIONS)
        before = int(added[0])  # ids are "0" to "n-1"
        loop = self._loop
        if detach_links and loop is not None:
            text = (
                f"The metadata of event hub '{eventhub_name}' was altered: its partition count "
                f"went from {before} to {before + count}. Reopen the link. (emulated)"
            )
            loop.run_soon(lambda: loop.detach_hub_links(eventhub_name, DETACH_FORCED, text))
        return added

    @property
    def hubs(self) -> dict[str, int]:
        """Event hub name -> partition count."""
        return {name: len(hub.partition_ids) for name, hub in self._store.hubs().items()}

    def connection_string(self, eventhub_name: str | None = None) -> str:
        """A connection string for azure-eventhub (``EntityPath`` only if a hub is named)."""
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        if ":" in host:
            host = "[::1]" if host == "::" else f"[{host}]"
        parts = [
            f"Endpoint=sb://{host}:{self.port}",
            f"SharedAccessKeyName={self.key_name}",
            f"SharedAccessKey={self.key if self.key is not None else _UNUSED_KEY}",
        ]
        if eventhub_name is not None:
            parts.append(f"EntityPath={eventhub_name}")
        parts.append("UseDevelopmentEmulator=true")
        return ";".join(parts)

    def published_events(self, eventhub_name: str, partition_id: str) -> list[StoredEvent]:
        """Every event stored in one partition, in order (decoded now).

        :raises KeyError: if there is no such hub or partition.
        """
        return self._store.published_events(eventhub_name, partition_id)

    def all_events(self, eventhub_name: str) -> list[StoredEvent]:
        """Every event stored in a hub, partition by partition."""
        hub = self._store.hub(eventhub_name)
        if hub is None:
            raise KeyError(f"no event hub {eventhub_name!r}")
        return [e for p in hub.partition_ids for e in self.published_events(eventhub_name, p)]

    def event_count(self, eventhub_name: str, partition_id: str | None = None) -> int:
        """How many events a hub (or one of its partitions) holds."""
        hub = self._store.hub(eventhub_name)
        if hub is None:
            raise KeyError(f"no event hub {eventhub_name!r}")
        ids = hub.partition_ids if partition_id is None else [partition_id]
        return sum(len(self._store.partition(eventhub_name, p)) for p in ids)

    def wait_for_events(
        self,
        eventhub_name: str,
        count: int,
        *,
        partition_id: str | None = None,
        timeout: float = 10,
    ) -> bool:
        """Block until the hub (or partition) holds at least ``count`` events."""
        return self.wait_until(
            lambda: self.event_count(eventhub_name, partition_id) >= count, timeout=timeout
        )

    def wait_until(self, predicate: Callable[[], bool], *, timeout: float = 10) -> bool:
        """Block until ``predicate()`` is true; it is re-checked whenever events are
        stored or connections open or close. Returns ``False`` on timeout."""
        return self._store.wait_until(predicate, timeout)

    # --- connections ------------------------------------------------------------------

    @property
    def connections_accepted(self) -> int:
        """TCP connections accepted since the emulator was created (across restarts)."""
        loop = self._loop
        return self._accepted_before + (loop.accepted if loop is not None else 0)

    @property
    def connections_open(self) -> int:
        """TCP connections open right now (including ones left hanging on purpose)."""
        loop = self._loop
        return loop.open_count if loop is not None else 0

    def connection_info(self) -> list[ConnectionInfo]:
        """A snapshot of every connection served so far, oldest first."""
        loop = self._loop
        current = loop.infos() if loop is not None else []
        return sorted(self._closed_infos + current, key=lambda i: i.connection_id)
