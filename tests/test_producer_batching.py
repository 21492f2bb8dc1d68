"""When batches go out and how big they are."""

from __future__ import annotations

import anyio
import pytest

from anyio_eventhubs import EventData, EventTooLargeError, open_streaming_producer
from anyio_eventhubs._encoding import batch_entry_size, encode_body
from anyio_eventhubs.testing import InMemoryEventHub

from .helpers import Recorder, trio_autojump

pytestmark = pytest.mark.anyio


async def test_batches_never_exceed_the_hubs_maximum_message_size() -> None:
    hub = InMemoryEventHub(1, max_message_size=300)
    rec = Recorder()
    body = b"x" * 50  # 60 bytes in a batch: four fit in 300 but not five
    async with open_streaming_producer(
        transport=hub, max_wait_time=None, **rec.handlers()
    ) as producer:
        for _ in range(22):
            await producer.queue_for_send(body)
    sizes = [len(args.events) for args in rec.succeeded]
    assert sum(sizes) == 22
    assert max(sizes) * batch_entry_size(len(encode_body(body))) <= 300
    assert sizes == [5, 5, 5, 5, 2]
    assert hub.batch_count() == len(sizes)


async def test_full_batches_go_out_without_waiting_for_max_wait_time() -> None:
    hub = InMemoryEventHub(1, max_message_size=300)
    rec = Recorder()
    async with open_streaming_producer(
        transport=hub, max_wait_time=None, **rec.handlers()
    ) as producer:
        for _ in range(6):  # five fill a batch; the sixth seals it
            await producer.queue_for_send(b"x" * 50)
        await rec.wait_outcomes(5)
        assert [len(a.events) for a in rec.succeeded] == [5]
        assert producer.get_partition_queued_event_count("0") == 1


@trio_autojump()
async def test_a_partial_batch_waits_exactly_max_wait_time_after_its_first_event() -> None:
    rec = Recorder()
    async with open_streaming_producer(
        transport=InMemoryEventHub(2), max_wait_time=0.25, **rec.handlers()
    ) as producer:
        start = anyio.current_time()
        await producer.queue_for_send(b"a", partition_id="0")
        await anyio.sleep(0.1)
        await producer.queue_for_send(b"b", partition_id="0")
        await rec.wait_outcomes(2)
        assert anyio.current_time() - start == pytest.approx(0.25, abs=1e-9)
        assert [len(a.events) for a in rec.succeeded] == [2]


async def test_a_partial_batch_is_not_sent_before_max_wait_time() -> None:
    rec = Recorder()
    async with open_streaming_producer(
        transport=InMemoryEventHub(1), max_wait_time=0.05, **rec.handlers()
    ) as producer:
        start = anyio.current_time()
        await producer.queue_for_send(b"a")
        await rec.wait_outcomes(1)
        assert anyio.current_time() - start >= 0.05


async def test_without_max_wait_time_a_partial_batch_waits_for_flush() -> None:
    hub = InMemoryEventHub(1)
    async with open_streaming_producer(transport=hub, max_wait_time=None) as producer:
        await producer.queue_for_send(b"a")
        await anyio.wait_all_tasks_blocked()
        assert hub.published_count() == 0
        await producer.flush()
        assert hub.published_count() == 1


async def test_an_oversized_event_is_refused_at_queue_time_and_the_partition_flows_on() -> None:
    hub = InMemoryEventHub(1, max_message_size=200)
    async with open_streaming_producer(transport=hub) as producer:
        await producer.queue_for_send(b"before")
        with pytest.raises(
            EventTooLargeError, match=r"(?s)is 316 bytes.*maximum message size of 200"
        ) as info:
            await producer.queue_for_send(b"x" * 300)
        assert (info.value.size, info.value.max_size) == (316, 200)
        assert isinstance(info.value, ValueError)
        with pytest.raises(EventTooLargeError):
            producer.try_queue_for_send(EventData(b"y" * 300))
        await producer.queue_for_send(b"after")
        assert producer.total_queued_event_count == 2
    assert hub.published_bodies("0") == [b"before", b"after"]


async def test_events_are_handed_to_handlers_as_queued() -> None:
    rec = Recorder()
    data = EventData(b"ed")
    async with open_streaming_producer(transport=InMemoryEventHub(1), **rec.handlers()) as producer:
        await producer.queue_for_send(b"raw")
        await producer.queue_for_send("text")
        await producer.queue_for_send(data)
    assert rec.published_events[0] == b"raw"
    assert rec.published_events[1] == "text"
    assert rec.published_events[2] is data
