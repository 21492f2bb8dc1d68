"""Ordering, concurrent sends and backpressure."""

from __future__ import annotations

import anyio
import pytest

from anyio_eventhubs import RetryOptions, ServerBusyError, open_streaming_producer
from anyio_eventhubs.testing import InMemoryEventHub

from .helpers import Recorder, one_event_batch_hub, padded

pytestmark = pytest.mark.anyio

FAST_RETRY = RetryOptions(max_retries=5, delay=0, jitter=0)


async def test_one_send_per_partition_keeps_queue_order_across_retries() -> None:
    hub = InMemoryEventHub(2, max_message_size=200)
    hub.fail_next_sends(3, error=ServerBusyError, partition_id="1")
    async with open_streaming_producer(
        transport=hub, max_wait_time=0, retry_options=FAST_RETRY
    ) as producer:
        for i in range(60):
            await producer.queue_for_send(f"{i:03}", partition_id=str(i % 2))
    for pid in "01":
        bodies = hub.published_bodies(pid)
        assert bodies == sorted(bodies)
        assert len(bodies) == 30
    assert hub.batch_count("1") > 1


async def test_several_sends_per_partition_are_in_flight_at_once() -> None:
    hub = InMemoryEventHub(1, max_message_size=100)
    hub.hold_sends()
    async with open_streaming_producer(
        transport=hub, max_wait_time=0, max_concurrent_sends_per_partition=3
    ) as producer:
        for i in range(30):
            await producer.queue_for_send(b"%05d" % i)
        await hub.wait_sends_in_flight(3)
        await anyio.wait_all_tasks_blocked()
        assert hub.sends_in_flight == 3
        assert producer.statistics().in_flight == 18  # six 15-byte events a batch
        hub.release_sends()
    assert hub.published_count() == 30


async def test_one_send_per_partition_never_overlaps() -> None:
    hub = InMemoryEventHub(1, max_message_size=100)
    hub.hold_sends()
    async with open_streaming_producer(transport=hub, max_wait_time=0) as producer:
        for i in range(30):
            await producer.queue_for_send(b"%05d" % i)
        await hub.wait_sends_in_flight(1)
        await anyio.wait_all_tasks_blocked()
        assert hub.sends_in_flight == 1
        hub.release_sends()


async def test_max_concurrent_sends_bounds_batches_over_all_partitions() -> None:
    hub = InMemoryEventHub(4)
    hub.hold_sends()
    async with open_streaming_producer(
        transport=hub, max_wait_time=0, max_concurrent_sends=2
    ) as producer:
        for i in range(8):
            await producer.queue_for_send(b"e", partition_id=str(i % 4))
        await hub.wait_sends_in_flight(2)
        await anyio.wait_all_tasks_blocked()
        assert hub.sends_in_flight == 2
        hub.release_sends()
    assert hub.published_count() == 8


async def test_idempotent_retries_need_ordering() -> None:
    with pytest.raises(ValueError, match="max_concurrent_sends_per_partition=1"):
        async with open_streaming_producer(
            transport=InMemoryEventHub(1),
            enable_idempotent_retries=True,
            max_concurrent_sends_per_partition=2,
        ):
            pass


async def test_queued_count_covers_events_until_their_outcome() -> None:
    hub = InMemoryEventHub(1)
    hub.hold_sends()
    async with open_streaming_producer(
        transport=hub, max_wait_time=0, max_queued_events=3
    ) as producer:
        for _ in range(3):
            await producer.queue_for_send(b"e")
        await hub.wait_sends_in_flight(1)
        # all three are in flight, none has an outcome: counted until their outcome...
        assert producer.get_partition_queued_event_count("0") == 3
        assert producer.statistics().in_flight == 3
        # ...but only events behind the head batch take room (none here)
        assert producer.try_queue_for_send(b"more") is True
        assert producer.get_partition_queued_event_count("0") == 4
        hub.release_sends()
        await producer.flush()
        assert producer.get_partition_queued_event_count("0") == 0


async def test_queue_for_send_waits_for_room_and_resumes() -> None:
    hub = one_event_batch_hub()
    hub.hold_sends()
    bodies = [padded(b"%d" % i) for i in range(4)]
    async with open_streaming_producer(
        transport=hub, max_wait_time=None, max_queued_events=1
    ) as producer:
        await producer.queue_for_send(bodies[0])
        await producer.queue_for_send(bodies[1])
        await hub.wait_sends_in_flight(1)  # 0 in flight, 1 the head batch (full)
        await producer.queue_for_send(bodies[2])  # behind it: the partition is full
        accepted = anyio.Event()

        async def fourth() -> None:
            await producer.queue_for_send(bodies[3])
            accepted.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(fourth)
            await anyio.wait_all_tasks_blocked()
            assert not accepted.is_set()
            hub.release_sends()
        assert accepted.is_set()
    assert hub.published_bodies("0") == bodies


async def test_a_cancelled_wait_for_room_changes_nothing() -> None:
    hub = one_event_batch_hub()
    hub.hold_sends()
    rec = Recorder()
    kept = [padded(b"kept %d" % i) for i in range(3)]
    async with open_streaming_producer(
        transport=hub, max_wait_time=None, max_queued_events=1, **rec.handlers()
    ) as producer:
        await producer.queue_for_send(kept[0])
        await producer.queue_for_send(kept[1])
        await hub.wait_sends_in_flight(1)  # in flight, a full head batch...
        await producer.queue_for_send(kept[2])  # ...and one behind it: full
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(producer.queue_for_send, padded(b"cancelled"))
                await anyio.wait_all_tasks_blocked()
                scope.cancel()
        assert scope.cancelled_caught
        assert producer.total_queued_event_count == 3
        hub.release_sends()
    assert rec.published_events == kept
    assert hub.published_bodies("0") == kept


async def test_queue_for_send_is_a_cancellation_point() -> None:
    async with open_streaming_producer(transport=InMemoryEventHub(1)) as producer:
        with anyio.CancelScope() as scope:
            scope.cancel()
            await producer.queue_for_send(b"never")
        assert scope.cancelled_caught
        assert producer.total_queued_event_count == 0
