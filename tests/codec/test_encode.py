"""Our codec writes the bytes azure-eventhub writes, and refuses what it refuses, alike."""

from __future__ import annotations

import copy
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from azure.eventhub import EventData
from azure.eventhub.amqp import AmqpAnnotatedMessage, AmqpMessageBodyType, AmqpMessageProperties
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from anyio_eventhubs._codec import (
    DECIMAL128,
    encode_annotated_message,
    encode_event_data,
    plain_body,
)
from anyio_eventhubs._events import encode_event

from .strategies import event_datas, messages, oracle, partition_keys, values

QUICK = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
THOROUGH = settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))


def _outcome(encode: Any, *args: Any) -> tuple[str, bytes | type[BaseException]]:
    try:
        return "bytes", encode(*args)
    except Exception as exc:  # the class is what must match
        return "error", type(exc)


def _assert_same_as_azure(message: AmqpAnnotatedMessage, key: str | None) -> None:
    ours = _outcome(encode_annotated_message, message, key)
    # azure stamps the key into the message's own annotations: let it have a copy
    theirs = _outcome(oracle, copy.deepcopy(message), key)
    assert ours == theirs


@QUICK
@given(messages(), partition_keys)
def test_messages_encode_byte_for_byte_as_azure(
    message: AmqpAnnotatedMessage, key: str | None
) -> None:
    _assert_same_as_azure(message, key)


def test_a_wrong_id_type_is_refused_before_an_id_out_of_range_as_azure_refuses_it() -> None:
    # found by the thorough run: azure types both ids before it encodes any field
    make: Any = AmqpMessageProperties
    properties = make(message_id=-256, correlation_id=0.0)
    # -256 is out of range for a ulong (a ValueError alone); 0.0 has no id type
    message = AmqpAnnotatedMessage(data_body=b"", properties=properties)
    _assert_same_as_azure(message, None)
    assert _outcome(encode_annotated_message, message, None) == ("error", TypeError)


@pytest.mark.slow
@pytest.mark.timeout(900)
@THOROUGH
@given(messages(), partition_keys)
def test_messages_encode_byte_for_byte_as_azure_thoroughly(
    message: AmqpAnnotatedMessage, key: str | None
) -> None:
    _assert_same_as_azure(message, key)


@QUICK
@given(values, partition_keys)
@example({"TYPE": "BINARY", "VALUE": "text"}, None)  # azure writes half a binary, then a map
@example({"TYPE": "STRING", "VALUE": 5}, None)  # a typed value that does not fit: a map
@example(2**31, None)  # an int is a 32-bit AMQP int: ValueError
@example(datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), "k")  # float rounding
@example(datetime(1969, 12, 31, 23, 59, 59, 999), None)  # truncation towards zero
def test_every_property_value_is_encoded_or_refused_as_azure(value: Any, key: str | None) -> None:
    event = EventData(b"body")
    event.properties = {"p": value}
    event.raw_amqp_message.annotations = {"x-opt-v": value}
    _assert_same_as_azure(event.raw_amqp_message, key)


@pytest.mark.parametrize(
    "value",
    [{1, 2}, object(), 1j, (1,), [object()], {"k": {1}}, 2**31, -(2**31) - 1, 2**100],
    # the same in every process (pytest-xdist compares collections): no object address
    ids=lambda value: re.sub(r" at 0x[0-9a-f]+", "", repr(value)),
)
def test_refused_values_raise_what_azure_raises(value: Any) -> None:
    event = EventData(b"body")
    event.properties = {"p": value}
    ours = _outcome(encode_event_data, event, None)
    assert ours[0] == "error"
    assert ours == _outcome(oracle, event.raw_amqp_message, None)


def test_decimals_follow_the_installed_azure_eventhub() -> None:
    from decimal import Decimal

    event = EventData(b"body")
    event.properties = {"p": Decimal("1.25")}
    ours = _outcome(encode_event_data, event, None)
    assert ours == _outcome(oracle, event.raw_amqp_message, None)
    assert (ours[0] == "bytes") is DECIMAL128


