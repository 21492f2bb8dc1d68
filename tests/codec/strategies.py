"""Hypothesis strategies over what azure-eventhub lets a user put in an event.

Values cover every Python type azure's encoder dispatches on (and its ranges: an ``int``
is an AMQP int, 32 bits), typed ``{"TYPE": ..., "VALUE": ...}`` values with fitting and
unfitting values, and values azure refuses. ``oracle`` is azure-eventhub's own encoder.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from azure.eventhub import EventData
from azure.eventhub._pyamqp._encode import encode_payload
from azure.eventhub._transport._pyamqp_transport import PyamqpTransport
from azure.eventhub.amqp import AmqpAnnotatedMessage, AmqpMessageHeader, AmqpMessageProperties
from hypothesis import strategies as st

from anyio_eventhubs._codec import DECIMAL128

__all__ = [
    "annotated_messages",
    "event_datas",
    "messages",
    "oracle",
    "partition_keys",
    "values",
]


def oracle(message: AmqpAnnotatedMessage, partition_key: str | None) -> bytes:
    """What azure-eventhub sends for *message* (its transport's own three steps)."""
    outgoing = PyamqpTransport.to_outgoing_amqp_message(message)  # type: ignore[no-untyped-call]
    if partition_key is not None:
        outgoing = PyamqpTransport.set_message_partition_key(outgoing, partition_key)
    out = bytearray()
    encode_payload(out, outgoing)
    return bytes(out)


partition_keys = (
    st.none() | st.just("") | st.text(max_size=40) | st.text(min_size=250, max_size=300)
)

_int32 = st.integers(-(2**31), 2**31 - 1)
_ints = st.one_of(
    st.integers(-300, 300),
    _int32,
    st.integers(-(2**70), 2**70),
    st.sampled_from([2**31, -(2**31) - 1]),
)
_texts = st.text(max_size=20) | st.text(min_size=250, max_size=300)
_binaries = st.binary(max_size=20) | st.binary(min_size=250, max_size=300)
_datetimes = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)
) | st.datetimes(
    min_value=datetime(1, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.sampled_from(
        [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]
    ),
)
_decimals = st.decimals(allow_nan=False, allow_infinity=False, places=None) | st.sampled_from(
    [Decimal("1.5"), Decimal("-0"), Decimal("1e-300"), Decimal("NaN")]
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    _ints,
    st.floats(),
    _texts,
    _binaries,
    st.binary(max_size=10).map(bytearray),
    st.uuids(),
    _datetimes,
)
if DECIMAL128:
    scalars |= _decimals

TYPE_NAMES = [
    "NULL", "BOOL", "UBYTE", "BYTE", "USHORT", "SHORT", "UINT", "INT", "ULONG", "LONG",
    "FLOAT", "DOUBLE", "TIMESTAMP", "UUID", "BINARY", "STRING", "SYMBOL", "LIST", "MAP",
    "ARRAY", "DESCRIBED", "DECIMAL128", "NOT-A-TYPE",
]  # fmt: skip

#: values azure refuses (no AMQP encoding); a 1-tuple is a described value with no value
refused = st.sampled_from([{1, 2}, frozenset(), object(), 1j, range(3), (1,)])


def _typed(children: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """``{"TYPE": name, "VALUE": v}``: azure's explicit types, fitting or not."""
    return st.builds(
        lambda name, value: {"TYPE": name, "VALUE": value},
        st.sampled_from(TYPE_NAMES),
        scalars | st.lists(scalars, max_size=3) | st.tuples(scalars, scalars) | children,
    )


values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(_texts | _ints | st.uuids(), children, max_size=3),
        st.tuples(st.integers(0, 300) | st.text(max_size=5), children),
        _typed(children),
    ),
    max_leaves=8,
)
#: values including ones azure refuses
any_values = values | refused
simple_values = st.recursive(
    st.one_of(
        st.none(), st.booleans(), _int32, st.floats(allow_nan=False), _texts, _binaries, st.uuids()
    ),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_texts, children, max_size=3),
    max_leaves=6,
)


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


_ids = st.one_of(
    _texts, _binaries, st.uuids(), st.integers(-300, 2**64 + 5), st.floats(), st.just(True)
)
_app_property_keys = st.one_of(_texts, _binaries, _ints.filter(lambda n: -5 < n < 5))
_annotation_keys = st.one_of(
    st.text(max_size=20).map(lambda t: "x-opt-" + t),
    _binaries,
    st.integers(-300, 2**64 + 5),
    st.just(b"x-opt-partition-key"),
)


