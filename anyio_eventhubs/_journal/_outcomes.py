"""Which journaled events have their outcome: pure bookkeeping, no I/O.

Outcomes are kept per generation and partition as :class:`~._ranges.RangeSet` s. An
event adopted by a later generation (accepted again after a recovery) keeps its first
identity: an outcome for its new number is translated back through the adopted runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from . import _format as fmt
from ._errors import JournalCorruptError
from ._ranges import RangeSet
from ._scan import JournaledEvent, SegmentScan
from ._segments import Segment

__all__ = ["Outcomes", "Touched", "stream_unresolved"]

#: an outcome as recorded: generation, partition id, first and end sequence numbers
Touched = tuple[int, str, int, int]


class Outcomes:
    """The resolved ranges of every generation and partition, and the adopted runs."""

    def __init__(self, resolved: dict[tuple[int, str], RangeSet]) -> None:
        self.resolved = resolved
        #: per partition: [new_start, new_end, origin generation, origin start]
        self.adopted: dict[str, list[list[int]]] = {}

    def resolved_set(self, generation: int, partition_id: str) -> RangeSet:
        key = (generation, partition_id)
        found = self.resolved.get(key)
        if found is None:
            found = self.resolved[key] = RangeSet()
        return found

    def origin(self, generation: int, partition_id: str, seq: int) -> tuple[int, int]:
        """The first identity (generation, number) of number *seq* of *generation*."""
        for start, stop, origin_gen, origin in reversed(self.adopted.get(partition_id, ())):
            if start <= seq < stop:
                return origin_gen, origin + seq - start
        return generation, seq

    def adopt(
        self, partition_id: str, seq: int, generation: int, origin: int, count: int = 1
    ) -> None:
        """Numbers *seq* to ``seq + count - 1`` of this generation are events *origin*
        to ``origin + count - 1`` of *generation*."""
        runs = self.adopted.get(partition_id)
        if runs is None:
            runs = self.adopted[partition_id] = []
        elif (
            (run := runs[-1])[1] == seq and run[2] == generation and run[3] + seq - run[0] == origin
        ):
            run[1] = seq + count
            return
        runs.append([seq, seq + count, generation, origin])

    def resolve(self, generation: int, partition_id: str, first: int, end: int) -> list[Touched]:
        """Record an outcome for ``first`` to ``end - 1`` of this *generation*; return it
        and, for adopted numbers, the same outcome in their first identities."""
        self.resolved_set(generation, partition_id).add(first, end)
        touched = [(generation, partition_id, first, end)]
        runs = self.adopted.get(partition_id)
        if not runs:
            return touched
        kept: list[list[int]] = []
        for run in runs:
            start, stop, origin_gen, origin = run
            lo, hi = max(start, first), min(stop, end)
            if lo >= hi:
                kept.append(run)
                continue
            a, b = origin + lo - start, origin + hi - start
            self.resolved_set(origin_gen, partition_id).add(a, b)
            touched.append((origin_gen, partition_id, a, b))
            if start < lo:
                kept.append([start, lo, origin_gen, origin])
            if hi < stop:
                kept.append([hi, stop, origin_gen, origin + hi - start])
        if kept:
            self.adopted[partition_id] = kept
        else:
            del self.adopted[partition_id]
        return touched

    def dead(
        self, segments: Iterable[Segment], active: Segment | None, touched: list[Touched] | None
    ) -> list[Segment]:
        """The segments other than *active* whose events all have their outcome (among
        those *touched* concerns; all of them if ``None``)."""

        def affected(segment: Segment) -> bool:
            if touched is None:
                return True
            for gen, pid, first, end in touched:
                span = segment.ranges.get(pid)
                if (
                    gen == segment.generation
                    and span is not None
                    and first < span[1]
                    and end > span[0]
                ):
                    return True
            return False

        return [
            s for s in segments if s is not active and affected(s) and s.resolved(self.resolved)
        ]

    def carried(
        self, survivors: Iterable[Segment]
    ) -> tuple[dict[tuple[int, str], list[int]], bytes]:
        """The outcomes that matter to *survivors*, as records to write again before
        other segments are deleted; and the span of numbers per generation and partition
        the survivors hold."""
        spans: dict[tuple[int, str], list[int]] = {}
        for s in survivors:
            for pid, (first, end) in s.ranges.items():
                span = spans.setdefault((s.generation, pid), [first, end])
                span[0], span[1] = min(span[0], first), max(span[1], end)
        records = b"".join(
            fmt.encode_outcome(pid, gen, a, b)
            for (gen, pid), (lo, hi) in spans.items()
            if (done := self.resolved.get((gen, pid))) is not None
            for a, b in done.clipped(lo, hi)
        )
        return spans, records

    def prune(
        self,
        spans: dict[tuple[int, str], list[int]],
        generation: int,
        last_seq: dict[str, int],
    ) -> None:
        """Forget the ranges below what the surviving segments hold."""
        for key, done in list(self.resolved.items()):
            kept = spans.get(key)
            if kept is not None:
                done.discard_below(kept[0])
            elif key[0] != generation:
                del self.resolved[key]
            else:
                done.discard_below(last_seq.get(key[1], -1) + 1)


def stream_unresolved(
    segments: Iterable[Segment],
    alive: Callable[[Segment], bool],
    resolved: dict[tuple[int, str], RangeSet],
) -> Iterator[JournaledEvent]:
    """Read *segments* again and yield their events without an outcome, in order.

    :param alive: whether a segment still exists (a deleted one is skipped: all its
        events have their outcome).
    """
    for segment in segments:
        if not alive(segment):
            continue
        gen = segment.generation
        path: Path = segment.path
        try:
            for offset, record_type, body in SegmentScan(path):
                if record_type != fmt.EVENTS:
                    continue
                try:
                    spans, start = fmt.decode_summary(body)
                    entries = fmt.decode_entries(body, start)
                except fmt.DamagedError as exc:
                    raise JournalCorruptError(exc.reason, path, offset) from None
                if len(spans) == 1:  # one partition: check the record as a whole first
                    pid, first, last, _ = spans[0]
                    done = resolved.get((gen, pid))
                    if done is None or not done.overlaps(first, last + 1):
                        for pid, seq, kind, key, encoded in entries:
                            yield JournaledEvent(pid, gen, seq, kind, key, encoded)
                        continue
                for pid, seq, kind, key, encoded in entries:
                    done = resolved.get((gen, pid))
                    if done is None or seq not in done:
                        yield JournaledEvent(pid, gen, seq, kind, key, encoded)
        except FileNotFoundError:
            continue  # deleted while we read: all its events have their outcome
