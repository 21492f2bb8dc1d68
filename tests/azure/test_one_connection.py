"""One AMQP connection per producer: CBS, ``$management`` and every partition's link on it."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from azure.core.credentials import AccessToken
from azure.eventhub.aio import EventHubProducerClient

from anyio_eventhubs import RetryOptions, open_streaming_producer
from anyio_eventhubs._azure import azure_transport
from anyio_eventhubs._azure_amqp_token import refresh_token
from anyio_eventhubs.testing.emulator import EventHubsEmulator

from .conftest import namespace, wait_until

pytestmark = pytest.mark.anyio

PARTITION_COUNTS = (4, 32, 128)


@pytest.fixture(scope="module")
def many_partitions() -> Iterator[EventHubsEmulator]:
    """Hubs ``p4``, ``p32`` and ``p128``; shared by this module's tests (each its own hub
    or its own events)."""
    with EventHubsEmulator({f"p{n}": n for n in PARTITION_COUNTS}) as emulator:
        yield emulator


class ShortLivedToken:
    """A token credential (the emulator does not check JWTs) counting its calls."""

    def __init__(self) -> None:
        self.calls = 0

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.calls += 1
        return AccessToken(f"jwt-{self.calls}", int(time.time()) + 3600)


@pytest.mark.parametrize("partitions", PARTITION_COUNTS)
async def test_one_connection_carries_every_partition(
    many_partitions: EventHubsEmulator, partitions: int
) -> None:
    emulator = many_partitions
    hub = f"p{partitions}"
    before = emulator.connections_accepted
    known = {info.connection_id for info in emulator.connection_info()}
    async with open_streaming_producer(
        emulator.connection_string(hub), max_wait_time=None
    ) as producer:
        for i in range(partitions * 2):  # round robin: two events per partition
            await producer.queue_for_send(b"%d" % i)
        await producer.flush()
        assert producer.statistics().published == partitions * 2
    assert emulator.connections_accepted - before == 1
    (info,) = [i for i in emulator.connection_info() if i.connection_id not in known]
    senders = {address for address in info.links if "/Partitions/" in address}
    assert len(senders) == partitions  # every partition's link, on that one connection
    assert any(address.endswith("$cbs") for address in info.links)
    assert any(address.endswith("$management") for address in info.links)
    for pid in range(partitions):
        assert emulator.event_count(hub, str(pid)) >= 2


async def test_a_lost_connection_is_opened_again_once_for_all_partitions(
    many_partitions: EventHubsEmulator,
) -> None:
    emulator = many_partitions
    before = emulator.connections_accepted
    dropped = emulator.faults.fired().get("drop_connection", 0)
    emulator.faults.drop_connection_on_next_transfer(eventhub_name="p4", partition_id="1")
    async with open_streaming_producer(
        emulator.connection_string("p4"),
        max_wait_time=None,
        retry_options=RetryOptions(delay=0.01, jitter=0),
    ) as producer:
        for i in range(8):
            await producer.queue_for_send(b"again-%d" % i, partition_id=str(i % 4))
        await producer.flush()
        assert producer.statistics().published == 8
        for i in range(8):
            await producer.queue_for_send(b"later-%d" % i, partition_id=str(i % 4))
        await producer.flush()
        assert producer.statistics().failed == 0
    assert emulator.faults.fired()["drop_connection"] == dropped + 1
    assert emulator.connections_accepted - before == 2  # the first, and the one reopened
    for pid in "0123":
        bodies = {e.body for e in emulator.published_events("p4", pid)}
        assert {b"again-%s" % pid.encode(), b"later-%s" % pid.encode()} <= bodies


async def test_new_partitions_are_read_and_attached_on_the_one_connection(
    emulator: EventHubsEmulator,
) -> None:
    before = emulator.connections_accepted
    async with open_streaming_producer(
        emulator.connection_string("eh2"),
        max_wait_time=None,
        refresh_partitions_every=None,
        retry_options=RetryOptions(delay=0.01, jitter=0),
    ) as producer:
        assert await producer.get_partition_ids() == ["0", "1"]
        emulator.add_partitions("eh2", 2)  # and detaches the producer's links
        assert await producer.get_partition_ids() == ["0", "1", "2", "3"]
        for pid in "0123":
            await producer.queue_for_send(b"to-" + pid.encode(), partition_id=pid)
        await producer.flush()
        assert producer.statistics().published == 4
    assert emulator.connections_accepted - before == 1
    for pid in "0123":
        assert [e.body for e in emulator.published_events("eh2", pid)] == [b"to-" + pid.encode()]


async def test_the_token_of_the_hub_is_put_again_when_it_is_due(
    many_partitions: EventHubsEmulator,
) -> None:
    emulator = many_partitions
    credential = ShortLivedToken()
    transport = azure_transport(
        fully_qualified_namespace=namespace(emulator), eventhub_name="p4", credential=credential
    )
    async with transport.connect() as connection:
        assert credential.calls == 2  # the CBS put, and the $management request's token
        one = connection._one
        assert one is not None
        shared = one.current
        assert shared is not None
        cbs = shared.management._cbs_authenticator
        assert cbs._auth.audience == f"sb://{namespace(emulator)}/p4"  # the hub's audience

        async def come_due() -> float:
            cbs._expires_on = int(time.time()) + 30  # within its refresh window
            return await refresh_token(shared)

        delay = await connection._bridge.run(come_due)
        assert credential.calls == 3  # a fresh token, put on the connection
        assert 1 <= delay <= 60  # the next look, well before the new token is due
        assert await connection._bridge.run(refresh_token, shared) == delay  # not due: no put
        assert credential.calls == 3


async def test_a_callers_client_keeps_its_connection_per_partition(
    emulator: EventHubsEmulator, connection_string: str
) -> None:
    client = EventHubProducerClient.from_connection_string(connection_string)
    try:
        async with open_streaming_producer(client=client, max_wait_time=None) as producer:
            for i in range(4):
                await producer.queue_for_send(b"%d" % i)
            await producer.flush()
    finally:
        await client.close()
    await wait_until(emulator, lambda: emulator.connections_open == 0, "closed")
    assert emulator.connections_accepted == 5  # the management read's, and 4 partitions'


async def test_closing_stops_the_connections_jobs(emulator: EventHubsEmulator) -> None:
    transport = azure_transport(emulator.connection_string("eh1"))
    with anyio.fail_after(10):
        async with transport.connect() as connection:
            one = connection._one
            assert one is not None
            shared = one.current
            assert shared is not None
        assert shared.dead
        assert not one._jobs
    await wait_until(emulator, lambda: emulator.connections_open == 0, "closed")


@pytest.mark.slow
def test_the_connection_setup_benchmark_runs() -> None:
    """A tiny run, so that ``benchmarks/connection_setup.py`` cannot rot (no timing checked)."""
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "connection_setup.py"
    done = subprocess.run(
        [sys.executable, str(script), "--partitions", "2", "--repeats", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines()[1:]]
    connections = {(row[0], row[2]): row[-1] for row in rows}
    assert connections == {
        ("asyncio", "one"): "[1]",
        ("asyncio", "per-partition"): "[3]",
        ("trio", "one"): "[1]",
        ("trio", "per-partition"): "[3]",
    }
