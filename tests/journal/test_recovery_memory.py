"""Recovery streams from disk: memory stays flat however large the journal."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from .helpers import crash, numbered, open_store, segments


def _fill(path: Path, count: int, partitions: int = 4) -> int:
    store = open_store(path, segment_size=4 << 20)
    per = count // partitions
    for start in range(0, per, 100):
        for p in range(partitions):
            store.append_events(numbered(str(p), range(start, start + 100)))
    for p in range(partitions):  # a few resolved ranges, so the filter has work to do
        store.append_outcome(str(p), 0, 10)
        store.append_outcome(str(p), per // 2, per // 2 + 10)
    crash(store)
    return sum(s.stat().st_size for s in segments(path))


def _recover_under_tracemalloc(path: Path) -> tuple[int, int]:
    tracemalloc.start()
    try:
        store = open_store(path, segment_size=4 << 20)
        count = sum(1 for _ in store.recover())
        _, peak = tracemalloc.get_traced_memory()
        store.close()
    finally:
        tracemalloc.stop()
    return count, peak


def test_recovery_streams_with_flat_memory(tmp_path: Path) -> None:
    journal_size = _fill(tmp_path, 40_000)
    count, peak = _recover_under_tracemalloc(tmp_path)
    assert count == 40_000 - 80
    assert journal_size > 4_000_000
    # a chunk being read (256 KiB, and its copy) and one record, not the journal
    assert peak < 1 << 20, (peak, journal_size)


@pytest.mark.slow
def test_recovering_200k_events_keeps_memory_far_below_the_journal(tmp_path: Path) -> None:
    journal_size = _fill(tmp_path, 200_000)
    count, peak = _recover_under_tracemalloc(tmp_path)
    assert count == 200_000 - 80
    assert journal_size > 20_000_000
    assert peak < 1 << 20, (peak, journal_size)
