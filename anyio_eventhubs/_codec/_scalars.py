"""AMQP 1.0 scalar encoders that write exactly what azure-eventhub's encoder writes.

Each function mirrors its namesake in azure-eventhub's ``_pyamqp/_encode.py``: the same
constructor choices (``bool`` as ``0x56 0x01``, the ``abs()`` of unsigned values), the
same ranges and the same exception classes and messages. Every encoder appends to *out*
and takes ``wc`` (write the constructor) and ``us`` (use the smallest encoding), azure's
``with_constructor`` and ``use_smallest``.
"""

from __future__ import annotations

import calendar
import struct
import uuid
from collections.abc import Callable
from datetime import datetime
from importlib import metadata
from typing import Any

__all__ = [
    "DECIMAL128",
    "Encoder",
    "Out",
    "timestamp_ms",
]

Out = bytearray
Encoder = Callable[[Out, Any, bool, bool], None]

_B = struct.Struct(">B").pack
_b = struct.Struct(">b").pack
_H = struct.Struct(">H").pack
_h = struct.Struct(">h").pack
_I = struct.Struct(">I").pack
_i = struct.Struct(">i").pack
_Q = struct.Struct(">Q").pack
_q = struct.Struct(">q").pack
_f = struct.Struct(">f").pack
_d = struct.Struct(">d").pack
_L = _I


def _azure_encodes_decimals() -> bool:
    """azure-eventhub encodes ``Decimal`` as decimal128 from 5.15 on (azure-sdk PR #39511)."""
    try:
        version = metadata.version("azure-eventhub")
    except metadata.PackageNotFoundError:  # pragma: no cover - azure is a dependency
        return True
    major, minor = (int(part) for part in version.split(".")[:2])
    return (major, minor) >= (5, 15)


#: whether ``Decimal`` values are encoded (as azure-eventhub >= 5.15 does) or refused
DECIMAL128 = _azure_encodes_decimals()


def timestamp_ms(value: datetime) -> int:
    """Milliseconds since the epoch, computed as azure does (float arithmetic, truncated)."""
    return int((calendar.timegm(value.utctimetuple()) * 1000) + (value.microsecond / 1000))


def encode_null(out: Out, value: object = None, wc: bool = True, us: bool = True) -> None:
    out += b"\x40"


def encode_boolean(out: Out, value: object, wc: bool = True, us: bool = True) -> None:
    flag = bool(value)
    if wc:
        out += b"\x56\x01" if flag else b"\x56\x00"
    else:
        out += b"\x41" if flag else b"\x42"


def encode_ubyte(out: Out, value: Any, wc: bool = True, us: bool = True) -> None:
    try:
        value = int(value)
    except ValueError:
        value = ord(value)
    try:
        if wc:
            out += b"\x50"
        out += _B(abs(value))
    except struct.error as exc:
        raise ValueError("Unsigned byte value must be 0-255") from exc


def encode_ushort(out: Out, value: Any, wc: bool = True, us: bool = True) -> None:
    value = int(value)
    try:
        if wc:
            out += b"\x60"
        out += _H(abs(value))
    except struct.error as exc:
        raise ValueError("Unsigned byte value must be 0-65535") from exc


def _unsigned(out: Out, value: Any, wc: bool, us: bool, codes: bytes, pack: Any, what: str) -> None:
    value = int(value)
    if value == 0:
        out.append(codes[0])
        return
    try:
        if us and value <= 255:
            if wc:
                out.append(codes[1])
            out += _B(abs(value))
            return
        if wc:
            out.append(codes[2])
        out += pack(abs(value))
    except struct.error as exc:
        raise ValueError(f"Value supplied for {what} invalid: {value}") from exc


def encode_uint(out: Out, value: Any, wc: bool = True, us: bool = True) -> None:
    _unsigned(out, value, wc, us, b"\x43\x52\x70", _I, "unsigned int")


def encode_ulong(out: Out, value: Any, wc: bool = True, us: bool = True) -> None:
    _unsigned(out, value, wc, us, b"\x44\x53\x80", _Q, "unsigned long")


