"""The journal's segment store: append-only files in a locked directory.

Plain synchronous file I/O, no anyio; not thread-safe (call it from one thread at a time).

- :meth:`JournalStore.append_events` returns once its events are written (and, with
  ``durability="always"``, on disk); if it raises, none of them was written.
- An event is *unresolved* until :meth:`~JournalStore.append_outcome` covers it.
  :meth:`~JournalStore.recover` streams the unresolved events of earlier openings, in
  their original order per partition.
- A segment whose events all have their outcome is deleted (the outcomes it held that
  still matter are first written again to the active segment).

Each opening is a new *generation*: sequence numbers are per partition and generation.
An event of an earlier generation that the producer accepts again (:meth:`adopt`) is not
written again; its outcome is recorded against its first identity.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from . import _format as fmt
from ._appending import EventAppending
from ._errors import JournalError, describe_os_error
from ._mapped import MappedSegmentWriter, mapping_available
from ._opening import Loader, lock_directory
from ._outcomes import Outcomes, Touched, stream_unresolved
from ._runs import JournaledRun, stream_unresolved_runs
from ._scan import JournaledEvent, TornTail
from ._segments import Segment, remove_segment
from ._writer import (
    Durability,
    OneEventCopier,
    SegmentWriter,
    check_options,
    header_factory,
)

__all__ = ["DEFAULT_SEGMENT_SIZE", "Durability", "JournalStore"]

DEFAULT_SEGMENT_SIZE = 16 << 20


class JournalStore(EventAppending):
    """A crash-safe journal of accepted events, in a directory of its own.

    Open one with :meth:`open`; close it with :meth:`close`. Not thread-safe.

    :ivar generation: this opening's generation number.
    :ivar torn_tails: unfinished records dropped at opening (logged as warnings).
    :ivar quarantined: damaged files moved aside at opening (``quarantine_damaged``).
    :ivar indexed_segments: segments checked at opening through their index, without
        reading their records (``_index``).
    """

    def __init__(
        self,
        directory: Path,
        loader: Loader,
        writer: SegmentWriter,
        generation: int,
        segment_size: int,
        lock_fd: int,
    ) -> None:
        self.directory = directory
        self.generation = generation
        self.segment_size = segment_size
        self.torn_tails: list[TornTail] = loader.torn_tails
        self.quarantined: list[Path] = loader.quarantined
        #: how many segments the opening checked through their index (``_index``)
        self.indexed_segments = loader.indexed
        self._writer = writer
        self._lock_fd = lock_fd
        self._segments: list[Segment] = list(loader.segments)
        self._old: list[Segment] = list(loader.segments)  # earlier generations' segments
        self._outcomes = Outcomes(loader.resolved)
        #: per partition: the last number appended or adopted, and the last appended
        self._last_seq: dict[str, int] = {}
        self._last_written: dict[str, int] = {}
        self._pid_bytes: dict[str, bytes] = {}
        self._encoders: dict[str, Callable[[int, int, bytes], bytes]] = {}
        self._copiers: dict[str, OneEventCopier] = {}
        self._recovering = False
        self.closed = False

    @property
    def durability(self) -> Durability:
        return self._writer.durability

    @classmethod
    def open(
        cls,
        directory: str | os.PathLike[str],
        *,
        namespace: str,
        eventhub_name: str,
        durability: Durability = "buffered",
        fsync_interval: float = 1.0,
        segment_size: int = DEFAULT_SEGMENT_SIZE,
        quarantine_damaged: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> JournalStore:
        """Open (or create) the journal in *directory* and lock it.

        Reads every segment once to check it and to learn which events are resolved
        (the events themselves are not kept: :meth:`recover` reads them again). A torn
        last record is dropped, logged and listed in :attr:`torn_tails`.

        :param durability: ``"buffered"`` (the default): appends are written to the
            operating system, which survives the death of the process but not a power
            loss. ``"interval"``: also ``fdatasync`` at most every *fsync_interval*
            seconds, at an append (or :meth:`sync_if_due`). ``"always"``: ``fdatasync``
            before each :meth:`append_events` returns.
        :param segment_size: bytes after which a new segment file is started.
        :param quarantine_damaged: move damaged segments into ``quarantine/`` (keeping
            their sound first part) instead of raising :class:`JournalCorruptError`.
            Events after the damage are lost, and outcomes after it may be forgotten
            (those events are published again).
        :raises JournalLockedError: if another producer holds the journal.
        :raises JournalMismatchError: if it was written for another namespace or hub.
        :raises JournalVersionError: if it was written in a newer format version.
        :raises JournalCorruptError: if a record other than the last is damaged.
        :raises JournalError: if the directory cannot be created, read or written.
        """
        check_options(durability, fsync_interval, segment_size)
        directory = Path(directory)
        try:
            lock_fd = lock_directory(directory)
        except OSError as exc:
            raise JournalError(
                f"cannot open the journal {directory}: {describe_os_error(exc)}", directory
            ) from exc
        writer = None
        try:
            loader = Loader(directory, namespace, eventhub_name)
            loader.load(quarantine_damaged)
            generation = max((s.generation for s in loader.segments), default=0) + 1
            writer_class = MappedSegmentWriter if mapping_available() else SegmentWriter
            writer = writer_class(
                directory,
                header_factory(generation, namespace, eventhub_name),
                durability,
                fsync_interval,
                clock,
            )
            if isinstance(writer, MappedSegmentWriter):
                writer.reserve_until = segment_size
            store = cls(directory, loader, writer, generation, segment_size, lock_fd)
            store._segments.append(writer.start(loader.next_number, generation))
            store._reclaim()
        except BaseException:
            if writer is not None:
                writer.close()
            os.close(lock_fd)
            raise
        return store

    def sync(self) -> None:
        """``fdatasync`` what was written, whatever the durability.

        :raises JournalWriteError: if the disk reports an error.
        """
        self._writer.sync()

    def sync_if_due(self) -> None:
        """With ``durability="interval"``: sync if ``fsync_interval`` seconds have passed
        since the last sync. Call it now and then to bound how long an append stays
        unsynced when no further appends come."""
        self._writer.sync_if_due()

    # -- outcomes and space ------------------------------------------------------------

    def adopt(self, partition_id: str, seq: int, event: JournaledEvent) -> None:
        """Say that the producer accepted the recovered *event* again, as number *seq*
        of *partition_id* in this generation.

        Nothing is written: when an outcome covers *seq*, it is recorded against the
        event's first identity. *seq* counts in the same order as :meth:`append_events`.

        :raises ValueError: if *seq* does not increase, or the partition is not the event's.
        """
        if partition_id != event.partition_id:
            raise ValueError(
                f"a recovered event of partition {event.partition_id!r} cannot be adopted "
                f"by partition {partition_id!r}"
            )
        self._adopt(partition_id, seq, event.generation, event.seq, 1)

    def adopt_run(
        self, partition_id: str, seq: int, run: JournaledRun, start: int, count: int
    ) -> None:
        """:meth:`adopt` for events ``start`` to ``start + count - 1`` of *run* (from
        :meth:`recover_runs`), accepted again as numbers *seq* to ``seq + count - 1``.

        :raises ValueError: as :meth:`adopt`, or if the range is not within *run*.
        """
        if partition_id != run.partition_id:
            raise ValueError(
                f"a recovered run of partition {run.partition_id!r} cannot be adopted "
                f"by partition {partition_id!r}"
            )
        if start < 0 or count <= 0 or start + count > len(run):
            raise ValueError(f"events {start}-{start + count - 1} are not within {run!r}")
        self._adopt(partition_id, seq, run.generation, run.seq + start, count)

    def _adopt(self, partition_id: str, seq: int, generation: int, origin: int, count: int) -> None:
        last_seq = self._last_seq
        if seq <= last_seq.get(partition_id, -1):
            raise ValueError(f"partition {partition_id!r}: sequence number {seq} does not increase")
        last_seq[partition_id] = seq + count - 1
        # not journaled in this generation: the next append marks it as a gap
        self._outcomes.adopt(partition_id, seq, generation, origin, count)

    def append_outcome(self, partition_id: str, first_seq: int, end_seq: int) -> None:
        """Record that events ``first_seq`` to ``end_seq - 1`` of *partition_id* (this
        generation's numbers, adopted ones included) have their outcome.

        Written, not synced: a power loss may forget it (those events are then published
        again). Segments whose events all have their outcome are deleted.

        :raises JournalWriteError: if it could not be written (it is still known for as
            long as this store is open).
        """
        if not first_seq < end_seq:
            raise ValueError(f"empty outcome range [{first_seq}, {end_seq})")
        touched = self._outcomes.resolve(self.generation, partition_id, first_seq, end_seq)
        try:
            self._writer.append_records(
                b"".join(fmt.encode_outcome(pid, g, a, b) for g, pid, a, b in touched),
                "the outcome",
            )
        finally:
            self._reclaim(touched)

    def _reclaim(self, touched: list[Touched] | None = None) -> None:
        """Delete the segments whose events all have their outcome (after writing again
        the outcomes that still matter), and roll a large resolved active segment."""
        outcomes = self._outcomes
        writer = self._writer
        active = writer.active
        dead = outcomes.dead(self._segments, active, touched)
        if (
            active is not None
            and active.size >= self.segment_size // 4
            and active.ranges
            and active.resolved(outcomes.resolved)
        ):
            self._segments.append(writer.roll())  # (no index: it is deleted below)
            dead.append(active)
        if not dead:
            return
        spans, carried = outcomes.carried(s for s in self._segments if s not in dead)
        if carried:
            writer.append_records(carried, "outcomes carried forward")
        if writer.durability != "buffered":
            writer.sync()
        for s in dead:
            remove_segment(s.path)
            self._segments.remove(s)
        outcomes.prune(spans, self.generation, self._last_seq)

    # -- recovery ----------------------------------------------------------------------

    def recover(self) -> Iterator[JournaledEvent]:
        """Stream the events of earlier generations that have no outcome, in their
        original order per partition (and in journal order overall).

        Reads the segments again, one chunk at a time: memory stays flat however large
        the journal. Call it once per store; :meth:`adopt` what it yields.

        :raises RuntimeError: if called a second time.
        :raises JournalCorruptError: if a segment was damaged since it was opened.
        """
        self._start_recovery()
        return stream_unresolved(self._old, lambda s: s in self._segments, self._outcomes.resolved)

    def recover_runs(self) -> Iterator[JournaledRun]:
        """:meth:`recover`, as runs of consecutive events of one partition (each one's
        message alone): each partition's in its original order, at most
        ``RUN_LIMIT`` events each. :meth:`adopt_run` what it yields.

        :raises RuntimeError: if called after :meth:`recover` or a second time.
        :raises JournalCorruptError: if a segment was damaged since it was opened.
        """
        self._start_recovery()
        return stream_unresolved_runs(
            self._old, lambda s: s in self._segments, self._outcomes.resolved
        )

    def _start_recovery(self) -> None:
        if self._recovering:
            raise RuntimeError("recover() can be called only once per opening of a journal")
        self._recovering = True

    # -- closing -----------------------------------------------------------------------

    @property
    def size_bytes(self) -> int:
        """Bytes of segment files (the sound parts)."""
        return sum(s.size for s in self._segments)

    @property
    def empty(self) -> bool:
        """Whether every event journaled has its outcome."""
        return all(s.resolved(self._outcomes.resolved) for s in self._segments)

    def __repr__(self) -> str:
        return (
            f"<JournalStore {'closed' if self.closed else 'open'} {str(self.directory)!r} "
            f"generation={self.generation} segments={len(self._segments)} "
            f"bytes={self.size_bytes} durability={self.durability!r}>"
        )

    def origin(self, partition_id: str, seq: int) -> tuple[int, int]:
        """The first identity ``(generation, seq)`` of this generation's number *seq*."""
        return self._outcomes.origin(self.generation, partition_id, seq)

    def close(self) -> None:
        """Close the journal and release its lock. Idempotent.

        If every event has its outcome, the segment files are deleted; otherwise what
        was written is synced (unless ``durability="buffered"``).
        """
        if self.closed:
            return
        self.closed = True
        try:
            if self.empty:
                for s in self._segments:
                    remove_segment(s.path)
                self._segments.clear()
            elif self.durability != "buffered" and self._writer.broken is None:
                self._writer.sync()
        finally:
            self._writer.close()
            with contextlib.suppress(OSError):
                os.close(self._lock_fd)
