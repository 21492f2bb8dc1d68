"""Decoding gives the ``EventData`` azure-eventhub's consumer would see, built publicly."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from azure.eventhub import EventData
from azure.eventhub.amqp import AmqpAnnotatedMessage, AmqpMessageBodyType
from hypothesis import HealthCheck, assume, given, settings

from anyio_eventhubs._codec import decode_message, decode_value, encode_annotated_message

from ..azure_reference import decode_event
from .strategies import event_datas, messages, partition_keys, simple_values, values

QUICK = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _view(event: EventData) -> str:
    """Everything a consumer can read of *event*, as text (so that NaN equals NaN)."""
    message = event.raw_amqp_message
    body: Any = message.body
    if message.body_type is not AmqpMessageBodyType.VALUE:
        body = list(body)
    header, properties = message.header, message.properties
    return repr(
        (
            message.body_type,
            body,
            message.application_properties,
            message.annotations,
            message.delivery_annotations,
            message.footer,
            None if header is None else vars(header),
            None if properties is None else vars(properties),
            event.partition_key,
        )
    )


def _assert_decodes_as_azure(message: AmqpAnnotatedMessage, key: str | None) -> None:
    try:
        encoded = encode_annotated_message(message, key)
    except Exception:  # refused: nothing to decode
        return
    try:
        theirs = _view(decode_event(encoded))
    except Exception:
        # azure cannot read back what it wrote: a list as a map key, or the malformed
        # bytes it writes for a typed value that does not fit (half a binary, then a map)
        # (and azure 5.15 reads its own decimal128 of Decimal("1") as decimal.Overflow)
        with pytest.raises((TypeError, ValueError, IndexError, KeyError, ArithmeticError)):
            decode_message(encoded)
        return
    if _has_typed_value(message):
        # a typed value that does not fit may be written malformed (half a binary, then
        # a map) in a way azure's lenient reader gets past (it skips what it cannot
        # place): reading it back, ours must give what azure gives, or refuse it
        try:
            ours = _view(decode_message(encoded))
        except (ValueError, IndexError):
            return
        assert ours == theirs
        return
    assert _view(decode_message(encoded)) == theirs


def _has_typed_value(value: Any) -> bool:
    """Whether *value* (a message, or anything in it) holds azure's explicit typed value,
    ``{"TYPE": ..., "VALUE": ...}``."""
    if isinstance(value, AmqpAnnotatedMessage):
        parts = (
            value.footer,
            value.annotations,
            value.delivery_annotations,
            value.application_properties,
            value.body if value.body_type is AmqpMessageBodyType.VALUE else None,
        )
        return any(_has_typed_value(part) for part in parts)
    if isinstance(value, dict):
        if "TYPE" in value and "VALUE" in value:
            return True
        return any(_has_typed_value(k) or _has_typed_value(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_typed_value(item) for item in value)
    return False


def test_a_malformed_typed_value_that_azure_reads_past_is_refused() -> None:
    # found by the thorough run: a binary typed value given text is written as half a
    # binary, then a map; azure reads the footer as that half binary and skips the rest
    message = AmqpAnnotatedMessage(
        data_body=b"",
        footer={"x-opt-": {"TYPE": "BINARY", "VALUE": "0000000000000000"}},
    )
    encoded = encode_annotated_message(message, None)
    assert decode_event(encoded).raw_amqp_message.footer is not None  # azure reads on
    with pytest.raises(ValueError, match="expected a message section"):
        decode_message(encoded)


@QUICK
@given(messages(values), partition_keys)
def test_messages_decode_as_azure_decodes_them(
    message: AmqpAnnotatedMessage, key: str | None
) -> None:
    _assert_decodes_as_azure(message, key)


@pytest.mark.slow
@pytest.mark.timeout(900)
@settings(max_examples=2000, deadline=None, suppress_health_check=list(HealthCheck))
@given(messages(values), partition_keys)
def test_messages_decode_as_azure_decodes_them_thoroughly(
    message: AmqpAnnotatedMessage, key: str | None
) -> None:
    _assert_decodes_as_azure(message, key)


@QUICK
@given(event_datas(simple_values))
def test_event_data_round_trips(event: EventData) -> None:
    """decode(encode(x)) is x, as a consumer sees it: str arrives as UTF-8 bytes."""
    # an int key is no application property key: azure writes a map in its place
    assume(all(isinstance(key, (str, bytes)) for key in event.properties or {}))
    try:
        encoded = encode_annotated_message(event.raw_amqp_message)
    except (TypeError, ValueError):
        assume(False)  # a refused id (a float, say)
    back = decode_message(encoded)
    body: Any = event.body
    sections = list(body)
    if sections:
        assert list(back.body) == sections
    else:  # no data section at all: a consumer sees an empty value body
        assert back.body is None
    assert back.properties == _as_received(event.properties or {})
    for name in ("message_id", "correlation_id", "content_type"):
        assert getattr(back, name) == _id_as_received(getattr(event, name))


def _id_as_received(value: Any) -> Any:
    """The id getters decode bytes that are UTF-8 to str; an id int is a ulong."""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value
    if isinstance(value, int):
        return abs(value)
    return value


def _as_received(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, dict):
        return {_as_received(k): _as_received(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_received(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    return value


def test_a_keyed_event_decodes_with_its_key() -> None:
    event = EventData(b"payload")
    event.properties = {"kind": "reading"}
    back = decode_message(encode_annotated_message(event.raw_amqp_message, "device-7"))
    assert back.body_as_str() == "payload"
    assert back.partition_key == b"device-7"
    assert back.properties == {b"kind": b"reading"}


def test_sequence_and_value_bodies_decode_to_their_body_type() -> None:
    sequence = decode_message(
        encode_annotated_message(AmqpAnnotatedMessage(sequence_body=[1, "a"]))
    )
    assert sequence.body_type is AmqpMessageBodyType.SEQUENCE
    assert list(sequence.body) == [[1, b"a"]]
    value = decode_message(encode_annotated_message(AmqpAnnotatedMessage(value_body={"k": 2})))
    assert value.body_type is AmqpMessageBodyType.VALUE
    assert value.body == {b"k": 2}


def test_values_decode_as_azure_gives_them() -> None:
    assert decode_value(b"\x98" + uuid.UUID(int=7).bytes) == (uuid.UUID(int=7), 17)
    assert decode_value(b"\xa3\x03abc") == (b"abc", 5)
    assert decode_value(b"\x00\x53\x24\x45") == ({"accepted": []}, 4)


def test_garbage_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="constructor"):
        decode_message(b"\x00\x53\x75\x02")
    with pytest.raises(ValueError, match="section"):
        decode_message(b"\x53\x75")
