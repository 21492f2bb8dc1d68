"""The fast path encodes exactly what azure-eventhub encodes, and sizes add up like its batches."""

from __future__ import annotations

import pytest
from azure.eventhub import EventData, EventDataBatch
from hypothesis import given
from hypothesis import strategies as st

from anyio_eventhubs._azure_internals import check_internals, fill_batch
from anyio_eventhubs._encoding import BATCH_ENVELOPE_SIZE, batch_entry_size, encode_body
from anyio_eventhubs._events import encode_event

from .azure_reference import decode_event, encode_event_data

keys = st.none() | st.text(min_size=1, max_size=300)


@given(st.binary(max_size=600), keys)
def test_bytes_fast_path_is_byte_identical_to_azure(body: bytes, key: str | None) -> None:
    assert encode_body(body, key) == encode_event_data(EventData(body), key)


@given(st.text(max_size=300), keys)
def test_str_bodies_encode_as_their_utf8_bytes(body: str, key: str | None) -> None:
    assert encode_event(body, key) == encode_event_data(EventData(body), key)


@given(st.lists(st.binary(max_size=400), min_size=1, max_size=20))
def test_batch_sizes_add_up_like_event_data_batch(bodies: list[bytes]) -> None:
    batch = EventDataBatch(max_size_in_bytes=1 << 20)
    for body in bodies:
        batch.add(EventData(body))
    ours = BATCH_ENVELOPE_SIZE + sum(batch_entry_size(len(encode_body(b))) for b in bodies)
    assert ours == batch.size_in_bytes


def test_keyed_event_decodes_with_its_key_and_properties() -> None:
    event = EventData(b"payload")
    event.properties = {"kind": "reading"}
    back = decode_event(encode_event(event, "device-7"))
    assert back.body_as_str() == "payload"
    assert back.partition_key == b"device-7"
    assert back.properties == {b"kind": b"reading"}


def test_filled_batch_equals_one_built_with_add() -> None:
    bodies = [b"a", b"b" * 300]
    built = EventDataBatch()
    for body in bodies:
        built.add(EventData(body))
    filled = EventDataBatch()
    fill_batch(filled, [encode_body(b) for b in bodies], built.size_in_bytes)
    assert list(filled._message[5]) == list(built._message[5])
    assert len(filled) == len(built)
    assert filled.size_in_bytes == built.size_in_bytes


def test_internals_check_passes_on_the_supported_client() -> None:
    check_internals()


@pytest.mark.parametrize("bad", [None, 42, bytearray(b"x"), memoryview(b"x"), ["a"]])
def test_unsupported_event_types_are_refused(bad: object) -> None:
    with pytest.raises(TypeError, match="event must be EventData, bytes or str"):
        encode_event(bad, None)


@st.composite
def event_datas(draw: st.DrawFn) -> EventData:
    body = draw(st.binary(max_size=300) | st.text(max_size=50))
    event = EventData(body)
    if draw(st.booleans()):
        event.properties = draw(
            st.dictionaries(
                st.text(max_size=5),
                st.integers(-(2**31), 2**31 - 1) | st.text(max_size=5),
                max_size=3,
            )
        )
    if draw(st.booleans()):
        event.content_type = draw(st.text(max_size=10))
    if draw(st.booleans()):
        event.message_id = draw(st.text(min_size=1, max_size=10))
    if draw(st.booleans()):
        event.correlation_id = draw(st.text(min_size=1, max_size=10))
    if draw(st.booleans()):
        header = event.raw_amqp_message.header
        assert header is not None
        header.time_to_live = draw(st.integers(min_value=1, max_value=10**6))
    if draw(st.booleans()):
        event.raw_amqp_message.annotations = {"x-opt-custom": draw(st.text(max_size=5))}
    return event


@given(event_datas(), keys)
def test_event_data_encodes_the_same_on_either_path(event: EventData, key: str | None) -> None:
    assert encode_event(event, key) == encode_event_data(event, key)


def test_an_event_that_cannot_be_encoded_is_a_clear_value_error() -> None:
    event = EventData(b"x")
    event.properties = {"too-big": 2**200}
    with pytest.raises(ValueError, match="cannot be encoded as AMQP"):
        encode_event(event, None)
