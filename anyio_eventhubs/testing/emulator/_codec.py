"""A small AMQP 1.0 type codec: skip, decode and encode values.

The emulator moves events as raw bytes and only decodes what it needs (a partition key,
a management request, an event a test reads back). Symbols decode to :class:`Symbol`, a
``str`` subclass, so they compare equal to plain strings; timestamps decode to aware
``datetime`` objects in UTC (and ``datetime`` objects encode as timestamps).
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

__all__ = [
    "Described",
    "Encoded",
    "Symbol",
    "datetime_from_ms",
    "decode_value",
    "encode_int",
    "encode_long",
    "encode_map_entries",
    "encode_string",
    "encode_symbol",
    "encode_timestamp_ms",
    "encode_value",
    "skip_value",
    "timestamp_ms",
]


class Symbol(str):
    """An AMQP symbol (a ``str`` that encodes as ``symbol`` rather than ``string``)."""

    __slots__ = ()


class Encoded(bytes):
    """Bytes that are already an encoded AMQP value; :func:`encode_value` copies them."""

    __slots__ = ()


class Described(NamedTuple):
    """A described value whose descriptor the codec does not interpret."""

    descriptor: object
    value: object


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# constructor -> width of a fixed-width value (bytes after the constructor)
_FIXED = {0x40: 0, 0x41: 0, 0x42: 0, 0x43: 0, 0x44: 0, 0x45: 0}
_FIXED.update(dict.fromkeys(range(0x50, 0x57), 1))
_FIXED.update({0x60: 2, 0x61: 2})
_FIXED.update(dict.fromkeys(range(0x70, 0x75), 4))
_FIXED.update(dict.fromkeys(range(0x80, 0x85), 8))
_FIXED.update({0x94: 16, 0x98: 16})
_SIZE8 = frozenset({0xA0, 0xA1, 0xA3, 0xC0, 0xC1, 0xE0})
_SIZE32 = frozenset({0xB0, 0xB1, 0xB3, 0xD0, 0xD1, 0xF0})


class _Struct(struct.Struct):
    """``struct.Struct`` whose ``unpack_from`` past the end is a ``ValueError`` (malformed
    input, which the server catches), not a ``struct.error``."""

    def unpack_from(self, buffer: Any, offset: int = 0) -> tuple[Any, ...]:
        try:
            return super().unpack_from(buffer, offset)
        except struct.error as exc:
            raise ValueError(f"a value runs past the end of the frame ({exc})") from None


_u16 = _Struct(">H")
_i16 = _Struct(">h")
_u32 = _Struct(">I")
_i32 = _Struct(">i")
_u64 = _Struct(">Q")
_i64 = _Struct(">q")
_f32 = _Struct(">f")
_f64 = _Struct(">d")


def skip_value(buf: bytes, pos: int) -> int:
    """Return the position just after the encoded value that starts at ``pos``.

    :raises ValueError: on an unknown constructor or a value running past the buffer.
    """
    code = buf[pos]
    if code == 0x00:
        return skip_value(buf, skip_value(buf, pos + 1))
    width = _FIXED.get(code)
    if width is not None:
        end = pos + 1 + width
    elif code in _SIZE8:
        end = pos + 2 + buf[pos + 1]
    elif code in _SIZE32:
        end = pos + 5 + _u32.unpack_from(buf, pos + 1)[0]
    else:
        raise ValueError(f"unknown AMQP constructor 0x{code:02x} at {pos}")
    if end > len(buf):
        raise ValueError("AMQP value runs past the end of the buffer")
    return end


def timestamp_ms(value: datetime) -> int:
    """Milliseconds since the epoch of an aware (or UTC-naive) ``datetime``."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH) // timedelta(milliseconds=1)


def datetime_from_ms(ms: int) -> datetime:
    """The UTC ``datetime`` of milliseconds since the epoch.

    :raises OverflowError: outside ``datetime``'s range.
    """
    return _EPOCH + timedelta(milliseconds=ms)


