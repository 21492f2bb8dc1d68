"""AMQP 1.0 compound values, and the dispatch by Python type, exactly as azure-eventhub.

Each function mirrors its namesake in azure-eventhub's ``_pyamqp/_encode.py``: the same
constructor choices (``bool`` as ``0x56 0x01``, ``int`` as a 32-bit AMQP int, the
``abs()`` of unsigned values), the same ranges and the same exception classes, so that an
event encodes to the same bytes and is refused with the same error. Only the cost
differs: azure wraps every value in a ``{"TYPE": ..., "VALUE": ...}`` dict before
encoding it; these functions take the value and the AMQP type directly.

A ``dict`` with a ``"TYPE"`` key naming an AMQP type (``"LONG"``, ``"SYMBOL"``...) and a
``"VALUE"`` key is azure's way to send a value with an explicit type: it is honoured
wherever azure honours it. When a typed encoder cannot take its value (a ``TypeError``
or ``KeyError``), azure writes the ``dict`` itself as an AMQP map instead; so does this.

Every encoder appends to *out* and takes ``wc`` (write the constructor) and ``us`` (use
the smallest encoding), azure's ``with_constructor`` and ``use_smallest``.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from ._scalars import (
    _B,
    _L,
    DECIMAL128,
    Encoder,
    Out,
    encode_binary,
    encode_boolean,
    encode_byte,
    encode_decimal128,
    encode_double,
    encode_float,
    encode_int,
    encode_long,
    encode_null,
    encode_short,
    encode_string,
    encode_symbol,
    encode_timestamp,
    encode_ubyte,
    encode_uint,
    encode_ulong,
    encode_ushort,
    encode_uuid,
)

__all__ = ["TYPED", "encode_typed", "encode_unknown", "encode_value"]


def _compound(
    out: Out, body: Out, count: int, wc: bool, us: bool, small: int, large: int, what: str
) -> None:
    size = len(body)
    if us and count <= 255 and size < 255:
        if wc:
            out.append(small)
        out.append(size + 1)
        out.append(count)
    else:
        try:
            if wc:
                out.append(large)
            out += _L(size + 4)
            out += _L(count)
        except struct.error as exc:
            raise ValueError(what) from exc
    out += body


def encode_list(out: Out, value: Any, wc: bool = True, us: bool = True) -> None:
    count = len(value)
    if us and count == 0:
        out += b"\x45"
        return
    body = bytearray()
    for item in value:
        encode_value(body, item)
    _compound(out, body, count, wc, us, 0xC0, 0xD0, "List is too large or too long to be encoded.")


def encode_map(out: Out, value: Any, wc: bool = True, us: bool = True) -> None:
    count = len(value) * 2
    items: Iterable[Any] = value.items() if isinstance(value, dict) else value
    body = bytearray()
    for key, data in items:
        encode_value(body, key)
        encode_value(body, data)
    _compound(out, body, count, wc, us, 0xC1, 0xD1, "Map is too large or too long to be encoded.")


def _check_element_type(item: Any, element_type: Any) -> Any:
    if not element_type:
        try:
            return item["TYPE"]
        except (KeyError, TypeError):
            return type(item)
    try:
        if item["TYPE"] != element_type:
            raise TypeError("All elements in an array must be the same type.")
    except (KeyError, TypeError) as exc:
        if not isinstance(item, element_type):
            raise TypeError("All elements in an array must be the same type.") from exc
    return element_type


def encode_array(out: Out, value: Any, wc: bool = True, us: bool = True) -> None:
    count = len(value)
    size = 0
    body = bytearray()
    first = True
    element_type = None
    for item in value:
        element_type = _check_element_type(item, element_type)
        encode_value(body, item, first, False)
        first = False
        if item is None:
            size -= 1
            break
    size += len(body)
    if us and count <= 255 and size < 255:
        if wc:
            out.append(0xE0)
        out += _B(size + 1)
        out += _B(count)
    else:
        try:
            if wc:
                out.append(0xF0)
            out += _L(size + 4)
            out += _L(count)
        except struct.error as exc:
            raise ValueError("Array is too large or too long to be encoded.") from exc
    out += body


def encode_described(out: Out, value: Any, wc: bool = True, us: bool = True) -> None:
    out += b"\x00"
    encode_value(out, value[0], wc, us)
    encode_value(out, value[1], wc, us)


def encode_unknown(out: Out, value: Any, wc: bool = True, us: bool = True) -> None:
    """Encode *value* by its Python type, as azure's ``encode_unknown``.

    :raises TypeError: for a type AMQP has no encoding for (or, before azure-eventhub
        5.15, a ``Decimal``).
    :raises ValueError: for a value out of its AMQP type's range (an ``int`` outside 32
        bits, say).
    """
    if value is None:
        out += b"\x40"
    elif isinstance(value, bool):
        encode_boolean(out, value, wc)
    elif isinstance(value, str):
        encode_string(out, value, wc, us)
    elif isinstance(value, uuid.UUID):
        encode_uuid(out, value, wc)
    elif isinstance(value, (bytearray, bytes)):
        encode_binary(out, value, wc, us)
    elif isinstance(value, float):
        encode_double(out, value, wc)
    elif isinstance(value, int):
        encode_int(out, value, wc, us)
    elif isinstance(value, datetime):
        encode_timestamp(out, value, wc)
    elif isinstance(value, list):
        encode_list(out, value, wc, us)
    elif isinstance(value, tuple):
        encode_described(out, value, wc, us)
    elif isinstance(value, dict):
        encode_map(out, value, wc, us)
    elif DECIMAL128 and isinstance(value, Decimal):
        encode_decimal128(out, value, wc)
    else:
        raise TypeError(f"Unable to encode unknown value: {value}")


def encode_value(out: Out, value: Any, wc: bool = True, us: bool = True) -> None:
    """Encode *value*, honouring a ``{"TYPE": ..., "VALUE": ...}`` dict as azure does."""
    if isinstance(value, dict):
        try:
            TYPED[value["TYPE"]](out, value["VALUE"], wc, us)
        except (KeyError, TypeError):
            encode_unknown(out, value, wc, us)
    else:
        encode_unknown(out, value, wc, us)


def encode_typed(out: Out, type_name: Any, value: Any, wc: bool = True, us: bool = True) -> None:
    """Encode *value* as AMQP type *type_name*, as azure encodes ``{"TYPE": t, "VALUE": v}``."""
    try:
        TYPED[type_name](out, value, wc, us)
    except (KeyError, TypeError):
        encode_unknown(out, {"TYPE": type_name, "VALUE": value}, wc, us)


#: azure's ``AMQPTypes`` names (the ``"TYPE"`` of a typed value) and their encoders
TYPED: dict[object, Encoder] = {
    None: encode_unknown,
    "NULL": encode_null,
    "BOOL": encode_boolean,
    "UBYTE": encode_ubyte,
    "BYTE": encode_byte,
    "USHORT": encode_ushort,
    "SHORT": encode_short,
    "UINT": encode_uint,
    "INT": encode_int,
    "ULONG": encode_ulong,
    "LONG": encode_long,
    "FLOAT": encode_float,
    "DOUBLE": encode_double,
    "TIMESTAMP": encode_timestamp,
    "UUID": encode_uuid,
    "BINARY": encode_binary,
    "STRING": encode_string,
    "SYMBOL": encode_symbol,
    "LIST": encode_list,
    "MAP": encode_map,
    "ARRAY": encode_array,
    "DESCRIBED": encode_described,
}
if DECIMAL128:
    TYPED["DECIMAL128"] = encode_decimal128
