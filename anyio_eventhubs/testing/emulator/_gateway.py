"""TLS and AMQP over WebSocket in front of the emulator: byte relays to its plain port.

The emulator itself speaks AMQP over plain TCP. A :class:`Gateway` listens on a port of
its own and relays every connection, byte for byte, to that plain port:

- ``tls``: a TLS listener (AMQP over TLS, as the service on port 5671);
- ``websocket``: an HTTP listener that upgrades to a WebSocket with the subprotocol
  ``AMQPWSB10`` (AMQP over WebSockets, as the service on port 443) and carries the AMQP
  bytes in binary messages; over TLS too when an ``ssl.SSLContext`` is given. Needs
  aiohttp (the ``websockets`` extra).

Each gateway runs an asyncio loop in a daemon thread of its own between :meth:`start`
and :meth:`stop`, so that the emulator's selector loop stays as it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
from typing import Any

__all__ = ["AMQP_WEBSOCKET_SUBPROTOCOL", "Gateway"]

#: the WebSocket subprotocol of AMQP 1.0 (OASIS AMQP WebSocket Binding)
AMQP_WEBSOCKET_SUBPROTOCOL = "AMQPWSB10"

_CHUNK = 64 * 1024


class Gateway:
    """Relay TLS or WebSocket connections on *port* to ``127.0.0.1:target_port``.

    :param kind: ``"tls"`` or ``"websocket"``.
    :param ssl_context: the server's TLS context (required for ``"tls"``; for
        ``"websocket"`` it makes it ``wss://``).
    """

    def __init__(
        self,
        kind: str,
        *,
        host: str,
        port: int,
        target_port: int,
        ssl_context: ssl.SSLContext | None,
    ) -> None:
        if kind not in ("tls", "websocket"):
            raise ValueError(f"kind must be 'tls' or 'websocket', got {kind!r}")
        if kind == "tls" and ssl_context is None:
            raise ValueError("a TLS gateway needs an ssl_context")
        if kind == "websocket":
            import aiohttp.web  # noqa: F401 - fail here, not in the thread, without the extra
        self.kind = kind
        self.host = host
        self.port = port
        self.target_port = target_port
        self.ssl_context = ssl_context
        self.accepted = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Bind now (so :attr:`port` is known), then serve in a thread until :meth:`stop`."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        listener = socket.create_server((self.host, self.port), family=family, backlog=128)
        self.port = listener.getsockname()[1]
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._serve(listener, ready))
            except BaseException as exc:  # reported to start()
                failure.append(exc)
                ready.set()
            finally:
                listener.close()  # aiohttp's site does not close a socket it was given
                loop.run_until_complete(loop.shutdown_asyncgens())
                asyncio.set_event_loop(None)
                loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name=f"emulator {self.kind} gateway")
        self._thread.daemon = True
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            raise failure[0]

    def stop(self) -> None:
        """Close the listener and every relayed connection; wait for the thread."""
        loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if loop is None or thread is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop already ended
            loop.call_soon_threadsafe(self._stopped.set)
        thread.join()

    async def _serve(self, listener: socket.socket, ready: threading.Event) -> None:
        self._stopped = asyncio.Event()
        tasks: set[asyncio.Task[Any]] = set()

        if self.kind == "tls":

            async def on_tls(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                self.accepted += 1
                task = asyncio.current_task()
                assert task is not None
                tasks.add(task)
                try:
                    await _relay_stream(reader, writer, self.target_port)
                except asyncio.CancelledError:
                    pass  # stopping; asyncio's stream callback would log a cancelled task
                finally:
                    tasks.discard(task)

            server = await asyncio.start_server(on_tls, sock=listener, ssl=self.ssl_context)
            ready.set()
            await self._stopped.wait()
            server.close()
            for task in list(tasks):
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await _let_transports_close()
            return
        from aiohttp import web

        async def on_websocket(request: web.Request) -> web.StreamResponse:
            self.accepted += 1
            websocket = web.WebSocketResponse(protocols=(AMQP_WEBSOCKET_SUBPROTOCOL,))
            await websocket.prepare(request)
            if websocket.ws_protocol != AMQP_WEBSOCKET_SUBPROTOCOL:
                await websocket.close(message=b"the subprotocol must be AMQPWSB10")
                return websocket
            await _relay_websocket(websocket, self.target_port)
            return websocket

        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", on_websocket)
        runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1)
        await runner.setup()
        site = web.SockSite(runner, listener, ssl_context=self.ssl_context)
        await site.start()
        ready.set()
        await self._stopped.wait()
        await runner.cleanup()
        await _let_transports_close()


async def _let_transports_close() -> None:
    """Run the loop a few more times: a closed transport closes its socket in a callback
    (``connection_lost``), which would never run once the loop is closed."""
    for _ in range(5):
        await asyncio.sleep(0)


async def _relay_stream(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, target_port: int
) -> None:
    """Pump bytes between a client stream and a new connection to the emulator."""
    try:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", target_port)
    except OSError:
        writer.close()
        return

    async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, ssl.SSLError, asyncio.IncompleteReadError):
            while data := await source.read(_CHUNK):
                sink.write(data)
                await sink.drain()
        sink.close()

    try:
        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))
    finally:
        for stream in (writer, up_writer):
            stream.close()
        for stream in (writer, up_writer):
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(stream.wait_closed(), 1)


async def _relay_websocket(websocket: Any, target_port: int) -> None:
    """Pump AMQP bytes between binary WebSocket messages and the emulator's plain port."""
    from aiohttp import WSMsgType

    up_reader, up_writer = await asyncio.open_connection("127.0.0.1", target_port)

    async def downstream() -> None:
        with contextlib.suppress(OSError, ConnectionError):
            while data := await up_reader.read(_CHUNK):
                await websocket.send_bytes(data)
        await websocket.close()

    task = asyncio.ensure_future(downstream())
    try:
        async for message in websocket:
            if message.type == WSMsgType.BINARY:
                up_writer.write(message.data)
                await up_writer.drain()
            elif message.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                break
    finally:
        up_writer.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(up_writer.wait_closed(), 1)
