"""A TCP listener that accepts connections and never answers (for open timeouts)."""

from __future__ import annotations

import selectors
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["black_hole_listener"]


@contextmanager
def black_hole_listener(host: str = "127.0.0.1", port: int = 0) -> Iterator[tuple[str, int]]:
    """Listen on ``host:port``, accept every connection, read and discard, never reply.

    Yields the bound ``(host, port)``. A client connecting there completes its TCP
    handshake and then waits forever for the AMQP header: exactly what an open timeout
    has to guard against. Every socket is closed on exit.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.create_server((host, port), family=family, backlog=128)
    listener.setblocking(False)
    wake_r, wake_w = socket.socketpair()
    accepted: list[socket.socket] = []

    def serve() -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(listener, selectors.EVENT_READ)
            selector.register(wake_r, selectors.EVENT_READ)
            while True:
                for key, _ in selector.select():
                    if key.fileobj is wake_r:
                        return
                    if key.fileobj is listener:
                        try:
                            sock, _peer = listener.accept()
                        except OSError:
                            continue
                        sock.setblocking(False)
                        accepted.append(sock)
                        selector.register(sock, selectors.EVENT_READ)
                    else:
                        sock = key.fileobj  # type: ignore[assignment]
                        try:
                            data = sock.recv(65536)
                        except BlockingIOError:
                            continue
                        except OSError:
                            data = b""
                        if not data:  # the client gave up
                            selector.unregister(sock)

    thread = threading.Thread(target=serve, name="eventhubs-black-hole", daemon=True)
    thread.start()
    try:
        yield host, listener.getsockname()[1]
    finally:
        wake_w.send(b"\x00")
        thread.join()
        for sock in accepted:
            sock.close()
        for sock in (listener, wake_r, wake_w):
            sock.close()
