"""The client's half, without I/O: stamping encoded events, and the sequence bookkeeping."""

from __future__ import annotations

from typing import Any, cast

import pytest
from azure.eventhub import EventData
from azure.eventhub.amqp import AmqpMessageHeader

from anyio_eventhubs import TransportError
from anyio_eventhubs._azure._idempotent import PartitionPublishing
from anyio_eventhubs._azure._stamp import (
    PRODUCER_EPOCH,
    PRODUCER_ID,
    PRODUCER_SEQUENCE_NUMBER,
    RESERVED_BYTES_PER_EVENT,
    next_sequence,
    stamp,
    stamp_entries,
)
from anyio_eventhubs._codec import encode_event_data
from anyio_eventhubs._encoding import batch_entry_size
from anyio_eventhubs._events import encode_event
from anyio_eventhubs.transport import OutgoingBatch, PublishingState

from ..azure_reference import decode_event

_KEYS = (PRODUCER_ID.encode(), PRODUCER_EPOCH.encode(), PRODUCER_SEQUENCE_NUMBER.encode())


def _rich_event(annotations: int) -> EventData:
    event = EventData(b"body")
    event.properties = {"k": "v"}
    event.content_type = "text/plain"
    raw = event.raw_amqp_message
    raw.annotations = {f"x-opt-a{i}": "v" * 10 for i in range(annotations)}
    header: Any = AmqpMessageHeader
    raw.header = header(priority=4)
    return event


def _with_header(event: EventData) -> EventData:
    header: Any = AmqpMessageHeader
    event.raw_amqp_message.header = header(priority=4)
    return event


def _annotations(encoded: bytes) -> dict[Any, Any]:
    return decode_event(encoded).raw_amqp_message.annotations or {}


def _body(encoded: bytes) -> bytes:
    return b"".join(cast(list[bytes], decode_event(encoded).body))


def _events() -> list[tuple[object, str | None]]:
    return [
        (b"", None),
        (b"x" * 100, None),
        (b"x" * 250, None),  # the data wrapping passes 255 bytes once stamped
        (b"x" * 5000, None),
        ("text", "device-7"),  # a header and a small annotations map
        (b"y", "k" * 200),  # a map near 255 bytes that outgrows map8
        (_rich_event(0), None),
        (_rich_event(3), "key"),
        (_rich_event(20), None),  # a map32 already
    ]


@pytest.mark.parametrize(("event", "key"), _events())
def test_stamp_adds_the_three_annotations_and_keeps_the_rest(
    event: object, key: str | None
) -> None:
    encoded = encode_event(event, key)
    stamped = stamp(encoded, stamp_entries(2**40 + 5, 3, 2**31 - 1))
    before, after = decode_event(encoded), decode_event(stamped)
    assert _body(stamped) == _body(encoded)
    assert after.properties == before.properties
    assert after.partition_key == before.partition_key
    annotations = _annotations(stamped)
    assert annotations[_KEYS[0]] == 2**40 + 5
    assert annotations[_KEYS[1]] == 3
    assert annotations[_KEYS[2]] == 2**31 - 1
    others = {k: v for k, v in annotations.items() if k not in _KEYS}
    assert others == _annotations(encoded)
    assert batch_entry_size(len(stamped)) - batch_entry_size(len(encoded)) <= (
        RESERVED_BYTES_PER_EVENT
    )


def test_the_reserve_is_exact_for_the_worst_case() -> None:
    # no annotations yet, and the data wrapping grows from 5 to 8 bytes
    encoded = encode_event(b"x" * 140, None)
    stamped = stamp(encoded, stamp_entries(1, 0, 0))
    assert batch_entry_size(len(stamped)) - batch_entry_size(len(encoded)) == 123


def test_stamping_again_replaces_an_earlier_stamp() -> None:
    once = stamp(encode_event(b"body", "key"), stamp_entries(1, 0, 7))
    twice = stamp(once, stamp_entries(2, 1, 8))
    annotations = _annotations(twice)
    assert [annotations[k] for k in _KEYS] == [2, 1, 8]
    assert annotations[b"x-opt-partition-key"] == b"key"
    assert len(twice) == len(once)


@pytest.mark.parametrize("encoded", [b"\x45", b"\x00\x53\x70\x45\x45"])
def test_stamp_refuses_what_is_not_a_message(encoded: bytes) -> None:
    with pytest.raises(ValueError, match="not an encoded AMQP message"):
        stamp(encoded, stamp_entries(1, 0, 0))


