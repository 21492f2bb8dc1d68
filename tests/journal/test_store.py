"""The segment store: recovery, adoption, reclaimed space, durability, quarantine."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
from azure.eventhub import EventData

from anyio_eventhubs._events import Event
from anyio_eventhubs._journal import (
    KIND_BYTES,
    KIND_EVENT_DATA,
    KIND_STR,
    JournalCorruptError,
    JournalStore,
    _mapped,
    _writer,
)

from .helpers import body_of, crash, numbered, open_store, queued, segments


def test_round_trip_gives_back_each_kind_with_properties_and_key(tmp_path: Path) -> None:
    rich = EventData(b"rich body")
    rich.properties = {"colour": "blue", "n": 7}
    rich.content_type = "application/json"
    store = open_store(tmp_path)
    store.append_events(
        [
            ("0", queued(b"raw", 0), None),
            ("0", queued("téxt", 1, "key-a"), "key-a"),
            ("1", queued(rich, 0, "key-b"), "key-b"),
        ]
    )
    crash(store)
    store = open_store(tmp_path)
    got = list(store.recover())
    store.close()
    assert [(e.partition_id, e.seq, e.kind, e.partition_key) for e in got] == [
        ("0", 0, KIND_BYTES, None),
        ("0", 1, KIND_STR, "key-a"),
        ("1", 0, KIND_EVENT_DATA, "key-b"),
    ]
    assert got[0].original() == b"raw"
    assert got[1].original() == "téxt"
    assert got[1].event_data().partition_key == b"key-a"
    data = got[2].original()
    assert isinstance(data, EventData)
    assert data.body_as_str() == "rich body"
    assert data.properties == {b"colour": b"blue", b"n": 7}  # as a consumer gets them
    assert data.content_type == "application/json"
    assert data.partition_key == b"key-b"
    assert got[2].encoded == queued(rich, 0, "key-b").encoded


def test_recovery_keeps_per_partition_order_and_skips_resolved_events(tmp_path: Path) -> None:
    store = open_store(tmp_path, segment_size=4096)
    for start in range(0, 300, 30):
        store.append_events(numbered("0", range(start, start + 30)))
        store.append_events(numbered("1", range(start, start + 30)))
    store.append_outcome("0", 0, 100)
    store.append_outcome("1", 200, 250)  # out of order: an island
    store.append_outcome("0", 150, 160)
    crash(store)
    store = open_store(tmp_path, segment_size=4096)
    got = [(e.partition_id, e.seq) for e in store.recover()]
    store.close()
    expected = {
        "0": [s for s in range(300) if not (s < 100 or 150 <= s < 160)],
        "1": [s for s in range(300) if not 200 <= s < 250],
    }
    for pid, seqs in expected.items():
        assert [s for p, s in got if p == pid] == seqs


def test_adopted_events_resolve_their_first_identity_across_crashes(tmp_path: Path) -> None:
    store = open_store(tmp_path, segment_size=4096)
    store.append_events(numbered("0", range(100)))
    store.append_outcome("0", 10, 20)
    crash(store)
    # second run: adopt the 90 left, then journal 5 new events after them
    store = open_store(tmp_path, segment_size=4096)
    recovered = list(store.recover())
    assert len(recovered) == 90
    for new_seq, event in enumerate(recovered):
        store.adopt("0", new_seq, event)
    store.append_events(numbered("0", range(90, 95)))
    store.append_outcome("0", 0, 40)  # the first 40 adopted (origin 0-9 and 20-49)
    store.append_outcome("0", 88, 92)  # two adopted (98, 99) and two new (90, 91)
    crash(store)
    store = open_store(tmp_path, segment_size=4096)
    recovered = list(store.recover())
    got = [(e.generation, e.seq) for e in recovered]
    assert got == [(1, s) for s in range(50, 98)] + [(2, 92), (2, 93), (2, 94)]
    for new_seq, event in enumerate(recovered):
        store.adopt("0", new_seq, event)
    store.append_outcome("0", 0, 51)
    assert store.empty
    store.close()
    assert segments(tmp_path) == []


def test_adopt_refuses_a_wrong_partition_or_order(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.append_events(numbered("0", range(3)))
    crash(store)
    store = open_store(tmp_path)
    event = next(iter(store.recover()))
    with pytest.raises(ValueError, match="partition"):
        store.adopt("1", 0, event)
    store.adopt("0", 5, event)
    with pytest.raises(ValueError, match="does not increase"):
        store.append_events(numbered("0", [5]))
    store.close()


def test_recover_can_be_called_once(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.recover()
    with pytest.raises(RuntimeError, match="once"):
        store.recover()
    store.close()


def test_sequence_numbers_must_increase_and_a_refused_call_writes_nothing(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.append_events(numbered("0", range(3)))
    size = store.size_bytes
    with pytest.raises(ValueError, match="does not increase"):
        store.append_events(numbered("1", range(2)) + numbered("0", [2]))
    assert store.size_bytes == size
    store.append_events(numbered("1", range(2)))  # partition 1 was not advanced
    store.close()


def test_space_is_reclaimed_as_outcomes_arrive(tmp_path: Path) -> None:
    segment_size = 64 << 10
    store = open_store(tmp_path, segment_size=segment_size)
    pids = [str(p) for p in range(4)]
    resolved = 0
    for start in range(0, 5000, 50):
        for pid in pids:
            store.append_events(numbered(pid, range(start, start + 50)))
        if start >= 500:  # outcomes trail the appends by 500 events per partition
            for pid in pids:
                store.append_outcome(pid, resolved, resolved + 50)
            resolved += 50
        # never much more than the outstanding events (4 x 500 x ~130 bytes) + 2 segments
        assert store.size_bytes < 4 * 550 * 140 + 2 * segment_size
    for pid in pids:
        store.append_outcome(pid, resolved, 5000)
    files = segments(tmp_path)
    assert len(files) == 1
    assert files[0].stat().st_size <= segment_size // 4
    store.close()
    assert segments(tmp_path) == []


def test_outcomes_in_a_deleted_segment_are_carried_forward(tmp_path: Path) -> None:
    # partition 0's first event stays unresolved and pins segment 1; partition 1's
    # outcomes land in later segments, which are deleted: they must not be forgotten
    store = open_store(tmp_path, segment_size=4096)
    store.append_events(numbered("0", [0]) + numbered("1", range(0, 5)))
    for start in range(5, 400, 5):
        store.append_events(numbered("1", range(start, start + 5)))
        store.append_outcome("1", start - 5, start)
    assert len(segments(tmp_path)) <= 3
    crash(store)
    store = open_store(tmp_path)
    got = [(e.partition_id, e.seq) for e in store.recover()]
    store.close()
    assert got == [("0", 0)] + [("1", s) for s in range(395, 400)]


def test_a_clean_close_with_everything_resolved_leaves_no_segment(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.append_events(numbered("0", range(10)))
    store.append_outcome("0", 0, 10)
    store.close()
    store.close()  # idempotent
    assert segments(tmp_path) == []
    store = open_store(tmp_path)
    assert list(store.recover()) == []
    store.close()


@pytest.mark.parametrize(
    ("durability", "expected"), [("buffered", 0), ("interval", 2), ("always", 10)]
)
def test_durability_decides_when_appends_are_synced(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    durability: str,
    expected: int,
    segment_version: int,
) -> None:
    syncs: list[object] = []
    monkeypatch.setattr(_writer, "_fdatasync", syncs.append)
    monkeypatch.setattr(_mapped, "_flush", syncs.append)  # msync, for version 2
    now = [0.0]
    store = open_store(tmp_path, durability=durability, fsync_interval=1.0, clock=lambda: now[0])
    syncs.clear()  # creating the first segment syncs it (except buffered)
    for i in range(10):
        now[0] = i * 0.25  # 0, 0.25, ..., 2.25: the interval passes twice
        store.append_events(numbered("0", [i]))
    assert len(syncs) == expected
    store.close()


def test_durability_is_validated(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="durability"):
        JournalStore.open(tmp_path, namespace="n", eventhub_name="h", durability="never")  # type: ignore[arg-type]


def test_quarantine_moves_the_damaged_part_aside_and_carries_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = open_store(tmp_path, segment_size=4096)
    for start in range(0, 120, 10):
        store.append_events(numbered("0", range(start, start + 10)))
    crash(store)
    _first, second, *_ = segments(tmp_path)
    raw = bytearray(second.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    second.write_bytes(bytes(raw))
    with pytest.raises(JournalCorruptError) as caught:
        open_store(tmp_path)
    assert caught.value.path == second
    with caplog.at_level(logging.ERROR, "anyio_eventhubs.journal"):
        store = open_store(tmp_path, quarantine_damaged=True)
    assert [p.parent.name for p in store.quarantined] == ["quarantine"]
    assert f"byte offset {caught.value.offset}" in caplog.text
    seqs = [e.seq for e in store.recover()]
    assert seqs[0] == 0
    assert seqs == sorted(seqs)
    assert len(seqs) < 120
    store.close()
    store = open_store(tmp_path)  # the journal is sound again
    store.close()


def test_a_torn_tail_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, segment_version: int
) -> None:
    store = open_store(tmp_path)
    store.append_events(numbered("0", range(3)))
    end = store._writer.active.size  # type: ignore[union-attr]
    crash(store)
    (seg,) = segments(tmp_path)
    with seg.open("r+b") as f:  # (version 2: in the segment's free space, zeros)
        f.seek(end)
        f.write(b"\x05\x00")
    assert (seg.stat().st_size > end + 2) == (segment_version == 2)
    with caplog.at_level(logging.WARNING, "anyio_eventhubs.journal"):
        store = open_store(tmp_path)
    assert "torn last record" in caplog.text
    assert [e.seq for e in store.recover()] == [0, 1, 2]
    store.close()


def test_a_journal_copied_elsewhere_still_opens(tmp_path: Path) -> None:
    store = open_store(tmp_path / "a")
    store.append_events(numbered("0", range(3)))
    crash(store)
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    store = open_store(tmp_path / "b")
    assert [body_of(e.encoded)[:4] for e in store.recover()] == [b"0:0:", b"0:1:", b"0:2:"]
    store.close()


def test_gaps_within_one_call_are_read_back_and_resolved(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.append_events(numbered("0", [0, 2, 3]) + numbered("1", [5]))
    crash(store)
    store = open_store(tmp_path)
    recovered = list(store.recover())
    assert [(e.partition_id, e.seq) for e in recovered] == [("0", 0), ("0", 2), ("0", 3), ("1", 5)]
    for event in recovered:
        store.adopt(event.partition_id, event.seq, event)
    store.append_outcome("0", 0, 4)
    assert [store.empty] == [False]  # partition 1 is still outstanding
    store.append_outcome("1", 5, 6)
    assert store.empty
    store.close()
    assert segments(tmp_path) == []


def test_append_event_writes_what_append_events_writes_for_one(tmp_path: Path) -> None:
    one, many = open_store(tmp_path / "one"), open_store(tmp_path / "many")
    rich = EventData(b"x")
    rich.properties = {"p": 1}
    cases: list[tuple[Event, str | None]] = [(b"a", None), ("b", "k"), (rich, None)]
    for seq, (event, key) in enumerate(cases):
        one.append_event("3", queued(event, seq, key), key)
        many.append_events([("3", queued(event, seq, key), key)])
    with pytest.raises(ValueError, match="does not increase"):
        one.append_event("3", queued(b"late", 1))
    one.append_event("3", queued(b"after a gap", 7))
    many.append_events([("3", queued(b"after a gap", 7), None)])
    crash(one)
    crash(many)
    (a,), (b,) = segments(tmp_path / "one"), segments(tmp_path / "many")
    assert a.read_bytes() == b.read_bytes()
    store = open_store(tmp_path / "one")
    recovered = list(store.recover())
    assert [e.seq for e in recovered] == [0, 1, 2, 7]
    for e in recovered:
        store.adopt("3", e.seq, e)
    store.append_outcome("3", 0, 8)
    assert store.empty
    store.close()


def test_an_outcome_over_several_adopted_runs_frees_every_segment_it_resolves(
    tmp_path: Path,
) -> None:
    store = open_store(tmp_path, segment_size=4096)
    for start in (0, 10, 20):  # ~4.2 KB per call: one segment each
        store.append_events(numbered("0", range(start, start + 10), size=400))
    store.append_outcome("0", 10, 20)
    crash(store)
    store = open_store(tmp_path, segment_size=4096)
    for new_seq, event in enumerate(store.recover()):  # 0-9 and 20-29: two runs
        store.adopt("0", new_seq, event)
    assert len(segments(tmp_path)) == 3  # two old ones and the active one
    store.append_outcome("0", 0, 20)
    assert len(segments(tmp_path)) == 1
    store.close()
    assert segments(tmp_path) == []
