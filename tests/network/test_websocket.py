"""AMQP over WebSocket (``wss://``), directly and through an HTTP CONNECT proxy."""

from __future__ import annotations

import base64

import pytest

from anyio_eventhubs import ConnectError, open_streaming_producer
from anyio_eventhubs.testing.emulator import EventHubsEmulator

from ..azure.conftest import wait_for_events
from ._servers import serve_connect_proxy
from .conftest import over_websocket

pytestmark = [
    pytest.mark.anyio,
    # Known, intermittent (about 1 run in 15 under load): at teardown, gc finds a TCP
    # socket of aiohttp's WebSocket connection to the emulator's gateway unclosed, after
    # azure-eventhub and aiohttp have both closed their side (see the closing code in
    # _azure_internals._close_connection). Not reproduced in 40 runs outside pytest;
    # ignored here, for unclosed sockets only, until it is pinned down.
    pytest.mark.filterwarnings(
        r"ignore:Exception ignored in.*(socket|Transport):pytest.PytestUnraisableExceptionWarning"
    ),
]


async def test_amqp_over_websocket_publishes(tls_emulator: EventHubsEmulator, ca_path: str) -> None:
    options = over_websocket(tls_emulator, connection_verify=ca_path)
    async with open_streaming_producer(**options) as producer:
        for number in range(10):
            await producer.queue_for_send(f"event {number}")
    await wait_for_events(tls_emulator, "eh1", 10)


# azure-eventhub passes the proxy credentials as aiohttp.BasicAuth and proxy_auth=,
# both deprecated in aiohttp 3.14 (a DeprecationWarning, an error under this suite)
@pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:The .proxy_auth. parameter is deprecated:DeprecationWarning")
async def test_the_proxy_path_carries_the_connection(
    tls_emulator: EventHubsEmulator, ca_path: str
) -> None:
    async with serve_connect_proxy() as proxy:
        settings = {
            "proxy_hostname": "127.0.0.1",
            "proxy_port": proxy.port,
            "username": "user",
            "password": "pass",
        }
        options = over_websocket(tls_emulator, connection_verify=ca_path, http_proxy=settings)
        async with open_streaming_producer(**options) as producer:
            await producer.queue_for_send(b"through the proxy")
        await wait_for_events(tls_emulator, "eh1", 1)
    credentials = "Basic " + base64.b64encode(b"user:pass").decode()
    target = f"127.0.0.1:{tls_emulator.websocket_port}"
    assert proxy.requests
    assert set(proxy.requests) == {(target, credentials)}


async def test_a_proxy_that_refuses_is_a_clear_connect_error(
    tls_emulator: EventHubsEmulator, ca_path: str
) -> None:
    async with serve_connect_proxy(refuse=True) as proxy:
        settings = {"proxy_hostname": "127.0.0.1", "proxy_port": proxy.port}
        options = over_websocket(tls_emulator, connection_verify=ca_path, http_proxy=settings)
        with pytest.raises(ConnectError, match="the HTTP proxy refused the tunnel with 403"):
            async with open_streaming_producer(**options):
                pass  # pragma: no cover
    assert tls_emulator.connections_accepted == 0


async def test_an_endpoint_that_does_not_serve_websockets_is_a_clear_connect_error(
    tls_emulator: EventHubsEmulator, ca_path: str
) -> None:
    options = over_websocket(tls_emulator, connection_verify=ca_path)
    options["custom_endpoint_address"] = f"https://127.0.0.1:{tls_emulator.tls_port}"  # AMQP
    with pytest.raises(ConnectError, match="the WebSocket handshake failed"):
        async with open_streaming_producer(**options):
            pass  # pragma: no cover