def test_an_event_without_a_body_section_is_stamped_at_its_end() -> None:
    # EventData(body=[]) encodes (as azure encodes it) to no section at all; with a
    # header, to the header alone
    for event in (EventData(body=[]), _with_header(EventData(body=[]))):
        encoded = encode_event_data(event, None)  # the producer refuses it at intake
        stamped = stamp(encoded, stamp_entries(9, 1, 4))
        assert stamped.startswith(encoded)
        assert [_annotations(stamped)[k] for k in _KEYS] == [9, 1, 4]


def test_sequence_numbers_wrap_to_zero_after_the_largest_int() -> None:
    assert next_sequence(-1) == 0
    assert next_sequence(41) == 42
    assert next_sequence(2**31 - 1) == 0


def _batch(batch_id: int | None, count: int = 2) -> OutgoingBatch:
    return OutgoingBatch("0", [encode_event(b"e%d" % i, None) for i in range(count)], 0, batch_id)


def _sequences(messages: list[bytes]) -> list[int]:
    return [_annotations(m)[_KEYS[2]] for m in messages]


def _attached() -> PartitionPublishing:
    state = PartitionPublishing("hub", "0")
    assert state.attach_properties() == {}  # the service assigns the producer id
    state.attached({PRODUCER_ID: 9, PRODUCER_EPOCH: 0, PRODUCER_SEQUENCE_NUMBER: -1})
    return state


def test_a_batch_keeps_its_sequence_numbers_across_attempts() -> None:
    state = _attached()
    assert state.begin(_batch(0)) is False
    first, start = state.stamp(_batch(0))
    assert (_sequences(first), start) == ([0, 1], 0)
    assert state.begin(_batch(0)) is False  # a retry
    again, _ = state.stamp(_batch(0))
    assert again is first
    state.succeeded()
    assert state.state() == PublishingState(9, 0, 1)
    state.begin(_batch(2, count=3))
    assert _sequences(state.stamp(_batch(2, count=3))[0]) == [2, 3, 4]


def test_a_batch_acknowledged_and_sent_again_is_sent_as_it_was() -> None:
    state = _attached()
    state.begin(_batch(0))
    first, _ = state.stamp(_batch(0))
    state.succeeded()  # the service acknowledged; the producer did not hear of it
    assert state.begin(_batch(0)) is False
    again, start = state.stamp(_batch(0))
    assert (again, start) == (first, 0)  # the service will take it as a duplicate
    state.succeeded()
    assert state.state() == PublishingState(9, 0, 1)


def test_a_new_batch_after_an_unconfirmed_one_re_reads_the_service() -> None:
    state = _attached()
    state.begin(_batch(0))
    state.stamp(_batch(0))  # sent; its outcome never known (given up, or cleared)
    assert state.begin(_batch(2)) is True  # attach again before numbering the next
    assert state.attach_properties() == {
        PRODUCER_ID: ("long", 9),
        PRODUCER_EPOCH: ("short", 0),
        PRODUCER_SEQUENCE_NUMBER: ("int", None),  # the service says where it stands
    }
    state.attached({PRODUCER_ID: 9, PRODUCER_EPOCH: 0, PRODUCER_SEQUENCE_NUMBER: 1})
    assert state.begin(_batch(2)) is False
    assert _sequences(state.stamp(_batch(2))[0]) == [2, 3]


def test_a_batch_without_identity_is_numbered_afresh() -> None:
    state = _attached()
    state.begin(_batch(None))
    state.stamp(_batch(None))
    assert state.begin(_batch(None)) is True


def test_a_refused_batch_is_numbered_afresh_after_re_reading_the_service() -> None:
    state = _attached()
    state.begin(_batch(0))
    state.stamp(_batch(0))
    state.refused()
    assert state.begin(_batch(0)) is True
    state.attached({PRODUCER_ID: 9, PRODUCER_EPOCH: 0, PRODUCER_SEQUENCE_NUMBER: 4})
    assert _sequences(state.stamp(_batch(0))[0]) == [5, 6]


def test_an_attach_reply_without_a_producer_id_is_a_clear_error() -> None:
    state = PartitionPublishing("hub", "3")
    with pytest.raises(TransportError, match="did not enable idempotent publishing") as caught:
        state.attached({})
    assert caught.value.is_transient is False
    assert state.state() is None