def encode_byte(out: Out, value: Any, wc: bool = True, us: bool = True) -> None:
    value = int(value)
    try:
        if wc:
            out += b"\x51"
        out += _b(value)
    except struct.error as exc:
        raise ValueError("Byte value must be -128-127") from exc


def encode_short(out: Out, value: Any, wc: bool = True, us: bool = True) -> None:
    value = int(value)
    try:
        if wc:
            out += b"\x61"
        out += _h(value)
    except struct.error as exc:
        raise ValueError("Short value must be -32768-32767") from exc


def encode_int(out: Out, value: Any, wc: bool = True, us: bool = True) -> None:
    value = int(value)
    try:
        if us and -128 <= value <= 127:
            if wc:
                out += b"\x54"
            out += _b(value)
            return
        if wc:
            out += b"\x71"
        out += _i(value)
    except struct.error as exc:
        raise ValueError(f"Value supplied for int invalid: {value}") from exc


def encode_long(out: Out, value: Any, wc: bool = True, us: bool = True) -> None:
    if isinstance(value, datetime):
        value = timestamp_ms(value)
    try:
        if us and -128 <= value <= 127:
            if wc:
                out += b"\x55"
            out += _b(value)
            return
        if wc:
            out += b"\x81"
        out += _q(value)
    except struct.error as exc:
        raise ValueError(f"Value supplied for long invalid: {value}") from exc


def encode_float(out: Out, value: Any, wc: bool = True, us: bool = True) -> None:
    value = float(value)
    if wc:
        out += b"\x72"
    out += _f(value)


def encode_double(out: Out, value: Any, wc: bool = True, us: bool = True) -> None:
    value = float(value)
    if wc:
        out += b"\x82"
    out += _d(value)


def encode_decimal128(out: Out, value: Any, wc: bool = True, us: bool = True) -> None:
    if wc:
        out += b"\x94"
    sign, digits, exponent = value.as_tuple()
    significand = int("".join(map(str, digits)))
    high = significand >> 64
    low = significand & ((1 << 64) - 1)
    if not isinstance(exponent, int):
        raise ValueError(f"Invalid exponent type: {type(exponent)}")
    biased = exponent + 6176
    if high >> 49 == 1:
        high = (high & 0x7FFFFFFFFFFF) | ((biased & 0x3FFF) << 47)
    else:
        high |= biased << 49
    high |= sign << 63
    out += _Q(high)
    out += _Q(low)


def encode_timestamp(out: Out, value: Any, wc: bool = True, us: bool = True) -> None:
    if isinstance(value, datetime):
        value = timestamp_ms(value)
    value = int(value)
    if wc:
        out += b"\x83"
    out += _q(value)  # azure lets struct.error escape here


def encode_uuid(out: Out, value: Any, wc: bool = True, us: bool = True) -> None:
    if isinstance(value, str):
        raw = uuid.UUID(value).bytes
    elif isinstance(value, uuid.UUID):
        raw = value.bytes
    elif isinstance(value, bytes):
        raw = uuid.UUID(bytes=value).bytes
    else:
        raise TypeError(f"Invalid UUID type: {type(value)}")
    if wc:
        out += b"\x98"
    out += raw


def _variable(out: Out, value: Any, wc: bool, us: bool, small: int, large: int, what: str) -> None:
    length = len(value)
    if us and length <= 255:
        if wc:
            out.append(small)
        out.append(length)
        out.extend(value)
        return
    try:
        if wc:
            out.append(large)
        out += _L(length)
        out.extend(value)
    except struct.error as exc:
        raise ValueError(what) from exc


def encode_binary(out: Out, value: Any, wc: bool = True, us: bool = True) -> None:
    _variable(out, value, wc, us, 0xA0, 0xB0, "Binary data to long to encode")


def encode_string(out: Out, value: Any, wc: bool = True, us: bool = True) -> None:
    if isinstance(value, str):
        value = value.encode("utf-8")
    _variable(out, value, wc, us, 0xA1, 0xB1, "String value too long to encode.")


def encode_symbol(out: Out, value: Any, wc: bool = True, us: bool = True) -> None:
    if isinstance(value, str):
        value = value.encode("utf-8")
    _variable(out, value, wc, us, 0xA3, 0xB3, "Symbol value too long to encode.")
