"""The network options of ``open_streaming_producer``: in the signature, checked, passed on."""

from __future__ import annotations

import inspect
import logging
import ssl
import sys
from typing import Any

import pytest
from azure.core.credentials import AzureNamedKeyCredential
from azure.eventhub import TransportType
from azure.eventhub.aio import EventHubProducerClient

import anyio_eventhubs
from anyio_eventhubs import open_streaming_producer
from anyio_eventhubs._azure import AzureTransport, azure_transport
from anyio_eventhubs.testing import InMemoryEventHub
from anyio_eventhubs.testing.emulator import EventHubsEmulator

from ..azure.conftest import emulator  # noqa: F401 - the fixture

NETWORK_OPTIONS = (
    "fully_qualified_namespace",
    "credential",
    "client",
    "open_timeout",
    "transport_type",
    "http_proxy",
    "custom_endpoint_address",
    "connection_verify",
    "ssl_context",
    "user_agent",
)
CS = "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=s;EntityPath=h"
PROXY: dict[str, str | int] = {"proxy_hostname": "proxy.example", "proxy_port": 3128}


def config_of(transport: AzureTransport) -> Any:
    return transport._source.make()._config


def test_every_option_is_a_typed_keyword_only_parameter() -> None:
    parameters = inspect.signature(open_streaming_producer).parameters
    assert not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    for name in NETWORK_OPTIONS:
        assert parameters[name].kind is inspect.Parameter.KEYWORD_ONLY, name
        assert parameters[name].annotation not in (inspect.Parameter.empty, "Any"), name
        assert f":param {name}:" in (open_streaming_producer.__doc__ or ""), name


def test_the_options_reach_the_client() -> None:
    context = ssl.create_default_context()
    config = config_of(
        azure_transport(
            CS,
            transport_type=TransportType.AmqpOverWebsocket,
            http_proxy=PROXY,
            custom_endpoint_address="https://gateway.example:8443",
            ssl_context=context,
            user_agent="my-app/1.0",
        )
    )
    assert config.transport_type == TransportType.AmqpOverWebsocket
    assert config.http_proxy == {"proxy_hostname": "http://proxy.example", "proxy_port": 3128}
    assert config.custom_endpoint_hostname == "gateway.example"
    assert config.connection_port == 8443
    assert config.ssl_context is context
    assert config.user_agent == f"anyio-eventhubs/{anyio_eventhubs.__version__} my-app/1.0"
    verify = config_of(azure_transport(CS, connection_verify="/etc/ssl/ca.pem"))
    assert verify.connection_verify == "/etc/ssl/ca.pem"
    assert verify.transport_type == TransportType.Amqp


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"http_proxy": {"proxy_hostname": "p"}}, ValueError, r"missing \['proxy_port'\]"),
        ({"http_proxy": {**PROXY, "pasword": "x"}}, ValueError, r"unknown \['pasword'\]"),
        (
            {"http_proxy": PROXY, "transport_type": TransportType.Amqp},
            ValueError,
            "needs transport_type=TransportType.AmqpOverWebsocket",
        ),
        (
            {"ssl_context": ssl.create_default_context(), "connection_verify": "ca.pem"},
            ValueError,
            "not both",
        ),
        ({"transport_type": "websocket"}, TypeError, "transport_type must be"),
        ({"http_proxy": "http://p:3128"}, TypeError, "http_proxy must be a dict"),
        ({"ssl_context": "ca.pem"}, TypeError, "ssl_context must be an ssl.SSLContext"),
        ({"connection_verify": True}, TypeError, "connection_verify must be a str"),
        ({"user_agent": 7}, TypeError, "user_agent must be a str"),
    ],
)
def test_bad_network_options_are_named(
    options: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        azure_transport(CS, **options)


@pytest.mark.anyio
async def test_network_options_with_a_transport_are_refused() -> None:
    with pytest.raises(ValueError, match=r"do not also give \['http_proxy'\]"):
        async with open_streaming_producer(transport=InMemoryEventHub(), http_proxy=PROXY):
            pass  # pragma: no cover


@pytest.fixture
def without_aiohttp(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "aiohttp", None)  # import aiohttp raises ImportError


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"transport_type": TransportType.AmqpOverWebsocket}, id="transport_type"),
        pytest.param({"http_proxy": PROXY}, id="http_proxy"),
        pytest.param({"custom_endpoint_address": "https://gw.example"}, id="custom-endpoint"),
    ],
)
@pytest.mark.usefixtures("without_aiohttp")
def test_websockets_without_the_extra_name_it(options: dict[str, Any]) -> None:
    with pytest.raises(ImportError, match=r"pip install 'anyio-eventhubs\[websockets\]'"):
        azure_transport(CS, **options)


