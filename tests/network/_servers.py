"""Small peers for the connection tests: on 127.0.0.1, run in the test's own task group."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio
from anyio.abc import SocketStream

__all__ = ["ConnectProxy", "open_peer", "serve_connect_proxy"]

#: what a web server says to an AMQP client
HTTP_REPLY = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
#: bytes that are neither AMQP nor TLS nor HTTP
GARBAGE = bytes(range(256)) * 4


async def _read_head(stream: SocketStream) -> bytes:
    """Read an HTTP request head (up to the blank line)."""
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = await stream.receive()
        head += chunk
        if len(head) > 65536:
            break
    return head


@asynccontextmanager
async def open_peer(
    answer: Callable[[SocketStream], object],
    *,
    ssl_context: ssl.SSLContext | None = None,
) -> AsyncIterator[int]:
    """Listen on 127.0.0.1; each connection is handed to *answer* (an async function);
    yields the port. With *ssl_context*, connections are TLS (handshake first)."""
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)

    async def handle(stream: SocketStream) -> None:
        async with stream:
            try:
                if ssl_context is not None:
                    from anyio.streams.tls import TLSStream

                    stream = await TLSStream.wrap(  # type: ignore[assignment]
                        stream, server_side=True, ssl_context=ssl_context
                    )
                await answer(stream)  # type: ignore[misc]
            except Exception:  # the client went away or spoke nonsense: done
                pass

    async with listener, anyio.create_task_group() as task_group:
        task_group.start_soon(listener.serve, handle)
        try:
            yield port
        finally:
            task_group.cancel_scope.cancel()


async def answer_http(stream: SocketStream) -> None:
    """A web server: answer whatever comes with 400 and close."""
    await stream.receive()
    await stream.send(HTTP_REPLY)


async def answer_garbage(stream: SocketStream) -> None:
    """A peer that sends bytes that mean nothing, then closes."""
    await stream.receive()
    await stream.send(GARBAGE)


async def answer_nothing(stream: SocketStream) -> None:
    """A peer that accepts and stays silent until the client goes away."""
    while True:
        await stream.receive()


@dataclass
class ConnectProxy:
    """What the proxy saw: one ``(target, Proxy-Authorization)`` per CONNECT."""

    port: int = 0
    requests: list[tuple[str, str | None]] = field(default_factory=list)


@asynccontextmanager
async def serve_connect_proxy(*, refuse: bool = False) -> AsyncIterator[ConnectProxy]:
    """An HTTP CONNECT proxy on 127.0.0.1 that tunnels to 127.0.0.1 only.

    With *refuse*, every CONNECT gets ``403 Forbidden``.
    """
    proxy = ConnectProxy()

    async def tunnel(client: SocketStream) -> None:
        head = await _read_head(client)
        lines = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
        auth = {k.lower(): v for k, v in headers.items()}.get("proxy-authorization")
        proxy.requests.append((target, auth))
        host, _, port = target.rpartition(":")
        if refuse or method != "CONNECT" or host != "127.0.0.1":
            await client.send(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return
        async with await anyio.connect_tcp(host, int(port)) as upstream:
            await client.send(b"HTTP/1.1 200 Connection established\r\n\r\n")
            rest = head.split(b"\r\n\r\n", 1)[1]
            if rest:
                await upstream.send(rest)

            async def pump(source: SocketStream, sink: SocketStream) -> None:
                try:
                    async for chunk in source:
                        await sink.send(chunk)
                except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                    pass
                task_group.cancel_scope.cancel()

            async with anyio.create_task_group() as task_group:
                task_group.start_soon(pump, client, upstream)
                task_group.start_soon(pump, upstream, client)

    async with open_peer(tunnel) as port:
        proxy.port = port
        yield proxy
