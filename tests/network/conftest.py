"""Fixtures for the network tests: a test CA (trustme), an emulator serving TLS and
AMQP over WebSocket, and the options that reach it."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from typing import Any

import pytest
import trustme
from azure.core.credentials import AzureNamedKeyCredential
from azure.eventhub import TransportType

from anyio_eventhubs.testing.emulator import EventHubsEmulator

from ..emulator_fixtures import _collect_garbage_after_each_test  # noqa: F401 - autouse

#: the namespace the client believes it talks to (TLS on: not a loopback with a port)
NAMESPACE = "localhost"


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_path(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture(scope="session")
def other_ca_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A CA that did not sign the emulator's certificate."""
    path = tmp_path_factory.mktemp("other-ca") / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture(scope="session")
def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture
def tls_emulator(server_context: ssl.SSLContext) -> Iterator[EventHubsEmulator]:
    """An emulator with hub ``eh1`` (2 partitions) on plain TCP, TLS and ``wss://``."""
    with EventHubsEmulator({"eh1": 2}, tls=server_context, websocket_port=0) as emulator:
        yield emulator


def credential(emulator: EventHubsEmulator) -> AzureNamedKeyCredential:
    assert emulator.key is not None
    return AzureNamedKeyCredential(emulator.key_name, emulator.key)


def over_tls(emulator: EventHubsEmulator, **more: Any) -> dict[str, Any]:
    """Options for AMQP over TLS to the emulator's TLS port (through a custom endpoint)."""
    return {
        "fully_qualified_namespace": NAMESPACE,
        "eventhub_name": "eh1",
        "credential": credential(emulator),
        "custom_endpoint_address": f"sb://127.0.0.1:{emulator.tls_port}",
        "transport_type": TransportType.Amqp,
        "open_timeout": 10,
        **more,
    }


def over_websocket(emulator: EventHubsEmulator, **more: Any) -> dict[str, Any]:
    """Options for AMQP over WebSocket (``wss://``) to the emulator's WebSocket port."""
    return {
        "fully_qualified_namespace": NAMESPACE,
        "eventhub_name": "eh1",
        "credential": credential(emulator),
        "custom_endpoint_address": f"https://127.0.0.1:{emulator.websocket_port}",
        "transport_type": TransportType.AmqpOverWebsocket,
        "open_timeout": 10,
        **more,
    }


def plain_connection_string(port: int) -> str:
    """A connection string for plain AMQP (UseDevelopmentEmulator) to 127.0.0.1:*port*."""
    return (
        f"Endpoint=sb://127.0.0.1:{port};SharedAccessKeyName=emulator;"
        "SharedAccessKey=emulator-key;EntityPath=eh1;UseDevelopmentEmulator=true"
    )
