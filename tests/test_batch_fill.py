"""How full a batch gets does not depend on ``max_queued_events``.

``max_queued_events`` counts, per partition, the events waiting *behind* the head batch
(as .NET's buffered producer counts only what is still in its channel): the head batch
is bounded by the hub's message size and the batches in flight by the send slots. Each
test of the first part fails under the earlier rule (every accepted event without an
outcome counts). ``EventData`` keeps that earlier bound (the last part): the producer
holds the caller's object until its outcome.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import anyio
import pytest
from azure.eventhub import EventData

from anyio_eventhubs import open_streaming_producer
from anyio_eventhubs._encoding import BATCH_ENVELOPE_SIZE, batch_entry_size, encode_body
from anyio_eventhubs.testing import InMemoryEventHub

from .helpers import Recorder

pytestmark = pytest.mark.anyio

BODY_SIZE = 20
#: a hub whose batches hold exactly PER_BATCH events of BODY_SIZE bytes
PER_BATCH = 4
ENTRY = batch_entry_size(len(encode_body(b"x" * BODY_SIZE)))
MAX_MESSAGE_SIZE = BATCH_ENVELOPE_SIZE + PER_BATCH * ENTRY


def body(i: int) -> bytes:
    return b"%0*d" % (BODY_SIZE, i)


def small_batch_hub(partitions: int = 1) -> InMemoryEventHub:
    return InMemoryEventHub(partitions, max_message_size=max(64, MAX_MESSAGE_SIZE))


@contextmanager
def released_at_exit(hub: InMemoryEventHub) -> Iterator[None]:
    """Release held sends however the block ends (a failed assertion must not leave the
    producer's close waiting for them)."""
    try:
        yield
    finally:
        hub.release_sends()


def test_the_hub_cuts_batches_of_per_batch_events() -> None:
    assert MAX_MESSAGE_SIZE >= 64
    assert BATCH_ENVELOPE_SIZE + (PER_BATCH + 1) * ENTRY > MAX_MESSAGE_SIZE


async def test_batches_fill_to_the_message_size_with_max_queued_events_1() -> None:
    hub = small_batch_hub()
    rec = Recorder()
    async with open_streaming_producer(
        transport=hub, max_wait_time=None, max_queued_events=1, **rec.handlers()
    ) as producer:
        for i in range(3 * PER_BATCH):
            await producer.queue_for_send(body(i))
    # earlier: one event per batch (a partition held at most one without an outcome)
    assert [len(args.events) for args in rec.succeeded] == [PER_BATCH] * 3
    assert hub.published_bodies("0") == [body(i) for i in range(3 * PER_BATCH)]


async def test_events_in_flight_and_in_the_head_batch_do_not_count() -> None:
    hub = small_batch_hub()
    hub.hold_sends()
    async with open_streaming_producer(
        transport=hub, max_wait_time=None, max_queued_events=2
    ) as producer:
        accepted = 0
        with released_at_exit(hub):
            while producer.try_queue_for_send(body(accepted)):  # no yield: no batcher
                accepted += 1
            # a full head batch, then max_queued_events behind it
            assert accepted == PER_BATCH + 2
            await hub.wait_sends_in_flight(1)  # the full head batch went out
            stats = producer.statistics()
            assert (stats.in_flight, stats.queued) == (PER_BATCH, 2)
            # the two behind it are now the head batch: it fills, two more wait behind
            while producer.try_queue_for_send(body(accepted)):
                accepted += 1
            assert accepted == 2 * PER_BATCH + 2
            assert producer.get_partition_queued_event_count("0") == accepted
    assert hub.published_bodies("0") == [body(i) for i in range(accepted)]


async def test_taking_a_batch_frees_room_before_any_outcome() -> None:
    hub = small_batch_hub()
    hub.hold_sends()
    rec = Recorder()
    async with open_streaming_producer(
        transport=hub,
        max_wait_time=None,
        max_queued_events=1,
        max_concurrent_sends_per_partition=2,
        **rec.handlers(),
    ) as producer:
        with released_at_exit(hub):
            for i in range(PER_BATCH + 1):  # a full head batch and one behind it
                assert producer.try_queue_for_send(body(i))
            assert not producer.try_queue_for_send(b"refused")
            # waits until the batcher takes the head batch (a free send slot), not for
            # an outcome: every send stays held throughout
            with anyio.fail_after(5):
                await producer.queue_for_send(body(PER_BATCH + 1))
            await hub.wait_sends_in_flight(1)
            assert rec.outcomes() == 0
    assert rec.outcomes() == PER_BATCH + 2


async def test_queue_many_fills_batches_past_max_queued_events() -> None:
    hub = small_batch_hub()
    rec = Recorder()
    events = [body(i) for i in range(5 * PER_BATCH)]
    async with open_streaming_producer(
        transport=hub, max_wait_time=None, max_queued_events=1, **rec.handlers()
    ) as producer:
        await producer.queue_many_for_send(events)
    assert [len(args.events) for args in rec.succeeded] == [PER_BATCH] * 5
    assert hub.published_bodies("0") == events


async def test_try_queue_many_accepts_the_head_batch_and_max_queued_events() -> None:
    hub = small_batch_hub()
    hub.hold_sends()
    async with open_streaming_producer(
        transport=hub, max_wait_time=None, max_queued_events=3
    ) as producer:
        events = [body(i) for i in range(3 * PER_BATCH)]
        with released_at_exit(hub):
            assert producer.try_queue_many_for_send(events) == PER_BATCH + 3
    assert hub.published_bodies("0") == events[: PER_BATCH + 3]


# -- EventData counts from acceptance until its outcome (the producer holds the object) --


def event_data(i: int) -> EventData:
    return EventData(body(i))


async def test_event_data_without_outcome_fills_a_partition_with_an_empty_backlog() -> None:
    hub = small_batch_hub()
    hub.hold_sends()  # (a handler: the producer holds the EventData for it)
    async with open_streaming_producer(
        transport=hub, max_wait_time=None, max_queued_events=2, **Recorder().handlers()
    ) as producer:
        with released_at_exit(hub):
            assert producer.try_queue_for_send(event_data(0))
            assert producer.try_queue_for_send(event_data(1))
            # both in the (not full) head batch: nothing behind it, yet no room
            assert producer._parts["0"].queue.backlog == 0
            assert not producer.try_queue_for_send(event_data(2))
            assert not producer.try_queue_for_send(b"bytes too")  # the rule is per partition
            assert producer.try_queue_many_for_send([b"x", event_data(3)]) == 0
            with anyio.fail_after(5):  # the refusal flushed the partial head batch
                await hub.wait_sends_in_flight(1)
    assert len(hub.published_bodies("0")) == 2


async def test_waiting_for_event_data_room_sends_the_partial_head_batch() -> None:
    hub = small_batch_hub()
    rec = Recorder()
    async with open_streaming_producer(
        transport=hub, max_wait_time=None, max_queued_events=1, **rec.handlers()
    ) as producer:
        with anyio.fail_after(5):  # no deadline: only the flush on waiting sends them
            for i in range(3):
                await producer.queue_for_send(event_data(i))
            await producer.queue_many_for_send([event_data(i) for i in range(3, 6)])
    assert [len(args.events) for args in rec.succeeded] == [1] * 6  # the old bound
    assert hub.published_bodies("0") == [body(i) for i in range(6)]


async def test_bytes_fill_batches_while_event_data_hold_their_bound() -> None:
    hub = small_batch_hub()
    rec = Recorder()
    async with open_streaming_producer(
        transport=hub, max_wait_time=None, max_queued_events=2, **rec.handlers()
    ) as producer:
        with anyio.fail_after(5):
            await producer.queue_many_for_send([body(i) for i in range(2 * PER_BATCH)])
            await producer.flush()
            await producer.queue_many_for_send([event_data(i) for i in range(4)])
    sizes = [len(args.events) for args in rec.succeeded]
    assert sizes[:2] == [PER_BATCH, PER_BATCH]
    assert all(size <= 2 for size in sizes[2:])
    assert sum(sizes[2:]) == 4
    assert producer._parts["0"].held_event_data == 0


async def test_event_data_go_out_once_half_the_bound_is_queued() -> None:
    # before: nothing was sent until the partition held max_queued_events EventData (no
    # deadline here), so a stream of them stopped there for every batch's round trip
    hub = small_batch_hub()
    hub.hold_sends()  # (a handler: the producer holds the EventData for it)
    async with open_streaming_producer(
        transport=hub, max_wait_time=None, max_queued_events=4, **Recorder().handlers()
    ) as producer:
        with released_at_exit(hub):
            assert producer.try_queue_for_send(event_data(0))
            await anyio.wait_all_tasks_blocked()
            assert hub.sends_in_flight == 0  # below half the bound: it waits
            assert producer.try_queue_for_send(event_data(1))  # half the bound
            with anyio.fail_after(5):
                await hub.wait_sends_in_flight(1)
            # the batch of two is in flight (held): two more fit, as before
            assert producer.try_queue_for_send(event_data(2))
            assert producer.try_queue_for_send(event_data(3))
            assert not producer.try_queue_for_send(event_data(4))
    assert hub.published_bodies("0") == [body(i) for i in range(4)]


async def test_event_data_stream_keeps_its_order_and_bound_with_early_sends() -> None:
    hub = small_batch_hub()
    rec = Recorder()
    async with open_streaming_producer(
        transport=hub, max_wait_time=None, max_queued_events=2, **rec.handlers()
    ) as producer:
        with anyio.fail_after(5):
            for i in range(4):
                await producer.queue_for_send(event_data(i))
            await producer.queue_many_for_send([event_data(i) for i in range(4, 8)])
            await producer.flush()
    assert all(len(args.events) <= 2 for args in rec.succeeded)
    handed_back = [e for args in rec.succeeded for e in args.events]
    assert all(isinstance(e, EventData) for e in handed_back)  # the caller's own objects
    assert [e.body_as_str() for e in handed_back if isinstance(e, EventData)] == [
        body(i).decode() for i in range(8)
    ]
    assert hub.published_bodies("0") == [body(i) for i in range(8)]


async def test_bytes_do_not_go_out_early() -> None:
    hub = small_batch_hub()
    hub.hold_sends()
    async with open_streaming_producer(
        transport=hub, max_wait_time=None, max_queued_events=2
    ) as producer:
        with released_at_exit(hub):
            assert producer.try_queue_for_send(body(0))
            assert producer.try_queue_for_send(body(1))
            await anyio.wait_all_tasks_blocked()
            assert hub.sends_in_flight == 0  # the head batch is neither full nor due
