"""AMQP over TLS against the emulator's TLS port, with a test CA (trustme)."""

from __future__ import annotations

import ssl

import pytest

from anyio_eventhubs import ConnectError, open_streaming_producer
from anyio_eventhubs.testing.emulator import EventHubsEmulator

from ..azure.conftest import wait_for_events
from .conftest import over_tls

pytestmark = pytest.mark.anyio


async def test_connection_verify_trusts_the_given_ca(
    tls_emulator: EventHubsEmulator, ca_path: str
) -> None:
    async with open_streaming_producer(**over_tls(tls_emulator, connection_verify=ca_path)) as p:
        await p.queue_for_send(b"over tls")
    await wait_for_events(tls_emulator, "eh1", 1)
    assert tls_emulator.all_events("eh1")[0].body == b"over tls"


async def test_an_ssl_context_is_used_for_the_connection(
    tls_emulator: EventHubsEmulator, ca_path: str
) -> None:
    context = ssl.create_default_context(cafile=ca_path)
    async with open_streaming_producer(**over_tls(tls_emulator, ssl_context=context)) as p:
        await p.queue_for_send(b"with a context")
    await wait_for_events(tls_emulator, "eh1", 1)


async def test_a_certificate_from_another_ca_fails_verification_clearly(
    tls_emulator: EventHubsEmulator, other_ca_path: str
) -> None:
    with pytest.raises(ConnectError, match="certificate failed verification") as info:
        async with open_streaming_producer(
            **over_tls(tls_emulator, connection_verify=other_ca_path)
        ):
            pass  # pragma: no cover
    assert "connection_verify=" in str(info.value)
    assert "opening Event Hub 'eh1' of localhost" in str(info.value)


async def test_the_system_cas_do_not_trust_a_private_ca(tls_emulator: EventHubsEmulator) -> None:
    with pytest.raises(ConnectError, match="certificate failed verification"):
        async with open_streaming_producer(**over_tls(tls_emulator)):
            pass  # pragma: no cover
