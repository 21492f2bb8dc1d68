"""Writing accepted events to the journal: the store's appending half.

A base class of :class:`~anyio_eventhubs._journal._store.JournalStore` (which sets the
attributes declared here). One event is one record, written with one ``write``
(:meth:`EventAppending.append_one`, with an encoder per partition); many events of one
call are one record (:meth:`EventAppending.append_events`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .._events import QueuedEvent
from . import _format as fmt
from ._errors import describe_os_error
from ._index import SegmentIndex, encode_index, index_path, write_index
from ._opening import logger
from ._outcomes import Outcomes
from ._segments import Segment, kind_of
from ._writer import OneEventCopier, SegmentWriter

__all__ = ["EventAppending"]


class EventAppending:
    """Appending events: :meth:`append_event`, :meth:`append_one`, :meth:`append_events`."""

    generation: int
    segment_size: int
    _writer: SegmentWriter
    _segments: list[Segment]
    _outcomes: Outcomes
    #: per partition: the last number appended or adopted, and the last appended
    _last_seq: dict[str, int]
    _last_written: dict[str, int]
    #: per partition: its id in UTF-8, and its one-event encoder (``one_event_encoder``)
    _pid_bytes: dict[str, bytes]
    _encoders: dict[str, Callable[[int, int, bytes], bytes]]
    #: per partition: the writer's fused encoder and copier (``one_event_copier``)
    _copiers: dict[str, OneEventCopier]

    def append_event(
        self, partition_id: str, queued: QueuedEvent, partition_key: str | None = None
    ) -> None:
        """Journal one accepted event: :meth:`append_events` for one, with less overhead.

        :raises JournalWriteError: if writing failed: the event must not be accepted.
        :raises ValueError: if its sequence number does not increase.
        """
        self.append_one(
            partition_id, queued.seq, kind_of(queued.event), queued.encoded, partition_key
        )

    def append_one(
        self,
        partition_id: str,
        seq: int,
        kind: int,
        encoded: bytes,
        partition_key: str | None = None,
    ) -> None:
        """:meth:`append_event` of an event given as its parts: its number, its kind
        (``KIND_BYTES``, ``KIND_STR`` or ``KIND_EVENT_DATA``) and its encoded message."""
        last_seq = self._last_seq
        if seq <= last_seq.get(partition_id, -1):
            raise ValueError(f"partition {partition_id!r}: sequence number {seq} does not increase")
        writer = self._writer
        active = writer.active
        if partition_key is None:  # encoded and copied at once if it fits
            copy = self._copiers.get(partition_id)
            if copy is None:
                copy = self._copiers[partition_id] = writer.one_event_copier(
                    self._raw_pid(partition_id)
                )
            done = active is not None and copy(active, seq, kind, encoded)
            if not done:
                encode = self._encoders.get(partition_id)
                if encode is None:
                    raw_pid = self._raw_pid(partition_id)
                    encode = self._encoders[partition_id] = fmt.one_event_encoder(raw_pid)
                data = encode(seq, kind, encoded)
        else:
            raw_key = partition_key.encode("utf-8")
            data = fmt.encode_one_event(self._raw_pid(partition_id), seq, kind, raw_key, encoded)
            done = active is not None and writer.copy_if_reserved(active, data)
        if not done:  # rolling to a new segment, or reserving space, or writing
            if active is None or active.size + len(data) > self.segment_size:
                self._roll_for(len(data))
                active = writer.active
            writer.append(data, "the event")  # (raises if the journal is closed)
        assert active is not None
        last_written = self._last_written
        previous = last_written.get(partition_id, -1)
        if seq != previous + 1:  # numbers adopted or never written: nothing to wait for
            self._outcomes.resolved_set(self.generation, partition_id).add(previous + 1, seq)
        try:
            active.ranges[partition_id][1] = seq + 1
        except KeyError:
            active.ranges[partition_id] = [seq, seq + 1]
        last_seq[partition_id] = last_written[partition_id] = seq
        if writer.durability != "buffered":
            writer.after_append()

    def _raw_pid(self, partition_id: str) -> bytes:
        raw_pid = self._pid_bytes.get(partition_id)
        if raw_pid is None:
            raw_pid = self._pid_bytes[partition_id] = fmt.encode_pid(partition_id)
        return raw_pid

    def append_events(self, events: Iterable[tuple[str, QueuedEvent, str | None]]) -> None:
        """Journal accepted events: ``(partition id, queued event, partition key)``.

        Returns once they are written (with ``durability="always"``, once they are on
        disk). All or nothing: if it raises, none of them was written. Sequence numbers
        (``QueuedEvent.seq``) must increase per partition across calls and :meth:`adopt`.

        :raises JournalWriteError: if writing failed (disk full, permission): the events
            were not journaled, so they must not be accepted.
        :raises ValueError: if a sequence number does not increase.
        """
        last = dict(self._last_seq)
        written = dict(self._last_written)
        firsts: dict[str, int] = {}
        counts: dict[str, int] = {}
        gaps: list[tuple[str, int, int]] = []
        pieces = []
        pid_bytes = self._pid_bytes
        for pid, queued, key in events:
            seq = queued.seq
            if seq <= last.get(pid, -1):
                raise ValueError(f"partition {pid!r}: sequence number {seq} does not increase")
            previous = written.get(pid, -1)
            if seq != previous + 1:
                gaps.append((pid, previous + 1, seq))
            last[pid] = written[pid] = seq
            if pid in counts:
                counts[pid] += 1
            else:
                firsts[pid] = seq
                counts[pid] = 1
            raw_pid = self._raw_pid(pid)
            raw_key = None if key is None else key.encode("utf-8")
            pieces.append(
                fmt.encode_entry(raw_pid, seq, kind_of(queued.event), raw_key, queued.encoded)
            )
        if not pieces:
            return
        data = fmt.encode_events(
            pieces, {pid_bytes[p]: (f, last[p], counts[p]) for p, f in firsts.items()}
        )
        writer = self._roll_for(len(data))
        writer.append(data, f"{len(pieces)} events")
        active = writer.active
        assert active is not None
        for pid, first, end in gaps:  # numbers adopted or never written: nothing to wait for
            self._outcomes.resolved_set(self.generation, pid).add(first, end)
        ranges = active.ranges
        for pid, first in firsts.items():
            span = ranges.get(pid)
            if span is None:
                ranges[pid] = [first, last[pid] + 1]
            else:
                span[1] = last[pid] + 1
        self._last_seq = last
        self._last_written = written
        writer.after_append()

    def _roll_for(self, size: int) -> SegmentWriter:
        """The writer, after starting a new segment if *size* more bytes would overflow."""
        writer = self._writer
        active = writer.active
        if active and active.size + size > self.segment_size and active.size > writer.header_size:
            self._segments.append(self._roll())
        return writer

    def _roll(self) -> Segment:
        """Index the active segment (``_index``), then start the next one; return it.

        An index that cannot be written is only logged: the segment is then read
        record by record at the next opening.
        """
        writer = self._writer
        active = writer.active
        assert active is not None
        resolved = self._outcomes.resolved
        if active.resolved(resolved):  # (deleted at the next outcome: no index needed)
            return writer.roll()
        parts = [
            (pid, first, end, done.clipped(first, end) if done is not None else [])
            for pid, (first, end) in active.ranges.items()
            for done in (resolved.get((active.generation, pid)),)
        ]
        try:
            index = SegmentIndex(
                active.number,
                active.generation,
                active.size,
                writer.content_crc(),
                parts,
                list(active.others),
            )
            write_index(
                index_path(active.path), encode_index(index), writer.durability != "buffered"
            )
        except OSError as exc:
            logger.warning(
                "journal: could not write the index of %s (%s); the next opening reads "
                "that segment record by record",
                active.path,
                describe_os_error(exc),
            )
        return writer.roll()
