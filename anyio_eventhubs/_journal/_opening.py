"""Opening a journal directory: its lock, and one checking pass over its segments.

The pass learns, per segment, the partitions and sequence numbers of its events, and
which events have their outcome; it keeps no event. A torn last record is cut off; a
damaged segment is an error, or moved aside (``quarantine``).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from pathlib import Path

from . import _format as fmt
from ._errors import (
    JournalCorruptError,
    JournalError,
    JournalLockedError,
    JournalMismatchError,
    describe_os_error,
)
from ._index import INDEX_SUFFIX, SegmentIndex, index_path, read_indexed
from ._ranges import RangeSet
from ._runs import one_event
from ._scan import SegmentScan, TornTail
from ._segments import Segment, segment_number

__all__ = ["Loader", "lock_directory", "logger"]

logger = logging.getLogger("anyio_eventhubs.journal")


def lock_directory(directory: Path) -> int:
    """Create *directory* if needed and take its lock; return the lock's descriptor.

    :raises JournalLockedError: if another open journal (any process) holds it.
    :raises OSError: if the directory or the lock file cannot be created.
    """
    directory.mkdir(parents=True, exist_ok=True)
    lock_path = directory / "lock"
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
        os.close(fd)
        who = f"process {holder}" if holder else "another process"
        raise JournalLockedError(
            f"the journal {directory} is in use by another producer ({who} holds "
            f"{lock_path}); one journal serves one producer at a time",
            directory,
        ) from None
    except BaseException:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


class Loader:
    """Reads the segments of a locked journal directory once, in order."""

    def __init__(self, directory: Path, namespace: str, eventhub_name: str) -> None:
        self.directory = directory
        self.namespace = namespace
        self.eventhub_name = eventhub_name
        self.segments: list[Segment] = []
        self.resolved: dict[tuple[int, str], RangeSet] = {}
        self.torn_tails: list[TornTail] = []
        self.quarantined: list[Path] = []
        #: the segment number after the highest one found
        self.next_number = 1
        self._last: dict[tuple[int, str], int] = {}
        #: how many segments were loaded from their index (``_index``), not read
        self.indexed = 0

    def resolved_set(self, generation: int, partition_id: str) -> RangeSet:
        key = (generation, partition_id)
        found = self.resolved.get(key)
        if found is None:
            found = self.resolved[key] = RangeSet()
        return found

    def load(self, quarantine: bool) -> None:
        """Read every segment.

        :raises JournalError: see :meth:`JournalStore.open`.
        """
        path = self.directory
        try:
            for stale in path.glob("*.tmp"):
                stale.unlink()
            names = sorted(
                (n, p) for p in path.iterdir() if (n := segment_number(p.name)) is not None
            )
            numbers = {n for n, _ in names}
            for stale_index in path.glob(f"*{INDEX_SUFFIX}"):
                if segment_number(stale_index.with_suffix(".seg").name) not in numbers:
                    stale_index.unlink()  # its segment was deleted (it is only a cache)
        except OSError as exc:
            raise JournalError(
                f"cannot read the journal {path}: {describe_os_error(exc)}", path
            ) from exc
        for index, (number, seg_path) in enumerate(names):
            segment = self._load(seg_path, number, index == len(names) - 1, quarantine)
            if segment is not None:
                self.segments.append(segment)
        if names:
            self.next_number = names[-1][0] + 1

    def _load(self, path: Path, number: int, last: bool, quarantine: bool) -> Segment | None:
        try:
            indexed = read_indexed(path, number)
        except OSError as exc:
            raise JournalError(
                f"cannot read the journal {path}: {describe_os_error(exc)}", path
            ) from exc
        if indexed is not None:
            segment = self._load_indexed(path, number, *indexed)
            if segment is not None:
                return segment
        scan = SegmentScan(path)
        segment = Segment(path, number, 0)
        saved = dict(self._last)
        try:
            for offset, record_type, body in scan:
                if not segment.generation:
                    self._check_header(scan.header, segment)
                if record_type == fmt.EVENTS:
                    decoded = one_event(body)
                    if decoded is None or not self._load_one(segment, decoded[0], decoded[1]):
                        self._load_events(segment, offset, body)
                elif record_type == fmt.OUTCOME:
                    try:
                        o = fmt.decode_outcome(body)
                    except fmt.DamagedError as exc:
                        raise JournalCorruptError(exc.reason, path, offset) from None
                    self.resolved_set(o.generation, o.partition_id).add(o.first_seq, o.end_seq)
            if scan.header is not None and not segment.generation:
                self._check_header(scan.header, segment)
            if scan.tail is not None and not last:
                raise JournalCorruptError(
                    f"damaged journal: {scan.tail.reason} before the last segment",
                    path,
                    scan.tail.offset,
                )
        except JournalCorruptError as exc:
            if not quarantine:
                raise
            self._last = saved
            sound = scan.header is not None and exc.offset >= scan.end
            return self._quarantine(path, number, exc.offset, scan.end if sound else 0)
        except OSError as exc:
            raise JournalError(
                f"cannot read the journal {path}: {describe_os_error(exc)}", path
            ) from exc
        if scan.tail is not None:
            self._drop_tail(scan.tail, scan.end if scan.header is not None else 0)
            if scan.header is None:
                return None
        segment.size = scan.end
        return segment

    def _load_indexed(
        self, path: Path, number: int, index: SegmentIndex, head: bytes, others: list[bytes]
    ) -> Segment | None:
        """Load a segment from its index (checked against its bytes by ``read_indexed``);
        ``None`` if the index does not agree with what was loaded before it (then the
        segment is read record by record, which names what is wrong)."""
        try:
            decoded = fmt.decode_header(head)
            outcomes = [
                fmt.decode_outcome(body)
                for data in others
                for record_type, body in _records(data)
                if record_type == fmt.OUTCOME
            ]
        except (fmt.DamagedError, fmt.UnsupportedVersionError):
            return None
        if (
            decoded is None
            or decoded[0].generation != index.generation
            or decoded[0].segment != number
        ):
            return None
        segment = Segment(path, number, 0)
        self._check_header(decoded[0], segment)
        gen = segment.generation
        last = self._last
        for pid, first, end, done in index.parts:
            if not last.get((gen, pid), -1) < first < end or any(
                not first <= a < b <= end for a, b in done
            ):
                return None
        for pid, first, end, done in index.parts:
            previous = last.get((gen, pid), -1)
            if first > previous + 1:  # a gap: numbers adopted or never written
                self.resolved_set(gen, pid).add(previous + 1, first)
            for a, b in done:
                self.resolved_set(gen, pid).add(a, b)
            last[gen, pid] = end - 1
            segment.ranges[pid] = [first, end]
        for o in outcomes:
            self.resolved_set(o.generation, o.partition_id).add(o.first_seq, o.end_seq)
        segment.size = index.content_length
        self.indexed += 1
        return segment

    def _check_header(self, header: fmt.SegmentHeader | None, segment: Segment) -> None:
        assert header is not None
        if header.namespace != self.namespace or header.eventhub_name != self.eventhub_name:
            raise JournalMismatchError(
                f"the journal {self.directory} holds events for Event Hub "
                f"{header.eventhub_name!r} in namespace {header.namespace!r}, not for "
                f"{self.eventhub_name!r} in {self.namespace!r}",
                segment.path,
            )
        if header.segment != segment.number or header.generation < 1:
            raise JournalCorruptError(
                f"segment header says segment {header.segment}, generation {header.generation}",
                segment.path,
                0,
            )
        segment.generation = header.generation

    def _load_one(self, segment: Segment, pid: str, seq: int) -> bool:
        """:meth:`_load_events` for a one-event record (the usual case), faster; ``False``
        if it is not the plain case (then :meth:`_load_events` says what is wrong)."""
        key = (segment.generation, pid)
        previous = self._last.get(key, -1)
        span = segment.ranges.get(pid)
        if seq <= previous or (span is not None and seq < span[1]):
            return False
        if span is None:
            segment.ranges[pid] = [seq, seq + 1]
        else:
            span[1] = seq + 1
        if seq > previous + 1:  # a gap: numbers adopted or never written
            self.resolved_set(*key).add(previous + 1, seq)
        self._last[key] = seq
        return True

    def _load_events(self, segment: Segment, offset: int, body: memoryview) -> None:
        try:
            spans, _ = fmt.decode_summary(body)
            if any(count != last - first + 1 for _, first, last, count in spans):
                # gaps within the record (rare): walk its entries
                spans = [(pid, seq, seq, 1) for pid, seq, *_ in fmt.decode_entries(body)]
        except fmt.DamagedError as exc:
            raise JournalCorruptError(exc.reason, segment.path, offset) from None
        gen = segment.generation
        known = self._last
        for pid, first, last, _count in spans:
            previous = known.get((gen, pid), -1)
            if first <= previous or not segment.note(pid, first):
                raise JournalCorruptError(
                    f"partition {pid!r} sequence number {first} out of order", segment.path, offset
                )
            segment.note(pid, last)
            if first > previous + 1:  # a gap: numbers adopted or never written
                self.resolved_set(gen, pid).add(previous + 1, first)
            known[gen, pid] = last

    def _drop_tail(self, tail: TornTail, keep: int) -> None:
        logger.warning(
            "journal %s: dropped a torn last record at byte offset %d (%s); the write it "
            "belonged to never returned, so its events were never accepted",
            tail.path,
            tail.offset,
            tail.reason,
        )
        self.torn_tails.append(tail)
        if keep:
            os.truncate(tail.path, keep)
        else:
            tail.path.unlink()

    def _quarantine(self, path: Path, number: int, offset: int, keep: int) -> Segment | None:
        """Move *path* into ``quarantine/``; put back its first *keep* bytes (the records
        before the damage at *offset*) and read them again."""
        aside = self.directory / "quarantine"
        aside.mkdir(exist_ok=True)
        target = aside / f"{path.name}.damaged-at-{offset}"
        os.replace(path, target)
        with contextlib.suppress(FileNotFoundError):
            index_path(path).unlink()
        self.quarantined.append(target)
        logger.error(
            "journal %s: damaged at byte offset %d; moved it to %s and kept the %d bytes "
            "before the damage: the events after it are lost",
            path,
            offset,
            target,
            keep,
        )
        if keep == 0:
            return None
        tmp = path.with_suffix(".tmp")
        with target.open("rb") as src, tmp.open("wb") as dst:
            dst.write(src.read(keep))
        os.replace(tmp, path)
        return self._load(path, number, False, False)


def _records(data: bytes) -> list[tuple[int, memoryview]]:
    """The framed records that make up *data*: ``(type, body)``.

    :raises DamagedError: if *data* is not exactly whole, sound records.
    """
    out = []
    pos = 0
    while pos < len(data):
        record = fmt.read_frame(data, pos)
        if record is None:
            raise fmt.DamagedError("a record cut short", pos)
        record_type, body, pos = record
        out.append((record_type, body))
    return out
