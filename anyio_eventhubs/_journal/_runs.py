"""Recovery's read path: the unresolved events of earlier generations, as runs.

:func:`stream_unresolved_runs` reads the segments again (as
:func:`~._outcomes.stream_unresolved` does) but yields :class:`JournaledRun` s:
consecutive events of one partition and generation, as their encoded messages alone,
with no object per event. That is what the producer queues (one
:class:`~anyio_eventhubs._runs.QueuedRun` per run) and adopts (one range per run).

A one-event record, the usual kind, is decoded by one fused ``struct`` unpack
(:func:`one_event`); any other record takes :func:`~._format.decode_entries`.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Iterator

from . import _format as fmt
from ._errors import JournalCorruptError
from ._ranges import RangeSet
from ._scan import SegmentScan
from ._segments import Segment

__all__ = ["JournaledRun", "one_event", "one_event_at", "stream_unresolved_runs"]

#: the most events one run holds (what recovery queues, and adopts, in one step)
RUN_LIMIT = 512


class JournaledRun:
    """Events ``seq`` to ``seq + len(messages) - 1`` of *partition_id* in *generation*,
    without an outcome: each one's AMQP message, exactly as it was accepted."""

    __slots__ = ("generation", "messages", "partition_id", "seq")

    def __init__(self, partition_id: str, generation: int, seq: int, messages: list[bytes]) -> None:
        self.partition_id = partition_id
        self.generation = generation
        self.seq = seq
        self.messages = messages

    def __len__(self) -> int:
        return len(self.messages)

    def __repr__(self) -> str:
        return (
            f"<JournaledRun partition={self.partition_id!r} generation={self.generation} "
            f"seq={self.seq} count={len(self.messages)}>"
        )


class _OneEvent:
    """The fused layout of one-event records whose partition id is *pid_len* bytes: the
    summary, the partition id and the entry header as one struct."""

    __slots__ = ("head", "pid_len", "unpack")

    def __init__(self, pid_len: int) -> None:
        layout = struct.Struct(f"<HBQQI{pid_len}sQIBBH")
        self.unpack = layout.unpack_from
        self.pid_len = pid_len
        #: where the entry's partition id starts (then the key, if any, and the message)
        self.head = layout.size


_LAYOUTS = [_OneEvent(n) for n in range(256)]


#: partition ids seen, decoded (there are few)
_PIDS: dict[bytes, str] = {}


def one_event(body: memoryview | bytes) -> tuple[str, int, int, int] | None:
    """Decode a one-event ``EVENTS`` record body in one step.

    :returns: ``(partition id, sequence number, start, end)``, the message being
        ``body[start:end]``; ``None`` if the body is not a well-formed one-event record
        whose entry names the summary's partition (then decode it the general way, which
        also says what is wrong).
    """
    return one_event_at(body, 0, len(body))


def one_event_at(data: memoryview | bytes, at: int, stop: int) -> tuple[str, int, int, int] | None:
    """:func:`one_event` of the record body ``data[at:stop]``; offsets in *data*."""
    if stop - at < fmt.ONE_SPAN_SIZE or data[at] != 1 or data[at + 1] != 0:
        return None
    layout = _LAYOUTS[data[at + 2]]
    head = at + layout.head
    n = layout.pid_len
    if stop < head + n:
        return None
    _, _, first, last, count, raw_pid, seq, size, kind, entry_pid_len, key_len = layout.unpack(
        data, at
    )
    start = head + n if key_len == fmt.NO_KEY else head + n + key_len
    if (
        count != 1
        or first != seq
        or last != seq
        or kind > fmt.KIND_EVENT_DATA
        or entry_pid_len != n
        or start + size != stop
        or data[head : head + n] != raw_pid
    ):
        return None
    pid = _PIDS.get(raw_pid)
    try:
        if pid is None:
            pid = raw_pid.decode("utf-8")
            if len(_PIDS) < 4096:
                _PIDS[raw_pid] = pid
        if key_len != fmt.NO_KEY:  # (not needed here, but it must be text)
            bytes(data[head + n : start]).decode("utf-8")
    except UnicodeDecodeError:
        return None
    return pid, seq, start, start + size


def stream_unresolved_runs(
    segments: Iterable[Segment],
    alive: Callable[[Segment], bool],
    resolved: dict[tuple[int, str], RangeSet],
    limit: int = RUN_LIMIT,
) -> Iterator[JournaledRun]:
    """Read *segments* again and yield their events without an outcome as runs.

    Each partition's runs come in its original order; runs of different partitions
    interleave (a partition's run is yielded once its next event does not follow it or
    would make it longer than *limit*, and at the end). Memory holds at most *limit*
    events per partition.

    :param alive: whether a segment still exists (a deleted one is skipped: all its
        events have their outcome).
    :raises JournalCorruptError: if a segment was damaged since it was opened.
    """
    pending: dict[str, JournaledRun] = {}
    EVENTS = fmt.EVENTS

    def add(pid: str, gen: int, seq: int, message: bytes) -> Iterator[JournaledRun]:
        """Add one event: to its partition's pending run if it follows it, else in a
        new one (yielding the one it ends)."""
        run = pending.get(pid)
        if run is not None:
            messages = run.messages
            if run.generation == gen and run.seq + len(messages) == seq and len(messages) < limit:
                messages.append(message)
                return
            yield run
        pending[pid] = JournaledRun(pid, gen, seq, [message])

    for segment in segments:
        if not alive(segment):
            continue
        gen = segment.generation
        # per partition: its resolved set if any event of this segment has an outcome
        checks = {
            pid: done
            for pid, (first, end) in segment.ranges.items()
            if (done := resolved.get((gen, pid))) is not None and done.overlaps(first, end)
        }
        path = segment.path
        try:
            for base, data, records in SegmentScan(path).chunks():
                for offset, record_type, at, stop in records:
                    if record_type != EVENTS:
                        continue
                    decoded = one_event_at(data, at, stop)
                    if decoded is None:  # several events, or not well formed: the general way
                        try:
                            entries = fmt.decode_entries(data[at:stop])
                        except fmt.DamagedError as exc:
                            raise JournalCorruptError(exc.reason, path, base + offset) from None
                        for pid, seq, _, _, message in entries:
                            done = checks.get(pid)
                            if done is None or seq not in done:
                                yield from add(pid, gen, seq, message)
                        continue
                    pid, seq, start, end = decoded
                    done = checks.get(pid)
                    if done is not None and seq in done:
                        continue
                    run = pending.get(pid)
                    if (
                        run is not None
                        and run.generation == gen
                        and run.seq + len(run.messages) == seq
                        and len(run.messages) < limit
                    ):  # (add()'s usual case, inlined: it is most events)
                        run.messages.append(data[start:end])
                        continue
                    yield from add(pid, gen, seq, data[start:end])
        except FileNotFoundError:
            continue  # deleted while we read: all its events have their outcome
    yield from pending.values()
