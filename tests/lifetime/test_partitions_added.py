"""Partitions added to a hub at runtime, through the azure transport and the emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from anyio_eventhubs import open_streaming_producer, partition_for_key
from anyio_eventhubs.testing.emulator import EventHubsEmulator

from ..emulator_fixtures import (
    _collect_garbage_after_each_test,  # noqa: F401
    running_emulator,
)
from ..helpers import Recorder

pytestmark = pytest.mark.anyio


@pytest.fixture
def emulator() -> Iterator[EventHubsEmulator]:
    with running_emulator({"eh1": 2}, small_partitions=1) as emulator:
        yield emulator


@pytest.mark.parametrize("idempotent", [False, True])
async def test_new_partitions_join_the_round_robin_and_the_key_mapping(
    emulator: EventHubsEmulator, idempotent: bool
) -> None:
    rec = Recorder()
    async with open_streaming_producer(
        emulator.connection_string("eh1"),
        enable_idempotent_retries=idempotent,
        max_wait_time=None,
        **rec.handlers(),
    ) as producer:
        assert await producer.get_partition_ids() == ["0", "1"]
        assert emulator.add_partitions("eh1", 2) == ["2", "3"]
        assert await producer.get_partition_ids() == ["0", "1", "2", "3"]
        for i in range(8):
            await producer.queue_for_send(b"rr%d" % i)
        keys = [f"k{i}" for i in range(20)]
        for key in keys:
            await producer.queue_for_send(key.encode(), partition_key=key)
    assert not rec.failed
    for pid in "0123":
        bodies = [e.body for e in emulator.published_events("eh1", pid)]
        assert any(b.startswith(b"rr") for b in bodies), pid
    for key in keys:  # where the emulator (as the service) puts the key with 4 partitions
        stored = emulator.published_events("eh1", partition_for_key(key, ["0", "1", "2", "3"]))
        assert key.encode() in [e.body for e in stored]
