"""A batch's transfer payload is, byte for byte, what azure-eventhub's sender writes for it.

The reference is azure's own pipeline: each event encoded by azure (``oracle``), added to
a ``BatchMessage`` as ``EventDataBatch.add`` adds it (pyamqp's ``add_batch``), and the
batch encoded by ``encode_payload``, which is what pyamqp's sender puts in the transfer.
Ours is the producer's: each event encoded once by our codec, the batch by
:func:`~anyio_eventhubs._codec.encode_batch`.
"""

from __future__ import annotations

import copy
from typing import Any, cast

import pytest
from azure.eventhub import EventData, EventDataBatch
from azure.eventhub._pyamqp._decode import decode_payload
from azure.eventhub._pyamqp._encode import encode_payload
from azure.eventhub._pyamqp.message import BatchMessage
from azure.eventhub.amqp import AmqpMessageBodyType
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from anyio_eventhubs._azure._stamp import next_sequence, stamp, stamp_entries
from anyio_eventhubs._azure_internals_check import _add_untraced
from anyio_eventhubs._codec import (
    BATCH_MESSAGE_FORMAT,
    batch_envelope,
    encode_batch,
    encode_event_data,
)
from anyio_eventhubs._encoding import BATCH_ENVELOPE_SIZE, batch_entry_size
from anyio_eventhubs._events import encode_event as encode_accepted

from .strategies import event_datas, oracle, simple_values

QUICK = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
THOROUGH = settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))

#: what the producer accepts: bytes, str, or an ``EventData`` with any sections set; body
#: sizes around 255, where an event's own data section and its batch wrapping both widen
bodies = st.binary(max_size=20) | st.binary(min_size=240, max_size=270) | st.text(max_size=30)
events = bodies | event_datas(simple_values)
#: as ``partition_keys``, without the empty key (the producer refuses it)
keys = st.none() | st.text(min_size=1, max_size=40) | st.text(min_size=250, max_size=300)
keyed_events = st.lists(st.tuples(events, keys), max_size=8)


def encode_event(event: Any, key: str | None) -> bytes:
    """The producer's encoding of *event*, or the codec's for an ``EventData`` the
    producer refuses at intake (``body=[]``: no body section), which azure still batches."""
    raw = event.raw_amqp_message if isinstance(event, EventData) else None
    if raw is not None and raw.body_type == AmqpMessageBodyType.DATA and not list(raw.body):
        return encode_event_data(event, key)
    return encode_accepted(event, key)


def _event(event: Any) -> EventData:
    return event if isinstance(event, EventData) else EventData(event)


def _azure_payload(batch: EventDataBatch) -> bytes:
    """What pyamqp's sender transfers for *batch* (``SenderLink._outgoing_transfer``)."""
    out = bytearray()
    encode_payload(out, batch._message)
    return bytes(out)


def _both(entries: list[tuple[Any, str | None]]) -> tuple[list[bytes], EventDataBatch]:
    """Each event encoded by us and by azure (skipping what both refuse), and azure's batch
    of them: its events added as ``EventDataBatch.add`` adds one (pyamqp's ``add_batch``
    appends ``encode_payload`` of the outgoing message)."""
    ours, batch = [], EventDataBatch(max_size_in_bytes=1 << 24)
    for event, key in entries:
        try:
            encoded = encode_event(copy.deepcopy(event), key)
        except (ValueError, TypeError):
            continue  # refused as azure refuses it: tests/codec/test_encode.py
        ours.append(encoded)
        batch._message[5].append(oracle(copy.deepcopy(_event(event).raw_amqp_message), key))
    return ours, batch


@QUICK
@given(keyed_events)
@example([(b"x" * 70_000, "k"), (b"", None), ("text", None)])  # a 32-bit binary, a keyed one
def test_a_batch_of_any_events_is_what_azure_sends(entries: list[tuple[Any, str | None]]) -> None:
    ours, reference = _both(entries)
    payload = encode_batch(ours)
    assert payload == _azure_payload(reference)
    assert reference._message._code == BATCH_MESSAGE_FORMAT
    # the producer's size arithmetic is exact: a batch never outgrows the link's maximum
    assert len(payload) == BATCH_ENVELOPE_SIZE + sum(batch_entry_size(len(m)) for m in ours)


@pytest.mark.slow
@pytest.mark.timeout(900)
@THOROUGH
@given(keyed_events)
def test_a_batch_of_any_events_is_what_azure_sends_thoroughly(
    entries: list[tuple[Any, str | None]],
) -> None:
    ours, reference = _both(entries)
    assert encode_batch(ours) == _azure_payload(reference)


@QUICK
@given(st.lists(events, max_size=6), keys)
def test_a_batch_with_its_own_partition_key_is_what_azure_sends(
    entries: list[Any], key: str | None
) -> None:
    """``EventDataBatch(partition_key=...)``: azure stamps the key on the envelope and on
    each event as ``add`` takes it (the producer's own batches carry no key)."""
    reference = EventDataBatch(max_size_in_bytes=1 << 24, partition_key=key)
    ours = []
    for event in entries:
        added = copy.deepcopy(_event(event))
        if {"x-opt-partition-key", b"x-opt-partition-key"} & set(
            added.raw_amqp_message.annotations or {}
        ):
            continue  # a key of the event's own: azure refuses one that differs
        try:
            _add_untraced(reference, added)
        except (ValueError, TypeError, AttributeError):  # AttributeError: annotations=None
            continue
        ours.append(encode_event(copy.deepcopy(event), key))
    assert encode_batch(ours, batch_envelope(key)) == _azure_payload(reference)


@QUICK
@given(
    keyed_events,
    st.integers(0, 2**63 - 1),
    st.integers(0, 2**15 - 1),
    st.integers(0, 2**31 - 1),
)
def test_an_idempotent_batch_is_what_azure_sends_for_the_stamped_events(
    entries: list[tuple[Any, str | None]], producer_id: int, epoch: int, first: int
) -> None:
    """The stamps are spliced into each event (``_stamp``, with fixed-width values azure
    would not choose); the batch around the stamped events is azure's, and it decodes
    back to exactly them."""
    ours, _ = _both(entries)
    stamped, sequence = [], first
    for encoded in ours:
        stamped.append(stamp(encoded, stamp_entries(producer_id, epoch, sequence)))
        sequence = next_sequence(sequence)
    reference = EventDataBatch(max_size_in_bytes=1 << 24)
    reference._message[5].extend(stamped)  # what the transport sent before #17
    payload = encode_batch(stamped)
    assert payload == _azure_payload(reference)
    if stamped:
        assert list(cast("list[bytes]", decode_payload(memoryview(payload))[5])) == stamped


def test_a_batch_of_nothing_is_an_empty_payload_as_azure_sends() -> None:
    assert encode_batch([]) == _azure_payload(EventDataBatch()) == b""
    assert batch_envelope("") == batch_envelope(None) == b""


def test_the_batch_message_format_is_azures() -> None:
    assert BatchMessage._code == BATCH_MESSAGE_FORMAT == 0x80013700
