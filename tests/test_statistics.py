from __future__ import annotations

import dataclasses

import pytest

from anyio_eventhubs import AuthenticationError, open_streaming_producer
from anyio_eventhubs.testing import InMemoryEventHub

pytestmark = pytest.mark.anyio


async def test_statistics_are_a_frozen_snapshot_of_every_counter() -> None:
    hub = InMemoryEventHub(2)
    hub.fail_next_sends(1, error=AuthenticationError, partition_id="1")
    async with open_streaming_producer(
        transport=hub, max_wait_time=None, on_publish_failed=lambda a: None
    ) as producer:
        for i in range(6):
            await producer.queue_for_send(b"%d" % i, partition_id=str(i % 2))
        before = producer.statistics()
        assert (before.queued, before.in_flight, before.published) == (6, 0, 0)
        assert producer.total_queued_event_count == 6
        assert producer.get_partition_queued_event_count("0") == 3
        await producer.flush()
        after = producer.statistics()
    assert before.queued == 6  # the snapshot did not move
    assert (after.queued, after.in_flight, after.published, after.failed) == (0, 0, 3, 3)
    assert (after.batches_published, after.batches_failed) == (1, 1)
    assert after.partitions["0"].published == 3
    assert after.partitions["1"].failed == 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        after.queued = 1  # type: ignore[misc]
    assert "published=3" in repr(producer)
    assert "failed=3" in repr(producer)


async def test_in_memory_hub_serves_several_producers() -> None:
    hub = InMemoryEventHub(1)
    async with open_streaming_producer(transport=hub) as a:
        await a.queue_for_send(b"a")
    async with open_streaming_producer(transport=hub) as b:
        await b.queue_for_send(b"b")
    assert hub.published_bodies("0") == [b"a", b"b"]
    assert hub.connections_opened == 2
    assert "stored=2" in repr(hub)
