"""A rolled segment's index: what opening learns from a segment, without its records.

When the store rolls to a new segment, it writes beside the old one an index file
(``<number>.idx``): the length and CRC-32 of the segment's bytes, per partition the
span of numbers of its events and which of them had their outcome (or were never
written here) at that moment, and where its other records (outcomes) are. Opening a
journal then checks such a segment with one ``zlib.crc32`` over its bytes, which runs
at C speed, instead of cutting it into records in Python; recovery still reads and
checks each record when it streams the events.

The index is a cache of what the segment says, never the only copy: an index that is
missing, unsound, of another segment, or whose segment's bytes do not match it
(a power loss before the segment was synced, a damaged record) is ignored, and the
segment is read record by record, which finds and names any damage. Older versions
of the library ignore index files (they read ``*.seg`` only).

Layout (little-endian), then a CRC-32 of everything before it::

    magic b"\\x89AEHIDX\\n", version u16, segment number u64, generation u64,
    content length u64, content CRC-32 u32,
    partitions u16; each: id length u8, id (UTF-8), first u64, end u64,
        resolved ranges u32, each: first u64, end u64
    other records u32; each: offset u64, length u32
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from ._header import DamagedError

__all__ = [
    "INDEX_SUFFIX",
    "SegmentIndex",
    "decode_index",
    "encode_index",
    "index_path",
    "read_indexed",
    "write_index",
]

INDEX_SUFFIX = ".idx"
_MAGIC = b"\x89AEHIDX\n"
_VERSION = 1
_HEAD = struct.Struct("<8sHQQQI")
_U8 = struct.Struct("<B")
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_SPAN = struct.Struct("<QQ")
_OTHER = struct.Struct("<QI")
#: bytes read at a time (as ``_scan.CHUNK``)
_READ = 256 << 10
#: what is kept of a segment's first bytes: more than its header can be
_HEAD_BYTES = 8 << 10


@dataclass(frozen=True, slots=True)
class SegmentIndex:
    """What a rolled segment held (see the module docstring).

    :ivar parts: per partition: its id, the span ``[first, end)`` of numbers of its
        events here, and the ranges within that span that need no event from here
        (outcomes, and numbers never written in this segment).
    :ivar others: where the segment's other records are: ``(offset, length)``.
    """

    number: int
    generation: int
    content_length: int
    content_crc: int
    parts: list[tuple[str, int, int, list[tuple[int, int]]]]
    others: list[tuple[int, int]]


def index_path(segment_path: Path) -> Path:
    return segment_path.with_suffix(INDEX_SUFFIX)


def encode_index(index: SegmentIndex) -> bytes:
    out = [
        _HEAD.pack(
            _MAGIC,
            _VERSION,
            index.number,
            index.generation,
            index.content_length,
            index.content_crc,
        ),
        _U16.pack(len(index.parts)),
    ]
    for pid, first, end, done in index.parts:
        raw = pid.encode("utf-8")
        out += [_U8.pack(len(raw)), raw, _SPAN.pack(first, end), _U32.pack(len(done))]
        out += [_SPAN.pack(a, b) for a, b in done]
    out.append(_U32.pack(len(index.others)))
    out += [_OTHER.pack(offset, length) for offset, length in index.others]
    body = b"".join(out)
    return body + _U32.pack(zlib.crc32(body))


def decode_index(data: bytes) -> SegmentIndex:
    """:raises DamagedError: if *data* is not a sound index of this version."""
    if len(data) < _HEAD.size + 4 or _U32.unpack_from(data, len(data) - 4)[0] != zlib.crc32(
        data[:-4]
    ):
        raise DamagedError("the index is cut short or its checksum does not match", 0)
    try:
        magic, version, number, generation, length, crc = _HEAD.unpack_from(data, 0)
        if magic != _MAGIC or version != _VERSION:
            raise ValueError(f"not an index of version {_VERSION}")
        pos = _HEAD.size
        (count,) = _U16.unpack_from(data, pos)
        pos += 2
        parts = []
        for _ in range(count):
            n = data[pos]
            pid = data[pos + 1 : pos + 1 + n].decode("utf-8")
            pos += 1 + n
            first, end = _SPAN.unpack_from(data, pos)
            (ranges,) = _U32.unpack_from(data, pos + _SPAN.size)
            pos += _SPAN.size + 4
            done = [_SPAN.unpack_from(data, pos + i * _SPAN.size) for i in range(ranges)]
            pos += ranges * _SPAN.size
            parts.append((pid, first, end, done))
        (others,) = _U32.unpack_from(data, pos)
        pos += 4
        spans = [_OTHER.unpack_from(data, pos + i * _OTHER.size) for i in range(others)]
        if pos + others * _OTHER.size != len(data) - 4:
            raise ValueError("the index does not add up")
    except (struct.error, ValueError, IndexError) as exc:
        raise DamagedError(f"malformed index: {exc}", 0) from None
    return SegmentIndex(number, generation, length, crc, parts, spans)


def write_index(path: Path, data: bytes, sync: bool) -> None:
    """Write *data* as the index *path*: to a temporary name, synced if *sync*, then
    renamed (so an index is whole or absent).

    :raises OSError: if it could not be written (the segment is then read record by
        record at the next opening).
    """
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if sync:
            os.fdatasync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def read_indexed(path: Path, number: int) -> tuple[SegmentIndex, bytes, list[bytes]] | None:
    """The index of segment *path* (number *number*), the segment's first bytes (its
    header and more) and its other records (``index.others``), if the index is sound
    and the segment's bytes match it: its length and CRC-32, and nothing but zeros after
    (a mapped segment's free space). ``None`` otherwise: read the segment record by
    record.

    :raises OSError: if the segment cannot be read.
    """
    try:
        index = decode_index(index_path(path).read_bytes())
    except (OSError, DamagedError):
        return None
    if index.number != number:
        return None
    crc = 0
    head = b""
    left = index.content_length
    with path.open("rb") as file:
        while left:
            chunk = file.read(min(left, _READ))
            if not chunk:
                return None  # shorter than the index says
            if not head:
                head = chunk[:_HEAD_BYTES]
            crc = zlib.crc32(chunk, crc)
            left -= len(chunk)
        if crc != index.content_crc:
            return None
        while rest := file.read(_READ):
            if rest.count(0) != len(rest):
                return None
        others = []
        for offset, length in index.others:
            if offset + length > index.content_length:
                return None
            file.seek(offset)
            others.append(file.read(length))
    return index, head, others
