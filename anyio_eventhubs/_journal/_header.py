"""The header that starts every segment file, and the format's two exceptions.

Pure functions over ``bytes``; see ``_format`` for the layout.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Final

__all__ = [
    "FORMAT_VERSION",
    "MAGIC",
    "DamagedError",
    "SegmentHeader",
    "UnsupportedVersionError",
    "decode_header",
    "encode_header",
    "encode_text",
]

MAGIC: Final = b"\x89AEHJNL\n"
#: the version written by default; versions 1 to this one are read. 1: each record is
#: written with one ``write``; 2: the segment is preallocated and mapped, and each
#: record copied into the map in three steps (``_mapped``), which changes what an
#: unfinished record looks like (``_tails.classify_tail``)
FORMAT_VERSION: Final = 2

_crc32 = zlib.crc32
_PREFIX = struct.Struct("<8sHI")
_HEADER_FIXED = struct.Struct("<QQ")
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
#: a header body larger than this is damage, not a header
_MAX_HEADER = 4096


class DamagedError(Exception):
    """Bytes that are not a sound header or record, at *offset* in the buffer given."""

    def __init__(self, reason: str, offset: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.offset = offset


class UnsupportedVersionError(Exception):
    """A segment written in another format version."""

    def __init__(self, version: int) -> None:
        super().__init__(version)
        self.version = version


@dataclass(frozen=True, slots=True)
class SegmentHeader:
    generation: int
    segment: int
    namespace: str
    eventhub_name: str
    version: int = FORMAT_VERSION


def encode_text(value: str, what: str, limit: int) -> bytes:
    raw = value.encode("utf-8")
    if len(raw) > limit:
        raise ValueError(f"{what} is longer than {limit} bytes in UTF-8: {value[:40]!r}...")
    return raw


def encode_header(
    generation: int,
    segment: int,
    namespace: str,
    eventhub_name: str,
    version: int = FORMAT_VERSION,
) -> bytes:
    """The header that starts a segment file (of format *version*, 1 or 2)."""
    if version not in (1, 2):
        raise ValueError(f"format version must be 1 or 2, got {version!r}")
    ns = encode_text(namespace, "namespace", 1024)
    hub = encode_text(eventhub_name, "Event Hub name", 1024)
    body = b"".join(
        (_HEADER_FIXED.pack(generation, segment), _U16.pack(len(ns)), ns, _U16.pack(len(hub)), hub)
    )
    head = _PREFIX.pack(MAGIC, version, len(body)) + body
    return head + _U32.pack(_crc32(head))


def decode_header(buf: bytes | memoryview) -> tuple[SegmentHeader, int] | None:
    """Decode the header at the start of *buf*: the header and where records start.

    :returns: ``None`` if *buf* ends before the header does.
    :raises UnsupportedVersionError: if the segment is of a version other than 1 to
        :data:`FORMAT_VERSION`.
    :raises DamagedError: if it is not a sound header.
    """
    if len(buf) < _PREFIX.size:
        if bytes(buf[: len(MAGIC)]) != MAGIC[: len(buf)]:
            raise DamagedError("not a journal segment (bad magic number)", 0)
        return None
    magic, version, length = _PREFIX.unpack_from(buf, 0)
    if magic != MAGIC:
        raise DamagedError("not a journal segment (bad magic number)", 0)
    if not 1 <= version <= FORMAT_VERSION:
        raise UnsupportedVersionError(version)
    if length > _MAX_HEADER:
        raise DamagedError(f"segment header claims {length} bytes", 10)
    end = _PREFIX.size + length
    if len(buf) < end + 4:
        return None
    if _crc32(buf[:end]) != _U32.unpack_from(buf, end)[0]:
        raise DamagedError("segment header checksum mismatch", 0)
    try:
        generation, segment = _HEADER_FIXED.unpack_from(buf, _PREFIX.size)
        pos = _PREFIX.size + _HEADER_FIXED.size
        (n,) = _U16.unpack_from(buf, pos)
        namespace = bytes(buf[pos + 2 : pos + 2 + n]).decode("utf-8")
        pos += 2 + n
        (n,) = _U16.unpack_from(buf, pos)
        hub = bytes(buf[pos + 2 : pos + 2 + n]).decode("utf-8")
        if pos + 2 + n != end:
            raise ValueError("header length does not add up")
    except (struct.error, ValueError) as exc:
        raise DamagedError(f"malformed segment header: {exc}", 0) from None
    return SegmentHeader(generation, segment, namespace, hub, version), end + 4
