"""The journal's segment files against SQLite (WAL, one table), on the journal's workload.

::

    python benchmarks/journal_store.py [-n 200000] [--group 100] [--repeats 3] [--dir DIR]

The workload (issue #10): ``n`` accepted events of ~100 bytes (body-only, encoded as the
producer encodes them, generated before the clock starts), round robin over 4
partitions in groups of ``group`` events per append (one group = one call = one
transaction; ``--group 1`` uses the store's one-event ``append_event``). Three timed
phases, each in events per second:

- ``append``: a fresh journal takes all ``n`` events; then the process "dies" (the
  store is dropped without a close or an outcome);
- ``recover``: the journal is opened again and every event streamed back, as the
  producer recovers them (``recover_runs()``, each run adopted as a range);
- ``outcomes``: each recovered group gets its outcome (one call or transaction per
  group), which frees the space; then a clean close.

Two durabilities: ``none`` (written to the OS: survives a process kill; the segments'
``"buffered"``, SQLite ``synchronous=OFF``) and ``always`` (``fdatasync`` before each
append returns; the segments' ``"always"``, SQLite ``synchronous=FULL``). Outcomes are
not synced in either store (SQLite ``synchronous=NORMAL`` for them under ``always``):
a lost outcome only re-publishes. Medians of ``--repeats`` runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anyio_eventhubs._events import QueuedEvent, encode_event
from anyio_eventhubs._journal import JournalStore

PARTITIONS = 4
Groups = list[tuple[str, list[QueuedEvent]]]


def make_groups(n: int, group: int) -> Groups:
    groups: Groups = []
    seqs = [0] * PARTITIONS
    for g in range(n // group):
        p = g % PARTITIONS
        events = []
        for _ in range(group):
            body = f"event {p}:{seqs[p]} ".encode().ljust(100, b"x")
            events.append(QueuedEvent(body, encode_event(body, None), seqs[p]))
            seqs[p] += 1
        groups.append((str(p), events))
    return groups


def run_segments(path: Path, groups: Groups, durability: str) -> dict[str, float]:
    n = sum(len(events) for _, events in groups)
    mode = "buffered" if durability == "none" else "always"
    t0 = time.perf_counter()
    store = JournalStore.open(path, namespace="ns", eventhub_name="hub", durability=mode)  # type: ignore[arg-type]
    for pid, events in groups:
        if len(events) == 1:
            store.append_event(pid, events[0])
        else:
            store.append_events([(pid, event, None) for event in events])
    t1 = time.perf_counter()
    size = store.size_bytes
    store._writer.close()  # a kill: no close, no outcome
    os.close(store._lock_fd)
    t2 = time.perf_counter()
    store = JournalStore.open(path, namespace="ns", eventhub_name="hub", durability=mode)  # type: ignore[arg-type]
    next_seq = dict.fromkeys(map(str, range(PARTITIONS)), 0)
    runs: list[tuple[str, int, int]] = []
    for run in store.recover_runs():  # as the producer recovers: runs, adopted whole
        pid, count = run.partition_id, len(run)
        seq = next_seq[pid]
        next_seq[pid] = seq + count
        store.adopt_run(pid, seq, run, 0, count)
        runs.append((pid, seq, count))
    t3 = time.perf_counter()
    assert sum(count for *_, count in runs) == n, runs
    group = len(groups[0][1])
    for pid, total in next_seq.items():  # (as many calls as groups appended)
        for first in range(0, total, group):
            store.append_outcome(pid, first, min(first + group, total))
    store.close()
    t4 = time.perf_counter()
    assert not list(path.glob("*.seg"))
    return {
        "append": n / (t1 - t0),
        "recover": n / (t3 - t2),
        "outcomes": n / (t4 - t3),
        "bytes": size,
    }


def _connect(path: Path, durability: str) -> sqlite3.Connection:
    db = sqlite3.connect(path / "journal.sqlite3", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={'OFF' if durability == 'none' else 'FULL'}")
    db.execute(
        "CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, gen INTEGER, pid TEXT, "
        "seq INTEGER, kind INTEGER, key TEXT, encoded BLOB)"
    )
    db.execute("CREATE INDEX IF NOT EXISTS by_seq ON events (pid, gen, seq)")
    return db


def run_sqlite(path: Path, groups: Groups, durability: str) -> dict[str, float]:
    n = sum(len(events) for _, events in groups)
    t0 = time.perf_counter()
    db = _connect(path, durability)
    insert = "INSERT INTO events (gen, pid, seq, kind, key, encoded) VALUES (1, ?, ?, 0, NULL, ?)"
    for pid, events in groups:
        db.execute("BEGIN")
        db.executemany(insert, [(pid, e.seq, e.encoded) for e in events])
        db.execute("COMMIT")
    t1 = time.perf_counter()
    size = sum(p.stat().st_size for p in path.iterdir())
    db.close()  # the WAL holds what a kill would leave (a close only checkpoints it)
    t2 = time.perf_counter()
    db = _connect(path, durability)
    recovered = []
    for pid, gen, seq, _kind, _key, _encoded in db.execute(
        "SELECT pid, gen, seq, kind, key, encoded FROM events ORDER BY id"
    ):
        recovered.append((pid, gen, seq))
    t3 = time.perf_counter()
    assert len(recovered) == n
    if durability != "none":
        db.execute("PRAGMA synchronous=NORMAL")
    group = len(groups[0][1])
    for start in range(0, n, group):
        pid, gen, first = recovered[start]
        db.execute(
            "DELETE FROM events WHERE pid = ? AND gen = ? AND seq >= ? AND seq < ?",
            (pid, gen, first, first + group),
        )
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    t4 = time.perf_counter()
    return {
        "append": n / (t1 - t0),
        "recover": n / (t3 - t2),
        "outcomes": n / (t4 - t3),
        "bytes": size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200_000)
    parser.add_argument("--group", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--dir", type=Path, default=None, help="where to write (default: a temp dir)"
    )
    args = parser.parse_args()
    groups = make_groups(args.n, args.group)
    base = Path(tempfile.mkdtemp(prefix="journal-bench-", dir=args.dir))
    contenders: dict[str, Callable[[Path, Groups, str], dict[str, float]]] = {
        "segments": run_segments,
        "sqlite": run_sqlite,
    }
    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    try:
        for durability in ("none", "always"):
            for _ in range(args.repeats):
                for name, run in contenders.items():  # interleaved
                    work = base / f"{name}-{durability}"
                    shutil.rmtree(work, ignore_errors=True)
                    work.mkdir()
                    results.setdefault((name, durability), []).append(run(work, groups, durability))
                    shutil.rmtree(work)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(
        f"n={args.n} events of ~100 bytes, groups of {args.group}, {PARTITIONS} partitions, "
        f"medians of {args.repeats}; events/s"
    )
    print()
    print("| durability | phase | segments | SQLite (WAL) | segments / SQLite |")
    print("|---|---|---:|---:|---:|")
    for durability in ("none", "always"):
        for phase in ("append", "recover", "outcomes"):
            seg = statistics.median(r[phase] for r in results["segments", durability])
            sql = statistics.median(r[phase] for r in results["sqlite", durability])
            print(f"| {durability} | {phase} | {seg:,.0f} | {sql:,.0f} | {seg / sql:.1f}x |")
    seg_bytes = statistics.median(r["bytes"] for r in results["segments", "none"])
    sql_bytes = statistics.median(r["bytes"] for r in results["sqlite", "none"])
    print()
    print(f"bytes on disk after the appends: segments {seg_bytes:,.0f}, SQLite {sql_bytes:,.0f}")


if __name__ == "__main__":
    main()