def _to_datetime(ms: int) -> datetime | int:
    try:
        return datetime_from_ms(ms)
    except OverflowError:
        return ms  # a timestamp datetime cannot hold stays a number


def _decode_fixed(code: int, buf: bytes, pos: int) -> Any:
    if code == 0x40:
        return None
    if code == 0x41:
        return True
    if code == 0x42:
        return False
    if code in (0x43, 0x44):
        return 0
    if code == 0x45:
        return []
    if code == 0x56:
        return buf[pos] != 0
    if code in (0x50, 0x52, 0x53):
        return buf[pos]
    if code in (0x51, 0x54, 0x55):
        return buf[pos] - 256 if buf[pos] > 127 else buf[pos]
    if code == 0x60:
        return _u16.unpack_from(buf, pos)[0]
    if code == 0x61:
        return _i16.unpack_from(buf, pos)[0]
    if code == 0x70:
        return _u32.unpack_from(buf, pos)[0]
    if code == 0x71:
        return _i32.unpack_from(buf, pos)[0]
    if code == 0x72:
        return _f32.unpack_from(buf, pos)[0]
    if code == 0x73:
        return chr(_u32.unpack_from(buf, pos)[0])
    if code == 0x80:
        return _u64.unpack_from(buf, pos)[0]
    if code == 0x81:
        return _i64.unpack_from(buf, pos)[0]
    if code == 0x82:
        return _f64.unpack_from(buf, pos)[0]
    if code == 0x83:
        return _to_datetime(_i64.unpack_from(buf, pos)[0])
    if code == 0x98:
        return uuid.UUID(bytes=bytes(buf[pos : pos + 16]))
    return bytes(buf[pos : pos + _FIXED[code]])  # decimals stay raw


def _decode_items(buf: bytes, pos: int, count: int) -> tuple[list[Any], int]:
    items = []
    for _ in range(count):
        item, pos = decode_value(buf, pos)
        items.append(item)
    return items, pos


def _decode_array(buf: bytes, pos: int, count: int) -> list[Any]:
    # every element shares one constructor (possibly a described one)
    descriptor: object = None
    described = buf[pos] == 0x00
    if described:
        descriptor, pos = decode_value(buf, pos + 1)
    code = buf[pos]
    pos += 1
    items: list[Any] = []
    for _ in range(count):
        item, pos = decode_value(buf, pos, code)
        items.append(Described(descriptor, item) if described else item)
    return items


def decode_value(buf: bytes, pos: int, code: int | None = None) -> tuple[Any, int]:
    """Decode the value at ``pos``; return it and the position after it.

    ``code`` is given for array elements, which share one constructor.
    """
    if code is None:
        code = buf[pos]
        pos += 1
    if code == 0x00:
        descriptor, pos = decode_value(buf, pos)
        value, pos = decode_value(buf, pos)
        return Described(descriptor, value), pos
    width = _FIXED.get(code)
    if width is not None:
        return _decode_fixed(code, buf, pos), pos + width
    if code in _SIZE8:
        size, count, start = buf[pos], (buf[pos + 1] if code >= 0xC0 else 0), pos + 1
    elif code in _SIZE32:
        size = _u32.unpack_from(buf, pos)[0]
        count = _u32.unpack_from(buf, pos + 4)[0] if code >= 0xD0 else 0
        start = pos + 4
    else:
        raise ValueError(f"unknown AMQP constructor 0x{code:02x} at {pos - 1}")
    end = start + size
    if end > len(buf):
        raise ValueError("AMQP value runs past the end of the buffer")
    raw = bytes(buf[start:end])
    if code in (0xA0, 0xB0):
        return raw, end
    if code in (0xA1, 0xB1):
        return raw.decode("utf-8"), end
    if code in (0xA3, 0xB3):
        return Symbol(raw.decode("utf-8")), end
    first = start + (1 if code in _SIZE8 else 4)
    if code in (0xC0, 0xD0):
        return _decode_items(buf, first, count)[0], end
    if code in (0xC1, 0xD1):
        flat, _ = _decode_items(buf, first, count)
        return {_hashable(k): v for k, v in zip(flat[::2], flat[1::2], strict=False)}, end
    return _decode_array(buf, first, count), end


