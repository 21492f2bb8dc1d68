"""Recovery streams from disk: memory stays flat however large the journal."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from anyio_eventhubs._journal._runs import RUN_LIMIT

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


def _recover_under_tracemalloc(path: Path, runs: bool = False) -> tuple[int, int]:
    tracemalloc.start()
    try:
        store = open_store(path, segment_size=4 << 20)
        if runs:  # (what the producer reads: runs of up to RUN_LIMIT events)
            count = sum(len(run) for run in store.recover_runs())
        else:
            count = sum(1 for _ in store.recover())
        _, peak = tracemalloc.get_traced_memory()
        store.close()
    finally:
        tracemalloc.stop()
    return count, peak


@pytest.mark.parametrize("runs", [False, True], ids=["events", "runs"])
def test_recovery_streams_with_flat_memory(tmp_path: Path, runs: bool) -> None:
    journal_size = _fill(tmp_path, 40_000)
    count, peak = _recover_under_tracemalloc(tmp_path, runs)
    assert count == 40_000 - 80
    assert journal_size > 4_000_000
    # a chunk being read (256 KiB, and its copy) and one record, not the journal; and
    # for runs, up to RUN_LIMIT events per partition (each under 256 bytes here)
    assert peak < (1 << 20) + runs * RUN_LIMIT * 4 * 256, (peak, journal_size)


@pytest.mark.slow
def test_recovering_200k_events_keeps_memory_far_below_the_journal(tmp_path: Path) -> None:
    journal_size = _fill(tmp_path, 200_000)
    count, peak = _recover_under_tracemalloc(tmp_path)
    assert count == 200_000 - 80
    assert journal_size > 20_000_000
    assert peak < 1 << 20, (peak, journal_size)