@QUICK
@given(event_datas(), partition_keys.filter(bool) | st.none())  # the producer refuses ""
def test_event_data_encodes_as_the_producer_does_today(event: EventData, key: str | None) -> None:
    """Against ``_events.encode_event``, which wraps most of azure's errors in a
    ``ValueError`` (an ``IndexError`` or ``struct.error`` escapes it as they are)."""
    ours = _outcome(encode_event_data, event, key)
    today = _outcome(encode_event, copy.deepcopy(event), key)
    raw = event.raw_amqp_message
    if raw.body_type == AmqpMessageBodyType.DATA and not list(raw.body):
        assert today[0] == "error"  # the producer refuses an event without a body section
    elif today[0] == "error":
        assert ours[0] == "error"
    else:
        assert ours == today


@pytest.mark.parametrize(
    ("message_id", "wire"),
    [
        ("id", b"\xa1\x02id"),
        (b"id", b"\xa0\x02id"),
        (7, b"\x53\x07"),
        (0, b"\x44"),
        (2**40, b"\x80" + (2**40).to_bytes(8, "big")),
        (uuid.UUID(int=1), b"\x98" + uuid.UUID(int=1).bytes),
    ],
    ids=repr,
)
def test_message_and_correlation_ids_of_each_type(message_id: Any, wire: bytes) -> None:
    event = EventData(b"")
    event.message_id = message_id
    event.correlation_id = message_id
    encoded = encode_event_data(event, None)
    assert encoded == oracle(event.raw_amqp_message, None)
    assert encoded.count(wire) >= 2


def test_the_event_is_not_changed_by_encoding_with_a_key() -> None:
    event = EventData(b"x")
    encode_event_data(event, "k")
    assert event.raw_amqp_message.annotations == {}
    assert event.partition_key is None


def test_extra_properties_are_added_without_changing_the_event() -> None:
    event = EventData(b"x")
    event.properties = {"a": 1}
    stamped = encode_event_data(event, None, {"traceparent": "00-1"})
    expected = EventData(b"x")
    expected.properties = {"a": 1, "traceparent": "00-1"}
    assert stamped == oracle(expected.raw_amqp_message, None)
    assert event.properties == {"a": 1}


@QUICK
@given(event_datas())
def test_plain_body_is_the_body_of_events_with_nothing_else(event: EventData) -> None:
    body = plain_body(event)
    if body is not None:
        assert encode_event_data(event, None) == b"\x00\x53\x75" + _binary(body)


def _binary(body: bytes) -> bytes:
    if len(body) <= 255:
        return b"\xa0" + bytes([len(body)]) + body
    return b"\xb0" + len(body).to_bytes(4, "big") + body


def test_plain_body_sees_every_other_section() -> None:
    assert plain_body(EventData(b"plain")) == b"plain"
    assert plain_body(EventData("text")) == b"text"
    assert plain_body(EventData([b"a", b"b"])) is None
    with_props = EventData(b"x")
    with_props.properties = {"a": 1}
    assert plain_body(with_props) is None
    with_ttl = EventData(b"x")
    header = with_ttl.raw_amqp_message.header
    assert header is not None
    header.time_to_live = 5
    assert plain_body(with_ttl) is None
    assert plain_body(AmqpAnnotatedMessage(value_body=b"x")) is None


class _MessageWithoutAzureList:
    """A message as a later azure-eventhub might keep it: no ``_data_body`` list."""

    body_type = AmqpMessageBodyType.DATA
    header = properties = None
    application_properties = annotations = delivery_annotations = footer = None

    def __init__(self, *sections: bytes) -> None:
        self._sections = sections

    @property
    def body(self) -> Any:
        return (section for section in self._sections)


def test_plain_body_reads_the_public_body_without_azure_list() -> None:
    assert plain_body(_MessageWithoutAzureList(b"x")) == b"x"
    assert plain_body(_MessageWithoutAzureList(b"a", b"b")) is None
    assert plain_body(_MessageWithoutAzureList()) is None


def test_plain_body_sees_a_header_or_properties_with_more_than_eventdata_gives() -> None:
    with_extra = EventData(b"x")
    properties = with_extra.raw_amqp_message.properties
    assert properties is not None
    properties["extra"] = "stored"  # azure's DictMixin keeps it, and sends the section
    assert plain_body(with_extra) is None
    assert encode_event_data(with_extra, None) == oracle(with_extra.raw_amqp_message, None)


@given(st.data())
@settings(max_examples=50, deadline=None)
def test_bodies_of_each_type(data: st.DataObject) -> None:
    for kind in ("data_body", "sequence_body", "value_body"):
        message = AmqpAnnotatedMessage(**{kind: data.draw(values)})
        _assert_same_as_azure(message, None)
