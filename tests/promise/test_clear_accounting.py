"""clear() accounts for every accepted event exactly once (issue #16, items 1 and 2)."""

from __future__ import annotations

import anyio
import pytest

from anyio_eventhubs import EventClearedError, open_streaming_producer
from anyio_eventhubs.testing import InMemoryEventHub

from ..helpers import Recorder

pytestmark = pytest.mark.anyio


async def test_clear_right_after_queueing_reports_every_event_once() -> None:
    # e0 reaches the batcher, which then waits for more; e1 and e2 follow and clear()
    # runs before the batcher wakes: e1 used to be handed to the waiting batcher,
    # missed by the drop, marked resolved, and never reported nor stored
    hub = InMemoryEventHub(1)
    rec = Recorder()
    async with open_streaming_producer(
        transport=hub, max_wait_time=1000, **rec.handlers()
    ) as producer:
        await producer.queue_for_send(b"e0")
        await anyio.wait_all_tasks_blocked()
        await producer.queue_for_send(b"e1")
        await producer.queue_for_send(b"e2")
        assert await producer.clear() == 3
        assert producer.total_queued_event_count == 0
        # the producer goes on: a later batch is not refused by the ledger
        await producer.queue_for_send(b"e3")
        await producer.flush()
    assert rec.failed_events == [b"e0", b"e1", b"e2"]
    assert all(isinstance(a.exception, EventClearedError) for a in rec.failed)
    assert rec.published_events == [b"e3"]
    assert hub.published_bodies("0") == [b"e3"]


async def test_clear_with_a_held_send_and_a_pending_flush_drops_everything_it_reports() -> None:
    hub = InMemoryEventHub(1)
    hub.hold_sends()
    rec = Recorder()
    async with open_streaming_producer(
        transport=hub, max_wait_time=None, **rec.handlers()
    ) as producer:
        for i in range(8):
            await producer.queue_for_send(b"a%d" % i)
        async with anyio.create_task_group() as tg:
            tg.start_soon(producer.flush)
            await hub.wait_sends_in_flight(1)
            for i in range(8):  # the batcher is waiting for these: clear() comes first
                await producer.queue_for_send(b"b%d" % i)
            dropped = await producer.clear()
            published_at_clear = hub.published_count()
        hub.release_sends()
        await producer.flush()
    assert dropped == 16
    assert published_at_clear == 0
    assert hub.published_count() == 0  # nothing went out after clear() said it dropped it
    assert len(rec.failed_events) == 16
    assert rec.published_events == []


async def test_concurrent_clears_count_each_event_once() -> None:
    hub = InMemoryEventHub(2)
    hub.hold_sends()
    rec = Recorder()
    async with open_streaming_producer(
        transport=hub, max_wait_time=None, **rec.handlers()
    ) as producer:
        for i in range(20):
            await producer.queue_for_send(b"%d" % i)
        async with anyio.create_task_group() as tg:
            tg.start_soon(producer.flush)
            await hub.wait_sends_in_flight(2)  # 20 events in flight, held
            for i in range(20, 60):
                await producer.queue_for_send(b"%d" % i)  # 40 queued
            counts: list[int] = []

            async def clear() -> None:
                counts.append(await producer.clear())

            tg.start_soon(clear)
            tg.start_soon(clear)
            tg.start_soon(clear)
        hub.release_sends()
    assert sum(counts) == 60
    assert sorted(rec.failed_events) == sorted(b"%d" % i for i in range(60))
    assert len(rec.failed_events) == 60


async def test_clear_and_flush_after_close_do_nothing() -> None:
    hub = InMemoryEventHub(2)
    async with open_streaming_producer(transport=hub) as producer:
        await producer.queue_for_send(b"x")
    assert await producer.clear() == 0
    await producer.flush()
    assert producer.total_queued_event_count == 0
    assert hub.published_count() == 1
