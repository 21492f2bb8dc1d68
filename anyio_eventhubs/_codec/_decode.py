"""Decode AMQP 1.0 messages into ``EventData``, as azure-eventhub's consumer sees them.

Values decode as azure-eventhub's decoder gives them to a consumer: strings and symbols
as ``bytes``, timestamps as milliseconds (``int``), a described value as its value
(or ``{"accepted": value}`` and the like for a delivery state). The ``EventData`` is
built with azure's public constructors and setters only.
"""

from __future__ import annotations

import decimal
import struct
import uuid
from collections.abc import Callable
from typing import Any

__all__ = ["decode_message", "decode_value"]

_u16 = struct.Struct(">H").unpack_from
_i16 = struct.Struct(">h").unpack_from
_u32 = struct.Struct(">I").unpack_from
_i32 = struct.Struct(">i").unpack_from
_u64 = struct.Struct(">Q").unpack_from
_i64 = struct.Struct(">q").unpack_from
_f32 = struct.Struct(">f").unpack_from
_f64 = struct.Struct(">d").unpack_from
_i8 = struct.Struct(">b").unpack_from

_COMPOSITES = {35: "received", 36: "accepted", 37: "rejected", 38: "released", 39: "modified"}

Decoder = Callable[[bytes, int], tuple[Any, int]]


def _decimal128(buf: bytes, pos: int) -> tuple[Any, int]:
    # azure-eventhub 5.15's reading of a decimal128, kept as it is
    raw = bytearray(buf[pos : pos + 16])
    end = pos + 16
    sign = 1 if raw[0] & 0x80 else 0
    if raw[0] & 0x60 != 0x60:
        biased = ((raw[0] & 0x7F) << 9) | ((raw[1] & 0xFE) >> 1)
        raw[0] = 0
        raw[1] &= 0x01
    elif raw[0] & 0x78 != 0:
        return decimal.Decimal("NaN" if raw[0] & 0x78 == 0x78 else "-Infinity"), end
    else:
        return decimal.Decimal(0), end
    hi, middle, lo = _u32(raw, 4)[0], _u32(raw, 8)[0], _u32(raw, 12)[0]
    digits = tuple(int(d) for d in f"{hi:08}{middle:08}{lo:08}".lstrip("0"))
    context = decimal.Context(prec=34, Emin=-6143, Emax=6144, capitals=1, clamp=1)
    with decimal.localcontext(context) as ctx:
        return ctx.create_decimal((sign, digits, biased - 6176)), end


def _items(buf: bytes, pos: int, count: int) -> tuple[list[Any], int]:
    values = []
    for _ in range(count):
        code = buf[pos]
        value, pos = _DECODERS[code](buf, pos + 1)
        values.append(value)
    return values, pos


