"""A set of integers kept as sorted, disjoint, merged half-open ranges.

Outcomes arrive as contiguous ranges of sequence numbers, mostly in order, so a
partition's resolved set is one range plus a few islands: small however many events
went through.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator

__all__ = ["RangeSet"]


class RangeSet:
    """Sorted disjoint ``[start, end)`` ranges; adjacent or overlapping ones are merged."""

    __slots__ = ("_ends", "_starts")

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []

    def __len__(self) -> int:
        """How many ranges (not how many integers)."""
        return len(self._starts)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return zip(self._starts, self._ends, strict=True)

    def __repr__(self) -> str:
        return f"RangeSet({list(self)})"

    def add(self, start: int, end: int) -> None:
        """Add ``start`` to ``end - 1`` (nothing if the range is empty)."""
        if start >= end:
            return
        starts, ends = self._starts, self._ends
        # fast path: extending the last range, the usual case
        if starts and ends[-1] >= start >= starts[-1]:
            if end > ends[-1]:
                ends[-1] = end
            return
        lo = bisect_left(ends, start)  # first range that ends at or after start
        hi = bisect_right(starts, end)  # ranges before hi start at or before end
        if lo < hi:
            start = min(start, starts[lo])
            end = max(end, ends[hi - 1])
        starts[lo:hi] = [start]
        ends[lo:hi] = [end]

    def __contains__(self, value: int) -> bool:
        i = bisect_right(self._starts, value) - 1
        return i >= 0 and value < self._ends[i]

    def covers(self, start: int, end: int) -> bool:
        """Whether every integer from ``start`` to ``end - 1`` is in the set."""
        if start >= end:
            return True
        i = bisect_right(self._starts, start) - 1
        return i >= 0 and end <= self._ends[i]

    def overlaps(self, start: int, end: int) -> bool:
        """Whether any integer from ``start`` to ``end - 1`` is in the set."""
        if start >= end:
            return False
        i = bisect_left(self._ends, start + 1)  # the first range that ends after start
        return i < len(self._starts) and self._starts[i] < end

    def clipped(self, start: int, end: int) -> list[tuple[int, int]]:
        """The ranges, cut to ``[start, end)``."""
        out = []
        for s, e in self:
            s, e = max(s, start), min(e, end)
            if s < e:
                out.append((s, e))
        return out

    def discard_below(self, floor: int) -> None:
        """Forget everything below *floor* (memory only: nothing there is asked about)."""
        i = bisect_right(self._ends, floor)
        del self._starts[:i], self._ends[:i]
