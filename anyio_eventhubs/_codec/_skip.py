"""Stepping over an encoded AMQP value without decoding it.

Used where encoded messages are read or extended in place: stamping the idempotent
annotations (``_azure/_stamp``) and finding an event's trace context
(``_telemetry/_context``).
"""

from __future__ import annotations

import struct

__all__ = ["skip_value"]

_u32 = struct.Struct(">I")

#: constructors of fixed width: the bytes that follow the constructor
_WIDTHS = dict.fromkeys(range(0x40, 0x46), 0)
_WIDTHS.update(dict.fromkeys(range(0x50, 0x57), 1))
_WIDTHS.update({0x60: 2, 0x61: 2, 0x94: 16, 0x98: 16})
_WIDTHS.update(dict.fromkeys(range(0x70, 0x75), 4))
_WIDTHS.update(dict.fromkeys(range(0x80, 0x85), 8))
#: variable width, with a one-byte size, and with a four-byte size
_SHORT = frozenset((0xA0, 0xA1, 0xA3, 0xC0, 0xC1, 0xE0))
_LONG = frozenset((0xB0, 0xB1, 0xB3, 0xD0, 0xD1, 0xF0))


def skip_value(buf: bytes, pos: int) -> int:
    """The position after the AMQP value at *pos*.

    :raises ValueError: for a constructor byte that is not AMQP's.
    """
    code = buf[pos]
    if code == 0x00:  # described: a descriptor, then the value
        return skip_value(buf, skip_value(buf, pos + 1))
    width = _WIDTHS.get(code)
    if width is not None:
        return pos + 1 + width
    if code in _SHORT:
        return pos + 2 + buf[pos + 1]
    if code in _LONG:
        return pos + 5 + int(_u32.unpack_from(buf, pos + 1)[0])
    raise ValueError(f"unknown AMQP constructor 0x{code:02x} at byte {pos}")
