"""Resuming a producer group after a restart, over the wire, as the service answers it.

Each "life" of a producer is a fresh azure-eventhub client on an event loop of its own (in
a worker thread), attaching its partition link with the producer properties it chooses,
as a restarted process would; the tests run on both backends. What the service does is in
``docs/idempotent-publishing.md`` ("Resuming a producer group after a restart").
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import anyio
import pytest
from azure.eventhub import EventDataBatch
from azure.eventhub._pyamqp.error import AMQPLinkError
from azure.eventhub.aio import EventHubProducerClient
from azure.eventhub.exceptions import EventDataSendError, EventHubError

from anyio_eventhubs._azure._stamp import CAPABILITY, stamp, stamp_entries
from anyio_eventhubs._azure_internals import (
    LinkOptions,
    close_partition_producer,
    create_partition_producer,
    fill_batch,
    open_partition_producer,
    send_batch_once,
)
from anyio_eventhubs._events import encode_event
from anyio_eventhubs.testing.emulator import (
    OUT_OF_ORDER_SEQUENCE,
    PRODUCER_EPOCH,
    PRODUCER_EPOCH_STOLEN,
    PRODUCER_ID,
    PRODUCER_SEQUENCE_NUMBER,
    EventHubsEmulator,
)

pytestmark = pytest.mark.anyio

T = TypeVar("T")
Properties = Mapping[str, tuple[str, int | None]]


class Life:
    """One life of a producer: a client, and the partition links it attached."""

    def __init__(self, connection_string: str) -> None:
        self.client = EventHubProducerClient.from_connection_string(connection_string)
        self._producers: list[Any] = []

    async def attach(self, properties: Properties | None = None) -> tuple[Any, LinkOptions]:
        """Attach a sender link to partition 0 with *properties*; return it and its options."""
        given = dict(properties or {})
        link = LinkOptions([CAPABILITY], lambda: given)
        producer = create_partition_producer(self.client, "0")
        self._producers.append(producer)
        await open_partition_producer(producer, link)
        return producer, link

    async def close(self) -> None:
        for producer in self._producers:
            await close_partition_producer(producer)
        await self.client.close()


def _reply(link: LinkOptions) -> tuple[Any, Any, Any]:
    remote = link.remote_properties
    return remote.get(PRODUCER_ID), remote.get(PRODUCER_EPOCH), remote.get(PRODUCER_SEQUENCE_NUMBER)


def _claim(producer_id: int, epoch: int, sequence: int | None) -> Properties:
    return {
        PRODUCER_ID: ("long", producer_id),
        PRODUCER_EPOCH: ("short", epoch),
        PRODUCER_SEQUENCE_NUMBER: ("int", sequence),
    }


def _batch(producer_id: int, epoch: int, first: int, bodies: Sequence[bytes]) -> EventDataBatch:
    """The events stamped as an idempotent producer stamps them: consecutive numbers."""
    messages = [
        stamp(encode_event(body, None), stamp_entries(producer_id, epoch, first + i))
        for i, body in enumerate(bodies)
    ]
    batch = EventDataBatch(max_size_in_bytes=1024 * 1024, partition_id="0")
    fill_batch(batch, messages, sum(len(m) + 8 for m in messages))
    return batch


async def _life(connection_string: str, body: Callable[[Life], Awaitable[T]]) -> T:
    """Run *body* in a life of its own, on an asyncio loop in a worker thread."""

    async def run() -> T:
        life = Life(connection_string)
        try:
            return await body(life)
        finally:
            await life.close()

    return await anyio.to_thread.run_sync(asyncio.run, run())


def _stored(emulator: EventHubsEmulator) -> list[tuple[bytes, int]]:
    return [
        (e.body, e.annotations[PRODUCER_SEQUENCE_NUMBER])
        for e in emulator.published_events("eh1", "0")
    ]


async def test_a_restarted_producer_claiming_a_stale_number_gets_a_stored_batch_acknowledged_once(
    emulator: EventHubsEmulator,
) -> None:
    conn = emulator.connection_string("eh1")

    async def first_life(life: Life) -> tuple[int, int]:
        producer, link = await life.attach()
        producer_id, epoch, reported = _reply(link)
        assert reported == 0  # a new producer: the service reports 0
        await send_batch_once(producer, _batch(producer_id, epoch, 1, [b"a1", b"a2"]), link)
        emulator.faults.lose_next_ack(partition_id="0")  # B is stored, then the process dies
        with pytest.raises(EventHubError):  # the connection dropped: whatever the client says
            await send_batch_once(producer, _batch(producer_id, epoch, 3, [b"b1", b"b2", b"b3"]))
        return producer_id, epoch

    producer_id, epoch = await _life(conn, first_life)
    assert emulator.faults.fired() == {"lose_ack": 1}

    async def second_life(life: Life) -> list[str]:
        # the journal knows that A (up to 2) was acknowledged, not B: a stale claim
        producer, link = await life.attach(_claim(producer_id, epoch, 2))
        assert _reply(link) == (producer_id, epoch, 2)  # echoed, not adopted
        refusals = []
        # new numbers after the claim are judged against the service's record: refused
        try:
            await send_batch_once(producer, _batch(producer_id, epoch, 3, [b"new"]), link)
        except EventDataSendError as exc:
            refusals.append(str(exc))
        # the unacknowledged batch again, with its numbers and boundaries: acknowledged
        await send_batch_once(producer, _batch(producer_id, epoch, 3, [b"b1", b"b2", b"b3"]), link)
        await send_batch_once(producer, _batch(producer_id, epoch, 6, [b"c1"]), link)
        return refusals

    (refusal,) = await _life(conn, second_life)
    assert OUT_OF_ORDER_SEQUENCE in refusal
    assert emulator._store.producers.duplicates == 1
    assert _stored(emulator) == [
        (b"a1", 1),
        (b"a2", 2),
        (b"b1", 3),
        (b"b2", 4),
        (b"b3", 5),
        (b"c1", 6),
    ]


async def test_a_higher_epoch_takes_over_with_a_fresh_sequence_and_a_lower_one_is_refused(
    emulator: EventHubsEmulator,
) -> None:
    conn = emulator.connection_string("eh1")

    async def lives(life: Life) -> tuple[str, str]:
        old, old_link = await life.attach()
        producer_id, _, _ = _reply(old_link)
        await send_batch_once(old, _batch(producer_id, 0, 1, [b"x1", b"x2"]), old_link)
        new, new_link = await life.attach(_claim(producer_id, 1, None))
        assert _reply(new_link) == (producer_id, 1, 0)  # the sequence starts again
        await send_batch_once(new, _batch(producer_id, 1, 1, [b"y1"]), new_link)
        with pytest.raises(EventDataSendError) as stolen:  # the old link's next transfer
            await send_batch_once(old, _batch(producer_id, 0, 3, [b"x3"]), old_link)
        # refused as the service refuses a link (a null attach, then the detach): the
        # attach fails, with the detach's condition
        with pytest.raises(AMQPLinkError) as refused:
            await life.attach(_claim(producer_id, 0, None))
        return str(stolen.value), str(refused.value)

    stolen, refused = await _life(conn, lives)
    assert PRODUCER_EPOCH_STOLEN in stolen
    assert PRODUCER_EPOCH_STOLEN in refused
    assert [body for body, _ in _stored(emulator)] == [b"x1", b"x2", b"y1"]
