"""The journal's on-disk format: pure functions over ``bytes`` and ``memoryview``.

Sans-IO, in the style of h11: no files, no clock. The store (``_store``) does the I/O.

A journal is a directory of *segment files*. Each segment starts with a header::

    magic     8 bytes   b"\\x89AEHJNL\\n"
    version   u16       FORMAT_VERSION (a newer one is refused before anything else is read)
    length    u32       bytes of the header body that follows
    body      generation u64, segment number u64,
              namespace (u16 length + UTF-8), Event Hub name (u16 length + UTF-8)
    crc       u32       CRC-32 of everything above

followed by *records*, each a 13-byte frame header and a body::

    length    u32       bytes of the body
    type      u8        EVENTS, OUTCOME, PRODUCER_STATE or BATCH_SENT
    body_crc  u32       CRC-32 of the body
    head_crc  u32       CRC-32 of the 9 bytes above (so a damaged length is never
                        mistaken for a torn tail)

All integers are little-endian. The checksum is zlib's CRC-32 (CRC-32C would need a
dependency; either detects every burst of up to 32 flipped bits).

- ``EVENTS``: one call's accepted events, written all or nothing. A summary first
  (``count u16``, then per partition ``id length u8, first seq u64, last seq u64,
  entries u32`` and the id), so opening reads no entry; then the entries, each
  ``seq u64, encoded length u32, kind u8, partition id length u8, key length u16
  (0xFFFF: no key)``, then the partition id, the key (UTF-8) and the encoded AMQP message.
  Sequence numbers are per partition and per generation (one generation per opening).
- ``OUTCOME``: ``generation u64, first_seq u64, end_seq u64, partition id length u8``,
  then the partition id: events ``first_seq`` to ``end_seq - 1`` have their outcome.
- ``PRODUCER_STATE``: the frame of idempotent publishing's state files, beside the
  segments (``_publishing_state``). ``BATCH_SENT``: reserved.

Reading stops at the first frame that is not whole and sound. ``_tails.classify_tail`` says
whether what is left is a *torn tail* (the process died mid-write) or *damage* (anything
else, an error); what an unfinished write looks like depends on how the segment was
written, which its header's version says (1: one ``write`` per record; 2: copied into a
memory map in three steps, ``_mapped``). The records themselves are the same in both.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from ._header import (
    FORMAT_VERSION,
    MAGIC,
    DamagedError,
    SegmentHeader,
    UnsupportedVersionError,
    decode_header,
    encode_header,
    encode_text,
)

__all__ = [
    "BATCH_SENT",
    "EVENTS",
    "FORMAT_VERSION",
    "FRAME_HEAD_STRUCT",
    "FRAME_SIZE",
    "FRAME_STRUCT",
    "KIND_BYTES",
    "KIND_EVENT_DATA",
    "KIND_STR",
    "MAGIC",
    "NO_KEY",
    "ONE_SPAN_SIZE",
    "OUTCOME",
    "PRODUCER_STATE",
    "RECORD_TYPES",
    "DamagedError",
    "OutcomeRecord",
    "SegmentHeader",
    "UnsupportedVersionError",
    "decode_entries",
    "decode_header",
    "decode_outcome",
    "decode_summary",
    "encode_entry",
    "encode_events",
    "encode_header",
    "encode_one_event",
    "encode_outcome",
    "encode_pid",
    "frame",
    "one_event_encoder",
    "one_event_layout",
    "read_frame",
]


EVENTS: Final = 1
OUTCOME: Final = 2
PRODUCER_STATE: Final = 3
BATCH_SENT: Final = 4
_TYPES = frozenset((EVENTS, OUTCOME, PRODUCER_STATE, BATCH_SENT))
RECORD_TYPES: Final = _TYPES

KIND_BYTES: Final = 0
KIND_STR: Final = 1
KIND_EVENT_DATA: Final = 2
_NO_KEY: Final = 0xFFFF

_crc32 = zlib.crc32
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_FRAME_HEAD = struct.Struct("<IBI")
_FRAME = struct.Struct("<IBII")
FRAME_STRUCT: Final = _FRAME
#: a frame's first 9 bytes (length, type, body CRC-32): what its head CRC-32 covers
FRAME_HEAD_STRUCT: Final = _FRAME_HEAD
FRAME_SIZE: Final = _FRAME.size
_ENTRY = struct.Struct("<QIBBH")
_SPAN = struct.Struct("<BQQI")
_ONE_SPAN = struct.Struct("<HBQQI")
#: the summary of a one-partition ``EVENTS`` record, before its partition id
ONE_SPAN_SIZE: Final = _ONE_SPAN.size
#: an entry's key length when it has no key
NO_KEY: Final = _NO_KEY
#: partition ids seen, decoded (a cache: there are few)
_PIDS: dict[bytes | memoryview, str] = {}
_OUTCOME = struct.Struct("<QQQB")


@dataclass(frozen=True, slots=True)
class OutcomeRecord:
    """Events ``first_seq`` to ``end_seq - 1`` of a partition and generation have an outcome."""

    partition_id: str
    generation: int
    first_seq: int
    end_seq: int


# -- frames ------------------------------------------------------------------------------


def frame(record_type: int, body: bytes) -> bytes:
    """Wrap a record *body* in its frame."""
    head = _FRAME_HEAD.pack(len(body), record_type, _crc32(body))
    return head + _U32.pack(_crc32(head)) + body


def read_frame(buf: bytes | memoryview, pos: int) -> tuple[int, memoryview, int] | None:
    """Read the record at *pos*: its type, its body and where the next record starts.

    :returns: ``None`` if *buf* ends before the record does.
    :raises DamagedError: if the frame or its body fails its checksum.
    """
    if len(buf) - pos < FRAME_SIZE:
        return None
    length, record_type, body_crc, head_crc = _FRAME.unpack_from(buf, pos)
    if _crc32(memoryview(buf)[pos : pos + 9]) != head_crc:
        raise DamagedError("record header checksum mismatch", pos)
    if record_type not in _TYPES:
        raise DamagedError(f"unknown record type {record_type}", pos)
    start = pos + FRAME_SIZE
    end = start + length
    if end > len(buf):
        return None
    body = memoryview(buf)[start:end]
    if _crc32(body) != body_crc:
        raise DamagedError("record checksum mismatch", pos)
    return record_type, body, end


# -- record bodies -----------------------------------------------------------------------


def encode_pid(partition_id: str) -> bytes:
    """A partition id in UTF-8.

    :raises ValueError: if it is longer than 255 bytes.
    """
    return encode_text(partition_id, "partition id", 255)


def encode_entry(
    partition_id: bytes, seq: int, kind: int, partition_key: bytes | None, encoded: bytes
) -> bytes:
    """One accepted event, as an entry of an ``EVENTS`` record (ids and keys in UTF-8)."""
    if partition_key is None:
        return _ENTRY.pack(seq, len(encoded), kind, len(partition_id), _NO_KEY) + (
            partition_id + encoded
        )
    return b"".join(
        (
            _ENTRY.pack(seq, len(encoded), kind, len(partition_id), len(partition_key)),
            partition_id,
            partition_key,
            encoded,
        )
    )


def encode_events(entries: list[bytes], spans: dict[bytes, tuple[int, int, int]]) -> bytes:
    """A framed ``EVENTS`` record of entries made by :func:`encode_entry`.

    :param spans: per partition id (UTF-8) in the entries: its first and last sequence
        numbers and how many entries it has (the record's summary, read at opening
        without walking the entries).
    """
    summary = [_U16.pack(len(spans))]
    for pid, (first, last, count) in spans.items():
        summary.append(_SPAN.pack(len(pid), first, last, count))
        summary.append(pid)
    return frame(EVENTS, b"".join(summary + entries))


def encode_one_event(
    partition_id: bytes, seq: int, kind: int, partition_key: bytes | None, encoded: bytes
) -> bytes:
    """A framed ``EVENTS`` record of one event (the same bytes as :func:`encode_events`)."""
    body = b"".join(
        (
            _ONE_SPAN.pack(1, len(partition_id), seq, seq, 1),
            partition_id,
            encode_entry(partition_id, seq, kind, partition_key, encoded),
        )
    )
    head = _FRAME_HEAD.pack(len(body), EVENTS, _crc32(body))
    return b"".join((head, _U32.pack(_crc32(head)), body))


def one_event_layout(partition_id: bytes) -> tuple[Callable[..., bytes], int]:
    """The body of a one-event ``EVENTS`` record of *partition_id* without a key, fused:
    ``pack(1, n, seq, seq, 1, partition_id, seq, size, kind, n, 0xFFFF, partition_id)``
    (``n``: the id's length) gives the bytes before the encoded message, of the size
    returned with it."""
    n = len(partition_id)
    pack = struct.Struct(f"<HBQQI{n}sQIBBH{n}s").pack
    return pack, _ONE_SPAN.size + _ENTRY.size + 2 * n


def one_event_encoder(partition_id: bytes) -> Callable[[int, int, bytes], bytes]:
    """:func:`encode_one_event` for events of *partition_id* without a key, fused:
    ``encode(seq, kind, encoded)`` gives the same bytes with one pack for the summary
    and the entry header, and the frame's head packed once."""
    n = len(partition_id)
    pack, head_size = one_event_layout(partition_id)
    frame_head = _FRAME_HEAD.pack
    pack_u32 = _U32.pack
    crc32 = _crc32

    def encode(seq: int, kind: int, encoded: bytes) -> bytes:
        size = len(encoded)
        body = (
            pack(1, n, seq, seq, 1, partition_id, seq, size, kind, n, _NO_KEY, partition_id)
            + encoded
        )
        head = frame_head(head_size + size, EVENTS, crc32(body))
        return head + pack_u32(crc32(head)) + body

    return encode


Entry = tuple[str, int, int, "str | None", bytes]
#: per partition: first and last sequence numbers, and how many entries
Span = tuple[str, int, int, int]


def decode_summary(body: memoryview | bytes) -> tuple[list[Span], int]:
    """The summary of an ``EVENTS`` record body, and where its entries start.

    :raises DamagedError: if it does not add up (offsets are within *body*).
    """
    pos = 0
    spans: list[Span] = []
    try:
        if body[0] == 1 and body[1] == 0:  # one partition: the usual case
            _, pid_len, first, last, count = _ONE_SPAN.unpack_from(body, 0)
            pos = _ONE_SPAN.size + pid_len
            pid = _PIDS.get(body[_ONE_SPAN.size : pos])
            if pid is None:
                pid = bytes(body[_ONE_SPAN.size : pos]).decode("utf-8")
                if len(_PIDS) < 4096:
                    _PIDS[bytes(body[_ONE_SPAN.size : pos])] = pid
            if not (0 < count <= last - first + 1) or pos > len(body):
                raise ValueError("summary does not add up")
            return [(pid, first, last, count)], pos
        (n,) = _U16.unpack_from(body, 0)
        pos = 2
        for _ in range(n):
            pid_len, first, last, count = _SPAN.unpack_from(body, pos)
            pos += _SPAN.size
            pid = bytes(body[pos : pos + pid_len]).decode("utf-8")
            pos += pid_len
            if not (0 < count <= last - first + 1) or pos > len(body):
                raise ValueError("summary does not add up")
            spans.append((pid, first, last, count))
    except (struct.error, ValueError) as exc:
        raise DamagedError(f"malformed events record: {exc}", pos) from None
    return spans, pos


def decode_entries(body: memoryview | bytes, start: int | None = None) -> list[Entry]:
    """The entries of an ``EVENTS`` record body: ``(partition id, seq, kind, key, encoded)``.

    :param start: where the entries start, if the summary was decoded already.
    :raises DamagedError: if the body does not add up (offsets are within *body*).
    """
    pos = decode_summary(body)[1] if start is None else start
    raw = bytes(body)
    out: list[Entry] = []
    end = len(raw)
    unpack = _ENTRY.unpack_from
    size = _ENTRY.size
    pids: dict[bytes, str] = {}
    append = out.append
    try:
        while pos < end:
            seq, n, kind, pid_len, key_len = unpack(raw, pos)
            pos += size
            raw_pid = raw[pos : pos + pid_len]
            pid = pids.get(raw_pid)
            if pid is None:
                pid = pids[raw_pid] = raw_pid.decode("utf-8")
            pos += pid_len
            key = None
            if key_len != _NO_KEY:
                key = raw[pos : pos + key_len].decode("utf-8")
                pos += key_len
            if kind > KIND_EVENT_DATA or pos + n > end:
                raise ValueError("entry does not add up")
            append((pid, seq, kind, key, raw[pos : pos + n]))
            pos += n
    except (struct.error, ValueError) as exc:
        raise DamagedError(f"malformed events record: {exc}", pos) from None
    return out


def encode_outcome(partition_id: str, generation: int, first_seq: int, end_seq: int) -> bytes:
    """A framed ``OUTCOME`` record."""
    pid = encode_pid(partition_id)
    return frame(OUTCOME, _OUTCOME.pack(generation, first_seq, end_seq, len(pid)) + pid)


def decode_outcome(body: memoryview) -> OutcomeRecord:
    try:
        generation, first, end, n = _OUTCOME.unpack_from(body, 0)
        if _OUTCOME.size + n != len(body) or not first < end:
            raise ValueError("outcome does not add up")
        pid = bytes(body[_OUTCOME.size :]).decode("utf-8")
    except (struct.error, ValueError) as exc:
        raise DamagedError(f"malformed outcome record: {exc}", 0) from None
    return OutcomeRecord(pid, generation, first, end)