@st.composite
def _headers(draw: st.DrawFn) -> AmqpMessageHeader | None:
    if draw(st.booleans()):
        return None
    return AmqpMessageHeader(  # type: ignore[no-untyped-call]
        durable=draw(_maybe(st.booleans())),
        priority=draw(_maybe(st.integers(-300, 300))),
        time_to_live=draw(_maybe(st.integers(-300, 2**32 + 5))),
        first_acquirer=draw(_maybe(st.booleans())),
        delivery_count=draw(_maybe(st.integers(0, 2**32 + 5))),
    )


@st.composite
def _properties(draw: st.DrawFn) -> AmqpMessageProperties | None:
    if draw(st.booleans()):
        return None
    times = _maybe(st.integers(-(2**40), 2**45) | st.just(0))
    return AmqpMessageProperties(  # type: ignore[no-untyped-call]
        message_id=draw(_maybe(_ids)),
        user_id=draw(_maybe(_binaries)),
        to=draw(_maybe(_texts)),
        subject=draw(_maybe(_texts)),
        reply_to=draw(_maybe(_texts)),
        correlation_id=draw(_maybe(_ids)),
        content_type=draw(_maybe(st.text(max_size=20))),
        content_encoding=draw(_maybe(st.text(max_size=20))),
        creation_time=draw(times),
        absolute_expiry_time=draw(times),
        group_id=draw(_maybe(_texts)),
        group_sequence=draw(_maybe(st.integers(0, 2**32 + 5))),
        reply_to_group_id=draw(_maybe(_texts)),
    )


def _sections(draw: st.DrawFn, message: AmqpAnnotatedMessage, vals: st.SearchStrategy[Any]) -> None:
    """Fill the sections of *message* other than the body, each sometimes."""
    if draw(st.booleans()):
        setattr(message, "header", draw(_headers()))  # noqa: B010 - None too
    if draw(st.booleans()):
        setattr(message, "properties", draw(_properties()))  # noqa: B010
    if draw(st.booleans()):
        application_properties = st.dictionaries(_app_property_keys, vals, max_size=4)
        setattr(message, "application_properties", draw(application_properties | st.none()))  # noqa: B010
    for name in ("annotations", "delivery_annotations", "footer"):
        if draw(st.booleans()):
            setattr(
                message, name, draw(st.dictionaries(_annotation_keys, vals, max_size=3) | st.none())
            )


_data_bodies = _binaries | _texts | st.lists(_binaries | _texts, max_size=3)


@st.composite
def event_datas(draw: st.DrawFn, vals: st.SearchStrategy[Any] = any_values) -> EventData:
    """An ``EventData`` with a data body and any of its other sections set."""
    body: Any = draw(_data_bodies)
    event = EventData(body)
    if draw(st.booleans()):
        event.properties = draw(st.dictionaries(_texts, vals, max_size=4))
    if draw(st.booleans()):
        event.message_id = draw(_ids)
    if draw(st.booleans()):
        event.correlation_id = draw(_ids)
    if draw(st.booleans()):
        event.content_type = draw(st.text(max_size=20))
    if draw(st.booleans()):
        _sections(draw, event.raw_amqp_message, vals)
    return event


@st.composite
def annotated_messages(
    draw: st.DrawFn, vals: st.SearchStrategy[Any] = any_values
) -> AmqpAnnotatedMessage:
    """An ``AmqpAnnotatedMessage`` with a body of each type and any sections set."""
    kind = draw(st.sampled_from(["data_body", "sequence_body", "value_body"]))
    body: Any
    if kind == "data_body":
        body = draw(_data_bodies)
    elif kind == "sequence_body":
        body = draw(st.lists(st.lists(vals, max_size=3), max_size=3) | st.lists(vals, max_size=3))
    else:
        body = draw(vals)
    message = AmqpAnnotatedMessage(**{kind: body})
    _sections(draw, message, vals)
    return message


def messages(vals: st.SearchStrategy[Any] = any_values) -> st.SearchStrategy[AmqpAnnotatedMessage]:
    """Messages of either kind, as ``AmqpAnnotatedMessage`` (an event's raw message)."""
    return annotated_messages(vals) | event_datas(vals).map(lambda e: e.raw_amqp_message)
