"""Stamping an encoded event with the idempotent producer's three annotations.

Events are encoded once, when queued; at send time an idempotent producer adds
``com.microsoft:producer-id`` (long), ``com.microsoft:producer-epoch`` (short) and
``com.microsoft:producer-sequence-number`` (int) to each event's message annotations.
:func:`stamp` splices them into the encoded bytes (a new annotations section after the
header and delivery annotations, or the existing map extended) without decoding the rest.
Values are fixed-width, so an event grows by at most 120 bytes
(:data:`RESERVED_BYTES_PER_EVENT` with its batch wrapping). Pure code: no I/O.
"""

from __future__ import annotations

import struct

from .._codec._skip import skip_value

__all__ = [
    "CAPABILITY",
    "OUT_OF_ORDER_SEQUENCE",
    "PRODUCER_EPOCH",
    "PRODUCER_EPOCH_STOLEN",
    "PRODUCER_ID",
    "PRODUCER_SEQUENCE_NUMBER",
    "RESERVED_BYTES_PER_EVENT",
    "next_sequence",
    "pack_int",
    "stamp",
    "stamp_entries",
]

CAPABILITY = "com.microsoft:idempotent-producer"
PRODUCER_ID = "com.microsoft:producer-id"
PRODUCER_EPOCH = "com.microsoft:producer-epoch"
PRODUCER_SEQUENCE_NUMBER = "com.microsoft:producer-sequence-number"
OUT_OF_ORDER_SEQUENCE = "com.microsoft:out-of-order-sequence"
PRODUCER_EPOCH_STOLEN = "com.microsoft:producer-epoch-stolen"

#: the most :func:`stamp` adds to an event's share of a batch: 114 bytes of annotations
#: (fixed-width values), 6 more when a new section is made or a small map outgrows its
#: 8-bit encoding, and 3 when the event's ``data`` wrapping passes 255 bytes
RESERVED_BYTES_PER_EVENT = 123

_SEQUENCE_SPACE = 2**31


def next_sequence(sequence: int) -> int:
    """The sequence number after *sequence*: ``+ 1``, wrapping to 0 after ``2**31 - 1``."""
    return (sequence + 1) % _SEQUENCE_SPACE


def _symbol(name: str) -> bytes:
    return b"\xa3" + bytes((len(name),)) + name.encode("ascii")


_ID_KEY, _EPOCH_KEY, _SEQUENCE_KEY = (
    _symbol(n) for n in (PRODUCER_ID, PRODUCER_EPOCH, PRODUCER_SEQUENCE_NUMBER)
)
_OUR_KEYS = frozenset({_ID_KEY, _EPOCH_KEY, _SEQUENCE_KEY})
_ANNOTATIONS_SECTION = b"\x00\x53\x72"
_pack_long = struct.Struct(">q").pack
_pack_short = struct.Struct(">h").pack
pack_int = _pack_int = struct.Struct(">i").pack
_u32 = struct.Struct(">I")


def _map(count: int, body: bytes) -> bytes:
    if len(body) + 1 <= 255 and count <= 255:
        return bytes((0xC1, len(body) + 1, count)) + body
    return b"\xd1" + _u32.pack(len(body) + 4) + _u32.pack(count) + body


def stamp_entries(producer_id: int, epoch: int, sequence: int) -> bytes:
    """The three annotation entries, with fixed-width values (114 bytes)."""
    return (
        _ID_KEY
        + b"\x81"
        + _pack_long(producer_id)
        + _EPOCH_KEY
        + b"\x61"
        + _pack_short(epoch)
        + _SEQUENCE_KEY
        + b"\x71"
        + _pack_int(sequence)
    )


def stamp(encoded: bytes, entries: bytes) -> bytes:
    """Return the encoded message *encoded* with *entries* in its message annotations.

    The annotations section is made (after the header and delivery annotations) or
    extended; an entry of the event's own with one of our three keys is replaced. The
    rest of the bytes are copied unchanged.

    :raises ValueError: if *encoded* is not an encoded AMQP message.
    """
    pos, size = 0, len(encoded)
    while pos + 3 <= size and encoded[pos] == 0x00 and encoded[pos + 1] == 0x53:
        code = encoded[pos + 2]
        if code == 0x72:
            return _extend(encoded, pos + 3, entries)
        if code > 0x72:
            break
        pos = skip_value(encoded, pos + 3)
    if pos < size and encoded[pos : pos + 2] != b"\x00\x53":
        raise ValueError("not an encoded AMQP message: no section where one should start")
    # before the first later section, or at the end: an EventData(body=[]) with nothing
    # else encodes to no section at all (azure-eventhub sends it so)
    return encoded[:pos] + _ANNOTATIONS_SECTION + _map(6, entries) + encoded[pos:]


def _extend(encoded: bytes, pos: int, entries: bytes) -> bytes:
    constructor = encoded[pos]
    if constructor == 0xC1:
        count, start, end = encoded[pos + 2], pos + 3, pos + 2 + encoded[pos + 1]
    elif constructor == 0xD1:
        count = _u32.unpack_from(encoded, pos + 5)[0]
        start, end = pos + 9, pos + 5 + _u32.unpack_from(encoded, pos + 1)[0]
    elif constructor == 0x40:  # a null map
        count, start, end = 0, pos + 1, pos + 1
    else:
        raise ValueError(f"message annotations are not a map (0x{constructor:02x})")
    body = encoded[start:end]
    if b"com.microsoft:producer-" in body:  # the event carries some of our keys: drop them
        kept, item = [], start
        while item < end:
            value = skip_value(encoded, item)
            after = skip_value(encoded, value)
            if encoded[item:value] not in _OUR_KEYS:
                kept.append(encoded[item:after])
            item = after
        body = b"".join(kept)
        count = 2 * len(kept)
    return (
        encoded[: pos - 3] + _ANNOTATIONS_SECTION + _map(count + 6, body + entries) + encoded[end:]
    )
