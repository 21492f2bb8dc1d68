"""Reading one segment file, record by record, with bounded memory; and a recovered event.

The file is read in chunks of :data:`CHUNK` bytes and cut into records by the pure
``_format`` functions; offsets in errors are offsets in the file.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, cast

from . import _format as fmt
from ._errors import JournalCorruptError, JournalVersionError
from ._tails import classify_tail

if TYPE_CHECKING:
    from azure.eventhub import EventData

__all__ = ["CHUNK", "JournaledEvent", "SegmentScan", "TornTail"]

#: bytes read at a time while scanning a segment
CHUNK = 256 << 10


@dataclass(frozen=True, slots=True)
class TornTail:
    """An unfinished last record, dropped when the journal was opened.

    The write was cut short by the death of the process, so the call that made it never
    returned: those events were never accepted.
    """

    path: Path
    offset: int
    #: bytes from *offset* to the end of the file (format version 2: to its last
    #: nonzero byte, the rest being the segment's free space)
    length: int
    reason: str


class JournaledEvent:
    """An accepted event read back from the journal, still without an outcome.

    :ivar partition_id: the partition it was routed to.
    :ivar generation: the opening of the journal that accepted it.
    :ivar seq: its acceptance number in that partition and generation.
    :ivar kind: what ``queue_for_send`` was given (``KIND_BYTES``, ``KIND_STR`` or
        ``KIND_EVENT_DATA``).
    :ivar partition_key: the key it was queued with, if any.
    :ivar encoded: the AMQP message, exactly as it was accepted (ready to send).
    """

    __slots__ = ("encoded", "generation", "kind", "partition_id", "partition_key", "seq")

    def __init__(
        self,
        partition_id: str,
        generation: int,
        seq: int,
        kind: int,
        partition_key: str | None,
        encoded: bytes,
    ) -> None:
        self.partition_id = partition_id
        self.generation = generation
        self.seq = seq
        self.kind = kind
        self.partition_key = partition_key
        self.encoded = encoded

    def __repr__(self) -> str:
        return (
            f"<JournaledEvent partition={self.partition_id!r} generation={self.generation} "
            f"seq={self.seq} kind={self.kind} size={len(self.encoded)}>"
        )

    def event_data(self) -> EventData:
        """The event as an ``EventData``, as a consumer would see it: body, properties,
        system properties and partition key (property names and string values as
        ``bytes``, as a consumer gets them)."""
        from .._codec import decode_message

        event: EventData = decode_message(self.encoded)
        return event

    def original(self) -> EventData | bytes | str:
        """The event as it was queued when that was ``bytes`` or ``str``; else
        :meth:`event_data`."""
        if self.kind == fmt.KIND_EVENT_DATA:
            return self.event_data()
        body = b"".join(cast("Iterable[bytes]", self.event_data().body))
        return body.decode("utf-8") if self.kind == fmt.KIND_STR else body


def _nonzero_rest(file: BinaryIO) -> bytes:
    """The rest of *file*, without the chunks of zeros at its end (a version 2 segment's
    free space, up to ``_mapped.STEP`` bytes, is not worth holding in memory)."""
    parts = []
    zeros = 0
    while chunk := file.read(64 << 10):
        if chunk.count(0) == len(chunk):
            zeros += len(chunk)
            continue
        if zeros:
            parts.append(bytes(zeros))
            zeros = 0
        parts.append(chunk)
    return b"".join(parts)


class SegmentScan:
    """Iterates the records of one segment file: ``(offset, type, body)``.

    After the iteration, :attr:`tail` says what followed the last whole record (a torn
    tail, or ``None``) and :attr:`end` where that last whole record ended.

    :raises ~anyio_eventhubs._journal.JournalCorruptError: damage (not a torn tail).
    :raises ~anyio_eventhubs._journal.JournalVersionError: another format version.
    :raises OSError: if the file cannot be read.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.header: fmt.SegmentHeader | None = None
        self.tail: TornTail | None = None
        #: where the records that were read end (the file is sound up to here)
        self.end = 0

    def _corrupt(self, exc: fmt.DamagedError, base: int) -> JournalCorruptError:
        return JournalCorruptError(f"damaged journal: {exc.reason}", self.path, base + exc.offset)

    def _classify(self, data: bytes, pos: int, base: int, file: BinaryIO) -> None:
        version = 1 if self.header is None else self.header.version
        if version < 2:
            rest = data[pos:] + file.read()
        elif (more := _nonzero_rest(file)) or data.count(0, pos) != len(data) - pos:
            rest = data[pos:] + more
        else:  # the segment's free space
            rest = b""
        try:
            reason = classify_tail(rest, 0, version)
        except fmt.DamagedError as exc:
            raise self._corrupt(exc, base + pos) from None
        if reason is not None:  # (version 2: the length up to the free space)
            length = len(rest) if version < 2 else len(rest.rstrip(b"\0"))
            self.tail = TornTail(self.path, base + pos, length, reason)

    def __iter__(self) -> Iterator[tuple[int, int, memoryview]]:
        for base, data, records in self.chunks():
            view = memoryview(data)
            for pos, record_type, start, stop in records:
                yield base + pos, record_type, view[start:stop]
                self.end = base + stop  # (what was read is sound up to here)

    def chunks(self) -> Iterator[tuple[int, bytes, list[tuple[int, int, int, int]]]]:
        """The records, a chunk at a time: ``(base, data, records)``, each record being
        ``(offset, type, start, stop)``: its body is ``data[start:stop]`` and it is at
        byte ``base + offset`` of the file. Cheaper per record than iterating (no
        ``memoryview`` per record): what recovery reads events with. :attr:`end`
        moves past a chunk's records once the next chunk is asked for."""
        with self.path.open("rb") as file:
            data = file.read(CHUNK)
            while True:
                try:
                    decoded = fmt.decode_header(data)
                except fmt.UnsupportedVersionError as exc:
                    raise JournalVersionError(
                        f"the journal segment {self.path} is in format version "
                        f"{exc.version}; this version of anyio-eventhubs reads versions 1 "
                        f"to {fmt.FORMAT_VERSION} (was it written by a newer version?)",
                        self.path,
                    ) from None
                except fmt.DamagedError as exc:
                    raise self._corrupt(exc, 0) from None
                if decoded is not None:
                    break
                more = file.read(CHUNK)
                if not more:  # a header cut short: the file was being created
                    self.tail = TornTail(self.path, 0, len(data), "an unfinished header")
                    return
                data += more
            self.header, pos = decoded
            self.end = base = 0
            self.end = pos
            # the sound path inlined (one record costs a few struct and crc calls);
            # read_frame says what is wrong, or that more bytes are needed
            unpack, crc, known = fmt.FRAME_STRUCT.unpack_from, zlib.crc32, fmt.RECORD_TYPES
            size = fmt.FRAME_SIZE
            while True:
                end = len(data)
                view = memoryview(data)
                records: list[tuple[int, int, int, int]] = []
                append = records.append
                while end - pos >= size:
                    length, record_type, body_crc, head_crc = unpack(data, pos)
                    start = pos + size
                    stop = start + length
                    if (
                        stop > end
                        or crc(view[pos : pos + 9]) != head_crc
                        or record_type not in known
                        or crc(view[start:stop]) != body_crc
                    ):
                        break
                    append((pos, record_type, start, stop))
                    pos = stop
                if records:
                    yield base, data, records
                    self.end = base + pos
                try:
                    record = fmt.read_frame(data, pos)
                except fmt.DamagedError:
                    self._classify(data, pos, base, file)
                    return
                if record is not None:  # cannot happen: the loop above took it
                    raise AssertionError("read_frame disagrees with the scan")
                more = file.read(CHUNK)
                if not more:
                    self._classify(data, pos, base, file)
                    return
                data = data[pos:] + more
                base += pos
                pos = 0
