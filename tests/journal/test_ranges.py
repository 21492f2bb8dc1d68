"""RangeSet against a plain set of integers (the oracle)."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from anyio_eventhubs._journal._ranges import RangeSet

_ranges = st.lists(st.tuples(st.integers(0, 60), st.integers(0, 12)), max_size=25)


@given(
    added=_ranges, probe=st.tuples(st.integers(0, 80), st.integers(0, 20)), floor=st.integers(0, 80)
)
def test_rangeset_is_the_set_of_its_ranges(
    added: list[tuple[int, int]], probe: tuple[int, int], floor: int
) -> None:
    ranges, oracle = RangeSet(), set[int]()
    for start, length in added:
        ranges.add(start, start + length)
        oracle.update(range(start, start + length))
    listed = list(ranges)
    assert all(a < b for a, b in listed)
    assert all(b1 < a2 for (_, b1), (a2, _) in itertools.pairwise(listed))  # merged
    assert {i for a, b in listed for i in range(a, b)} == oracle
    start, end = probe[0], probe[0] + probe[1]
    wanted = set(range(start, end))
    assert ranges.covers(start, end) == (wanted <= oracle)
    assert ranges.overlaps(start, end) == bool(wanted & oracle)
    assert all((i in ranges) == (i in oracle) for i in range(start, end + 1))
    assert {i for a, b in ranges.clipped(start, end) for i in range(a, b)} == wanted & oracle
    ranges.discard_below(floor)
    assert {i for a, b in ranges for i in range(a, b)} >= {i for i in oracle if i >= floor}