def _pairs(buf: bytes, pos: int, count: int) -> tuple[dict[Any, Any], int]:
    values = {}
    for _ in range(count // 2):
        key, pos = _DECODERS[buf[pos]](buf, pos + 1)
        value, pos = _DECODERS[buf[pos]](buf, pos + 1)
        values[key] = value
    return values, pos


def _array(buf: bytes, pos: int, count: int) -> tuple[list[Any], int]:
    if not count:
        return [], pos
    decode = _DECODERS[buf[pos]]
    pos += 1
    values = []
    for _ in range(count):
        value, pos = decode(buf, pos)
        values.append(value)
    return values, pos


def _described(buf: bytes, pos: int) -> tuple[Any, int]:
    descriptor, pos = _DECODERS[buf[pos]](buf, pos + 1)
    value, pos = _DECODERS[buf[pos]](buf, pos + 1)
    try:
        return {_COMPOSITES[descriptor]: value}, pos
    except KeyError:  # an unhashable descriptor is a TypeError, as in azure
        return value, pos


def _fixed(width: int, read: Callable[[bytes, int], Any]) -> Decoder:
    return lambda buf, pos: (read(buf, pos), pos + width)


def _const(value: Any) -> Decoder:
    return lambda buf, pos: (value() if callable(value) else value, pos)


def _bytes8(buf: bytes, pos: int) -> tuple[bytes, int]:
    end = pos + 1 + buf[pos]
    return buf[pos + 1 : end], end


def _bytes32(buf: bytes, pos: int) -> tuple[bytes, int]:
    end = pos + 4 + _u32(buf, pos)[0]
    return buf[pos + 4 : end], end


# as azure's decoder, a list, map or array ends where its last item ends: the size
# field is not read (so bytes azure cannot read back, this cannot either)
def _compound8(inner: Callable[[bytes, int, int], tuple[Any, int]]) -> Decoder:
    return lambda buf, pos: inner(buf, pos + 2, buf[pos + 1])


def _compound32(inner: Callable[[bytes, int, int], tuple[Any, int]]) -> Decoder:
    def decode(buf: bytes, pos: int) -> tuple[Any, int]:
        return inner(buf, pos + 8, _u32(buf, pos + 4)[0])

    return decode


def _unknown(code: int) -> Decoder:
    def fail(buf: bytes, pos: int) -> tuple[Any, int]:
        raise ValueError(f"unknown AMQP constructor 0x{code:02x} at {pos - 1}")

    return fail


_DECODERS: list[Decoder] = [_unknown(code) for code in range(256)]
_DECODERS[0x00] = _described
_DECODERS[0x40] = _const(None)
_DECODERS[0x41] = _const(True)
_DECODERS[0x42] = _const(False)
_DECODERS[0x43] = _DECODERS[0x44] = _const(0)
_DECODERS[0x45] = _const(list)
_DECODERS[0x56] = _fixed(1, lambda buf, pos: buf[pos] == 1)
_DECODERS[0x50] = _DECODERS[0x52] = _DECODERS[0x53] = _fixed(1, lambda buf, pos: buf[pos])
_DECODERS[0x51] = _DECODERS[0x54] = _DECODERS[0x55] = _fixed(1, lambda b, p: _i8(b, p)[0])
_DECODERS[0x60] = _fixed(2, lambda buf, pos: _u16(buf, pos)[0])
_DECODERS[0x61] = _fixed(2, lambda buf, pos: _i16(buf, pos)[0])
_DECODERS[0x70] = _fixed(4, lambda buf, pos: _u32(buf, pos)[0])
_DECODERS[0x71] = _fixed(4, lambda buf, pos: _i32(buf, pos)[0])
_DECODERS[0x72] = _fixed(4, lambda buf, pos: _f32(buf, pos)[0])
_DECODERS[0x80] = _fixed(8, lambda buf, pos: _u64(buf, pos)[0])
_DECODERS[0x81] = _DECODERS[0x83] = _fixed(8, lambda buf, pos: _i64(buf, pos)[0])
_DECODERS[0x82] = _fixed(8, lambda buf, pos: _f64(buf, pos)[0])
_DECODERS[0x94] = _decimal128
_DECODERS[0x98] = _fixed(16, lambda buf, pos: uuid.UUID(bytes=bytes(buf[pos : pos + 16])))
_DECODERS[0xA0] = _DECODERS[0xA1] = _DECODERS[0xA3] = _bytes8
_DECODERS[0xB0] = _DECODERS[0xB1] = _DECODERS[0xB3] = _bytes32
_DECODERS[0xC0] = _compound8(_items)
_DECODERS[0xC1] = _compound8(_pairs)
_DECODERS[0xD0] = _compound32(_items)
_DECODERS[0xD1] = _compound32(_pairs)
_DECODERS[0xE0] = _compound8(_array)
_DECODERS[0xF0] = _compound32(_array)


def decode_value(buf: bytes, pos: int = 0) -> tuple[Any, int]:
    """Decode the AMQP value at *pos*; return it and the position after it.

    :raises ValueError: on a constructor AMQP does not define.
    :raises IndexError: if *buf* ends inside the value.
    """
    return _DECODERS[buf[pos]](buf, pos + 1)


def _sections(buf: bytes) -> dict[int, Any]:
    sections: dict[int, Any] = {}
    pos = 0
    while pos < len(buf):
        if buf[pos] != 0x00:
            raise ValueError(f"expected a message section at {pos}, found 0x{buf[pos]:02x}")
        code, pos = decode_value(buf, pos + 1)
        value, pos = decode_value(buf, pos)
        if code in (0x75, 0x76):
            sections.setdefault(code, []).append(value)
        else:
            sections[code] = value
    return sections


def decode_message(encoded: bytes) -> Any:
    """Decode one encoded AMQP message into an ``EventData``, as a consumer would see it.

    :raises ValueError: if *encoded* is not an AMQP message.
    """
    from azure.eventhub import EventData
    from azure.eventhub.amqp import AmqpMessageHeader, AmqpMessageProperties

    sections = _sections(bytes(encoded))
    header = properties = None
    if 0x70 in sections:
        fields = [*sections[0x70], None, None, None, None, None][:5]
        durable, priority, ttl, first_acquirer, delivery_count = fields
        header = AmqpMessageHeader(  # type: ignore[no-untyped-call]
            delivery_count=delivery_count,
            time_to_live=ttl,
            first_acquirer=first_acquirer,
            durable=durable,
            priority=priority,
        )
    if 0x73 in sections:
        names = (
            "message_id", "user_id", "to", "subject", "reply_to", "correlation_id",
            "content_type", "content_encoding", "absolute_expiry_time", "creation_time",
            "group_id", "group_sequence", "reply_to_group_id",
        )  # fmt: skip
        properties = AmqpMessageProperties(  # type: ignore[no-untyped-call]
            **dict(zip(names, sections[0x73], strict=False))
        )
    data = sections.get(0x75)
    event = EventData(data if data else b"")
    message = event.raw_amqp_message
    if not data:
        # a sequence or value body: no EventData constructor takes one, so the event's
        # message is initialised again with AmqpAnnotatedMessage's public keywords
        if 0x76 in sections:
            message.__init__(sequence_body=sections[0x76])  # type: ignore[misc]
        else:
            message.__init__(value_body=sections.get(0x77))  # type: ignore[misc]
    message.header = header  # type: ignore[assignment]
    message.properties = properties  # type: ignore[assignment]
    message.application_properties = sections.get(0x74) or {}
    message.annotations = sections.get(0x72) or {}
    message.delivery_annotations = sections.get(0x71) or {}
    message.footer = sections.get(0x78) or {}
    return event
