"""What follows the last sound record of a segment: a torn tail, or damage.

Pure functions over ``bytes``, beside ``_format`` (whose frames they read). What an
append cut short by the death of the process leaves depends on how the segment was
written, which its header's version says: 1, one ``write`` per record; 2, copied into a
memory map in three steps (``_mapped``).
"""

from __future__ import annotations

import zlib

from ._format import (
    FRAME_HEAD_STRUCT,
    FRAME_SIZE,
    FRAME_STRUCT,
    RECORD_TYPES,
    DamagedError,
    read_frame,
)

__all__ = ["classify_tail"]

_crc32 = zlib.crc32


def classify_tail(buf: bytes | memoryview, pos: int, version: int = 1) -> str | None:
    """Say what the bytes of a whole file from *pos* on are, once no record reads there.

    :param version: the segment's format version. In version 1 each record was written
        with one ``write``, so an unfinished one is a prefix of it: fewer bytes than it
        claims (or zeros, where the file system had reserved space). In version 2 the
        segment is preallocated (zeros after the last record are its free space) and
        each record was copied in three steps, its length, its body, then the rest of
        its frame head with the checksums (``_mapped``): an unfinished one fails its
        head checksum, and nothing but zeros follows the end it claims.
    :returns: ``None`` if there are none (version 2: or only zeros), else why they are a
        torn tail (a write the process did not finish).
    :raises DamagedError: if they are damage rather than a torn tail.
    """
    rest = buf if not pos and isinstance(buf, bytes) else bytes(memoryview(buf)[pos:])
    used = len(rest.rstrip(b"\0"))
    if version >= 2:
        return _classify_copied(rest, used)
    if not rest:
        return None
    if not used:
        return f"{len(rest)} zero bytes"
    if len(rest) < FRAME_SIZE:
        return f"{len(rest)} bytes of an unfinished record header"
    read_frame(rest, 0)  # raises DamagedError if the frame header itself is damaged
    length = int.from_bytes(rest[:4], "little")
    return f"an unfinished record ({len(rest)} of {FRAME_SIZE + length} bytes)"


def _classify_copied(rest: bytes, used: int) -> str | None:
    """:func:`classify_tail` of a version 2 segment; *used*: bytes up to the last nonzero.

    A record cut short by the death of the process is its bytes with some of them still
    zero: some of its length's, then of its body's, then of the rest of its head's
    (copied in that order); nothing else. Anything else is damage.
    """
    if not used:
        return None
    head = rest[:FRAME_SIZE].ljust(FRAME_SIZE, b"\0")
    length, _, _, head_crc = FRAME_STRUCT.unpack(head)
    if len(rest) >= FRAME_SIZE and _crc32(head[:9]) == head_crc:
        # the head was copied last: the body is whole, so a bad one is damage
        if read_frame(rest, 0) is None:
            raise DamagedError("a record runs past the end of the file", 0)
        raise AssertionError("classify_tail called where a sound record reads")
    if not length or used > FRAME_SIZE + length:
        raise DamagedError("record header checksum mismatch", 0)
    if any(head[4:]):  # the last step had begun: the body is whole, the length right
        body = rest[FRAME_SIZE : FRAME_SIZE + length]
        if len(body) < length or not _head_in_part(head, length, _crc32(body)):
            raise DamagedError("record header checksum mismatch", 0)
    return f"an unfinished record of {FRAME_SIZE + length} bytes, cut short while copied"


def _head_in_part(head: bytes, length: int, body_crc: int) -> bool:
    """Whether each byte of *head* after its length is the sound head's byte, or zero."""
    for record_type in RECORD_TYPES:
        first = FRAME_HEAD_STRUCT.pack(length, record_type, body_crc)
        sound = FRAME_STRUCT.pack(length, record_type, body_crc, _crc32(first))
        if all(b in (0, e) for b, e in zip(head[4:], sound[4:], strict=True)):
            return True
    return False
