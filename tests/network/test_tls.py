"""AMQP over TLS against the emulator's TLS port, with a test CA (trustme)."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest

from anyio_eventhubs import ConnectError, RetryOptions, open_streaming_producer
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


class CountedLoads:
    """Counts the CA bundles loaded into TLS contexts (``load_verify_locations``)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.paths: list[object] = []
        load = ssl.SSLContext.load_verify_locations

        def counted(context: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
            self.paths.append(args[0] if args else kwargs.get("cafile"))
            load(context, *args, **kwargs)

        monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counted)


async def test_every_connection_of_a_producer_shares_one_tls_context(
    tls_emulator: EventHubsEmulator, ca_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # pyamqp would build a context and load the bundle for each connection: tens of ms
    # of CPU, and about 0.8 MiB that its reference cycles keep until a full collection
    loads = CountedLoads(monkeypatch)
    before = tls_emulator.connections_accepted
    tls_emulator.faults.drop_connection_on_next_transfer(eventhub_name="eh1", partition_id="0")
    async with open_streaming_producer(
        **over_tls(tls_emulator, connection_verify=ca_path),
        max_wait_time=None,
        retry_options=RetryOptions(delay=0.01, jitter=0),
    ) as producer:
        await producer.queue_for_send(b"before the drop", partition_id="0")
        await producer.flush()
        await producer.queue_for_send(b"after the drop", partition_id="0")
        await producer.flush()
        assert producer.statistics().published == 2
    assert tls_emulator.connections_accepted - before == 2  # the first, and the one reopened
    assert loads.paths == [ca_path]


async def test_plain_amqp_loads_no_ca_bundle(
    tls_emulator: EventHubsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads = CountedLoads(monkeypatch)
    async with open_streaming_producer(tls_emulator.connection_string("eh1")) as producer:
        await producer.queue_for_send(b"plain")
        await producer.flush()
        assert producer.statistics().published == 1
    assert loads.paths == []


async def test_a_missing_ca_bundle_fails_the_open_clearly(
    tls_emulator: EventHubsEmulator, tmp_path: Path
) -> None:
    missing = str(tmp_path / "missing.pem")
    with pytest.raises(ConnectError, match="No such file") as info:
        async with open_streaming_producer(**over_tls(tls_emulator, connection_verify=missing)):
            pass  # pragma: no cover
    assert missing in str(info.value)
