"""Every way that opening can fail is a ConnectError that says what happened."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from typing import Any

import anyio
import pytest
from anyio.abc import SocketStream
from azure.core.credentials import AzureNamedKeyCredential

from anyio_eventhubs import ConnectError, EventHubsError, open_streaming_producer
from anyio_eventhubs.testing.emulator import EventHubsEmulator

from ._servers import answer_garbage, answer_http, answer_nothing, open_peer
from .conftest import NAMESPACE, over_tls, plain_connection_string

pytestmark = pytest.mark.anyio


async def expect_connect_error(match: str, **options: Any) -> ConnectError:
    options.setdefault("open_timeout", 10)
    with pytest.raises(ConnectError, match=match) as info:
        async with open_streaming_producer(**options):
            pass  # pragma: no cover
    assert isinstance(info.value, EventHubsError)
    return info.value


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_a_refused_connection() -> None:
    error = await expect_connect_error(
        "the connection was refused", connection_string=plain_connection_string(closed_port())
    )
    assert "opening Event Hub 'eh1' of 127.0.0.1:" in str(error)


async def test_a_name_that_does_not_resolve() -> None:
    await expect_connect_error(
        r"the host name could not be resolved \(DNS",
        fully_qualified_namespace="no-such-namespace.invalid",
        eventhub_name="eh1",
        credential=AzureNamedKeyCredential("key-name", "key"),
    )


@pytest.mark.parametrize(
    "answer",
    [pytest.param(answer_http, id="http"), pytest.param(answer_garbage, id="garbage")],
)
async def test_a_peer_that_does_not_speak_amqp(answer: Callable[[SocketStream], Any]) -> None:
    async with open_peer(answer) as port:
        error = await expect_connect_error(
            "the peer does not speak AMQP", connection_string=plain_connection_string(port)
        )
    assert not isinstance(error.__cause__, ValueError) or "frame" in str(error.__cause__)


async def test_a_tls_peer_where_plain_amqp_was_expected(server_context: ssl.SSLContext) -> None:
    async with open_peer(answer_http, ssl_context=server_context) as port:
        await expect_connect_error(
            "expects TLS where the client spoke plain AMQP",
            connection_string=plain_connection_string(port),
        )


async def test_a_plain_peer_where_tls_was_expected(
    tls_emulator: EventHubsEmulator, ca_path: str
) -> None:
    options = over_tls(tls_emulator, connection_verify=ca_path)
    options["custom_endpoint_address"] = f"sb://127.0.0.1:{tls_emulator.port}"  # the plain port
    await expect_connect_error("the peer does not speak TLS on this port", **options)


async def test_a_silent_peer_is_bounded_by_open_timeout() -> None:
    async with open_peer(answer_nothing) as port:
        started = anyio.current_time()
        await expect_connect_error(
            r"within open_timeout=0.5s",
            connection_string=plain_connection_string(port),
            open_timeout=0.5,
        )
        assert anyio.current_time() - started < 5


def test_the_namespace_in_these_tests_uses_tls() -> None:
    from anyio_eventhubs._azure._connection_string import is_local_emulator

    assert not is_local_emulator(NAMESPACE)