def _hashable(key: object) -> object:
    return tuple(key) if isinstance(key, list) else key


# --- encoding -------------------------------------------------------------------------


def _sized(code8: int, code32: int, raw: bytes) -> bytes:
    if len(raw) <= 255:
        return bytes((code8, len(raw))) + raw
    return bytes((code32,)) + _u32.pack(len(raw)) + raw


def encode_symbol(value: str) -> bytes:
    """Encode ``value`` as an AMQP symbol."""
    return _sized(0xA3, 0xB3, value.encode("ascii"))


def encode_string(value: str) -> bytes:
    """Encode ``value`` as an AMQP string."""
    return _sized(0xA1, 0xB1, value.encode("utf-8"))


def encode_long(value: int) -> bytes:
    """Encode ``value`` as an AMQP long."""
    if -128 <= value <= 127:
        return b"\x55" + struct.pack(">b", value)
    return b"\x81" + _i64.pack(value)


def encode_int(value: int) -> bytes:
    """Encode ``value`` as an AMQP int."""
    if -128 <= value <= 127:
        return b"\x54" + struct.pack(">b", value)
    return b"\x71" + _i32.pack(value)


def encode_timestamp_ms(value: int) -> bytes:
    """Encode milliseconds since the epoch as an AMQP timestamp."""
    return b"\x83" + _i64.pack(value)


def _compound(code8: int, code32: int, count: int, body: bytes) -> bytes:
    if len(body) + 1 <= 255 and count <= 255:
        return bytes((code8, len(body) + 1, count)) + body
    return bytes((code32,)) + _u32.pack(len(body) + 4) + _u32.pack(count) + body


def encode_map_entries(count: int, entries: bytes) -> bytes:
    """Encode a map from ``count`` already encoded keys and values (``2 * pairs``)."""
    return _compound(0xC1, 0xD1, count, entries)


def encode_value(value: object) -> bytes:
    """Encode a Python value with the natural AMQP type.

    ``None``, ``bool``, ``int`` (long), ``float`` (double),
    :class:`Symbol`, ``str`` (string), ``bytes`` (binary), ``uuid.UUID``, ``datetime``
    (timestamp), lists, tuples and mappings, :class:`Described`, and :class:`Encoded`
    (copied verbatim).
    """
    if value is None:
        return b"\x40"
    if isinstance(value, Encoded):
        return bytes(value)
    if isinstance(value, bool):
        return b"\x41" if value else b"\x42"
    if isinstance(value, int):
        return encode_long(value)
    if isinstance(value, float):
        return b"\x82" + _f64.pack(value)
    if isinstance(value, Symbol):
        return encode_symbol(value)
    if isinstance(value, str):
        return encode_string(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _sized(0xA0, 0xB0, bytes(value))
    if isinstance(value, uuid.UUID):
        return b"\x98" + value.bytes
    if isinstance(value, datetime):
        return encode_timestamp_ms(timestamp_ms(value))
    if isinstance(value, Described):
        return b"\x00" + encode_value(value.descriptor) + encode_value(value.value)
    if isinstance(value, Mapping):
        body = b"".join(encode_value(k) + encode_value(v) for k, v in value.items())
        return encode_map_entries(2 * len(value), body)
    if isinstance(value, Sequence):
        return _compound(0xC0, 0xD0, len(value), b"".join(encode_value(v) for v in value))
    raise TypeError(f"cannot encode {type(value).__name__} as AMQP")
