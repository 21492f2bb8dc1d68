"""The emulator's TLS and AMQP-over-WebSocket ports (relays to its plain AMQP port)."""

from __future__ import annotations

import asyncio
import socket
import ssl

import aiohttp
import pytest
import trustme

from anyio_eventhubs.testing.emulator import EventHubsEmulator

AMQP_SASL_HEADER = b"AMQP\x03\x01\x00\x00"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return context


def tls_handshake(port: int, ca: trustme.CA) -> bytes:
    """Open TLS to *port*, send the AMQP SASL header, return what comes back first."""
    context = ssl.create_default_context()
    ca.configure_trust(context)
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        tls.sendall(AMQP_SASL_HEADER)
        return tls.recv(8)


def test_no_extra_port_unless_asked() -> None:
    with EventHubsEmulator() as emulator:
        assert emulator.tls_port is None
        assert emulator.websocket_port is None


def test_the_tls_port_speaks_amqp_and_survives_a_restart(ca: trustme.CA) -> None:
    emulator = EventHubsEmulator(tls=server_context(ca))
    with emulator:
        port = emulator.tls_port
        assert port is not None
        assert port != emulator.port
        assert tls_handshake(port, ca) == AMQP_SASL_HEADER
    with emulator:  # started again: the same port, serving again
        assert emulator.tls_port == port
        assert tls_handshake(port, ca) == AMQP_SASL_HEADER


async def _websocket_exchange(url: str, protocols: tuple[str, ...]) -> tuple[str | None, bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(url, protocols=protocols) as websocket,
    ):
        if websocket.protocol is not None:
            await websocket.send_bytes(AMQP_SASL_HEADER)
        message = await websocket.receive(timeout=10)
        data = message.data if message.type == aiohttp.WSMsgType.BINARY else b""
        return websocket.protocol, data


def test_the_websocket_port_speaks_amqp_with_the_amqpwsb10_subprotocol() -> None:
    with EventHubsEmulator(websocket_port=0) as emulator:
        url = f"ws://127.0.0.1:{emulator.websocket_port}/$servicebus/websocket"
        protocol, data = asyncio.run(_websocket_exchange(url, ("AMQPWSB10",)))
        assert protocol == "AMQPWSB10"
        assert data.startswith(AMQP_SASL_HEADER)  # then the SASL mechanisms
        refused = asyncio.run(_websocket_exchange(url, ()))
        assert refused == (None, b"")  # closed: no AMQP without the subprotocol


def test_a_bad_tls_context_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"tls must be an ssl\.SSLContext"):
        EventHubsEmulator(tls="cert.pem")  # type: ignore[arg-type]
