"""What the producer's links put on the wire: a batch's events, encoded once, arrive intact.

The one connection's links send each batch as the payload built from its events' encoded
bytes (``_codec.encode_batch``). Against the emulator, on both backends: every kind of
event arrives with exactly the bytes azure-eventhub's encoder gives for it, reads back
with azure's own consumer, and batches larger than the connection's maximum frame size
(python-qpid-proton's default, 32 KiB, which the emulator offers) go out in several
transfer frames; the same with idempotent stamps.
"""

from __future__ import annotations

from typing import Any

import pytest
from azure.eventhub import EventData
from proton import Transport

from anyio_eventhubs import open_streaming_producer, partition_for_key
from anyio_eventhubs._azure._stamp import stamp, stamp_entries
from anyio_eventhubs._encoding import batch_entry_size
from anyio_eventhubs.testing.emulator import (
    PRODUCER_EPOCH,
    PRODUCER_ID,
    PRODUCER_SEQUENCE_NUMBER,
    EventHubsEmulator,
    StoredEvent,
)

from ..azure_reference import encode_event_data
from .conftest import read_back

pytestmark = pytest.mark.anyio

#: the emulator's maximum frame size: python-qpid-proton's default, never changed by it
MAX_FRAME_SIZE = Transport(Transport.SERVER).max_frame_size


def _event(i: int) -> Any:
    """The *i*-th event: bytes, str, a rich ``EventData``, or 12 KiB of bytes, in turn."""
    tag = b"%03d|" % i
    kind = i % 4
    if kind == 0:
        return tag + b"plain"
    if kind == 1:
        return tag.decode() + "text é"
    if kind == 2:
        event = EventData(tag + b"rich")
        properties: dict[str | bytes, Any] = {"colour": "blue", "n": i, "f": 1.5, "b": b"\x00\x01"}
        event.properties = properties
        event.content_type = "application/json"
        event.message_id = f"m-{i}"
        event.correlation_id = i  # type: ignore[assignment]  # any AMQP id, as azure allows
        raw = event.raw_amqp_message
        raw.annotations = {"x-opt-custom": "a"}
        assert raw.header is not None
        raw.header.time_to_live = 60_000
        return event
    return tag + b"x" * (12 * 1024)


def _as_event_data(event: Any) -> EventData:
    return event if isinstance(event, EventData) else EventData(event)


def _by_tag(stored: list[StoredEvent]) -> dict[bytes, StoredEvent]:
    return {e.body[:4]: e for e in stored}


def _largest_transfer(stored: list[StoredEvent]) -> int:
    """Bytes of the largest batch transfer (its events with their ``data`` wrapping)."""
    transfers: dict[int, int] = {}
    for event in stored:
        assert event.in_batch
        transfers[event.transfer_id] = transfers.get(event.transfer_id, 0) + batch_entry_size(
            len(event.raw)
        )
    return max(transfers.values())


async def _publish(producer: Any, ids: list[str], count: int) -> dict[bytes, tuple[Any, str]]:
    """Queue *count* events, four of each kind unkeyed then four keyed, in turn; return
    tag -> (event, key or partition id).

    Each partition's (or key's) events are queued in one call, so that they fill one batch.
    """
    sent: dict[bytes, tuple[Any, str]] = {}
    groups: dict[str, list[Any]] = {}
    for i in range(count):
        where = f"key-{i % 3}" if i % 8 >= 4 else ids[0]
        groups.setdefault(where, []).append(_event(i))
        sent[b"%03d|" % i] = (_event(i), where)
    for where, events in groups.items():
        if where.startswith("key-"):
            await producer.queue_many_for_send(events, partition_key=where)
        else:
            await producer.queue_many_for_send(events, partition_id=where)
    await producer.flush()
    return sent


async def _publish_and_read(
    emulator: EventHubsEmulator, connection_string: str, **options: Any
) -> tuple[list[str], dict[bytes, tuple[Any, str]], list[StoredEvent]]:
    """:func:`_publish` 48 events with a producer of *options*; return the partition ids,
    what was sent, and what the emulator stored."""
    async with open_streaming_producer(
        connection_string, max_wait_time=None, **options
    ) as producer:
        ids = list(await producer.get_partition_ids())
        sent = await _publish(producer, ids, 48)
    return ids, sent, [e for pid in ids for e in emulator.published_events("eh1", pid)]


async def test_every_kind_of_event_arrives_as_azure_encodes_it(
    emulator: EventHubsEmulator, connection_string: str
) -> None:
    ids, sent, stored = await _publish_and_read(emulator, connection_string)
    by_tag = _by_tag(stored)
    assert set(by_tag) == set(sent)
    for tag, (event, where) in sent.items():
        key = where if where.startswith("key-") else None
        arrived = by_tag[tag]
        assert arrived.raw == encode_event_data(_as_event_data(event), key)
        assert arrived.partition_id == (where if key is None else partition_for_key(key, ids))
    assert _largest_transfer(stored) > 2 * MAX_FRAME_SIZE  # several transfer frames
    received = await read_back(connection_string, "eh1", len(sent))
    back = {bytes(e.body_as_str(), "utf-8")[:4]: e for es in received.values() for e in es}
    rich = back[b"002|"]
    assert rich.properties == {b"colour": b"blue", b"n": 2, b"f": 1.5, b"b": b"\x00\x01"}
    assert (rich.content_type, rich.message_id, rich.correlation_id) == (  # type: ignore[comparison-overlap]
        "application/json",
        "m-2",
        2,
    )
    assert back[b"005|"].partition_key == b"key-2"
    assert back[b"001|"].body_as_str() == "001|text é"
    assert back[b"003|"].body_as_str() == "003|" + "x" * (12 * 1024)


async def test_idempotent_batches_arrive_stamped_and_otherwise_intact(
    emulator: EventHubsEmulator, connection_string: str
) -> None:
    ids, sent, stored = await _publish_and_read(
        emulator, connection_string, enable_idempotent_retries=True
    )
    by_tag = _by_tag(stored)
    assert set(by_tag) == set(sent)
    for tag, (event, where) in sent.items():
        key = where if where.startswith("key-") else None
        arrived = by_tag[tag]
        numbers = arrived.annotations
        entries = stamp_entries(
            numbers[PRODUCER_ID], numbers[PRODUCER_EPOCH], numbers[PRODUCER_SEQUENCE_NUMBER]
        )
        assert arrived.raw == stamp(encode_event_data(_as_event_data(event), key), entries)
    for pid in ids:
        sequence = [
            e.annotations[PRODUCER_SEQUENCE_NUMBER] for e in emulator.published_events("eh1", pid)
        ]
        assert sequence == list(range(1, len(sequence) + 1))
    assert _largest_transfer(stored) > 2 * MAX_FRAME_SIZE