@pytest.mark.usefixtures("without_aiohttp")
def test_amqp_over_tls_needs_no_extra() -> None:
    azure_transport(CS, transport_type=TransportType.Amqp)
    azure_transport(
        CS, custom_endpoint_address="sb://gw.example", transport_type=TransportType.Amqp
    )


@pytest.mark.anyio
@pytest.mark.usefixtures("without_aiohttp")
async def test_a_websocket_client_without_the_extra_names_it() -> None:
    client = EventHubProducerClient.from_connection_string(
        CS, transport_type=TransportType.AmqpOverWebsocket
    )
    try:
        with pytest.raises(ImportError, match=r"anyio-eventhubs\[websockets\]"):
            async with open_streaming_producer(client=client):
                pass  # pragma: no cover
    finally:
        await client.close()


@pytest.mark.anyio
async def test_the_user_agent_reaches_the_service(emulator: EventHubsEmulator) -> None:  # noqa: F811
    async with open_streaming_producer(emulator.connection_string("eh1"), user_agent="my-app/1.0"):
        pass
    agents = {info.user_agent for info in emulator.connection_info()} - {None}
    assert agents
    prefix = f"anyio-eventhubs/{anyio_eventhubs.__version__} my-app/1.0 "
    assert all(agent is not None and agent.startswith(prefix) for agent in agents)


@pytest.mark.anyio
async def test_each_connection_step_is_logged_at_debug(
    emulator: EventHubsEmulator,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="anyio_eventhubs")
    credential = AzureNamedKeyCredential(emulator.key_name, emulator.key or "")
    namespace = f"127.0.0.1:{emulator.port}"
    async with open_streaming_producer(
        fully_qualified_namespace=namespace, eventhub_name="eh1", credential=credential
    ):
        pass
    steps = [r.getMessage() for r in caplog.records if r.name == "anyio_eventhubs"]
    context = f"opening Event Hub 'eh1' of {namespace}"
    assert f"{context}: building the client (credential=AzureNamedKeyCredential)" in steps
    assert (
        f"{context}: connecting (AMQP, no TLS, {namespace}), authenticating and reading "
        "the partition ids"
    ) in steps
    assert f"{context}: partitions ['0', '1', '2', '3']; opening a link to each" in steps
    assert any(s.startswith(f"{context}: open, 4 link(s), max message size") for s in steps)
    assert emulator.key is not None
    assert emulator.key not in " ".join(steps)


def test_a_custom_endpoint_over_amqp_needs_azure_eventhub_5_14(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Before 5.14, azure-eventhub silently went over WebSockets for a custom endpoint."""
    import anyio_eventhubs._azure as azure

    monkeypatch.setattr(azure, "_AZURE_EVENTHUB_MINOR", (5, 13))
    with pytest.raises(ValueError, match=r"needs azure-eventhub>=5.14"):
        azure_transport(
            CS, custom_endpoint_address="sb://gw.example", transport_type=TransportType.Amqp
        )
    azure_transport(CS, custom_endpoint_address="https://gw.example")  # WebSockets: fine
