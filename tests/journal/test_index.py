"""A rolled segment's index: opening checks the segment through it, and ignores an
index that does not match the segment's bytes (reading it record by record)."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anyio_eventhubs._journal import JournalCorruptError, JournalStore, _index
from anyio_eventhubs._journal._header import DamagedError

from .helpers import crash, numbered, open_store, segments

SEGMENT = 8192


def _journal(path: Path) -> None:
    """Several rolled segments of events in two partitions (one-event records and
    records of several), outcomes among them and a gap; then a kill."""
    store = open_store(path, segment_size=SEGMENT)
    for start in range(0, 200, 20):
        for event in numbered("0", range(start, start + 20), size=60):
            store.append_events([event])
        store.append_events(numbered("1", range(start, start + 20), size=60))
        store.append_outcome("0", start + 3, start + 7)
    store.append_events(numbered("1", [250], size=60))  # a gap: 200-249 never written
    crash(store)


def _opened(path: Path) -> tuple[JournalStore, list[tuple[str, int, int, bytes]]]:
    store = open_store(path, segment_size=SEGMENT)
    events = [
        (run.partition_id, run.generation, run.seq + i, message)
        for run in store.recover_runs()
        for i, message in enumerate(run.messages)
    ]
    return store, events


def _without_indexes(path: Path, copy: Path) -> Path:
    shutil.copytree(path, copy)
    for index in copy.glob("*.idx"):
        index.unlink()
    return copy


@pytest.mark.usefixtures("segment_version")
def test_opening_through_indexes_learns_what_reading_every_record_does(tmp_path: Path) -> None:
    _journal(tmp_path / "j")
    plain = _without_indexes(tmp_path / "j", tmp_path / "plain")
    indexes = sorted((tmp_path / "j").glob("*.idx"))
    assert len(indexes) == len(segments(tmp_path / "j")) - 1 >= 3  # all but the active one
    store, events = _opened(tmp_path / "j")
    reference, expected = _opened(plain)
    assert store.indexed_segments == len(indexes)
    assert reference.indexed_segments == 0
    assert events == expected
    assert {pid for pid, *_ in events} == {"0", "1"}
    assert not any(pid == "0" and 3 <= seq % 20 < 7 for pid, _, seq, _ in events)
    assert [(s.ranges, s.size) for s in store._old] == [(s.ranges, s.size) for s in reference._old]
    resolved = {key: list(done) for key, done in store._outcomes.resolved.items()}
    assert resolved == {key: list(done) for key, done in reference._outcomes.resolved.items()}
    crash(store)
    crash(reference)


@pytest.mark.usefixtures("segment_version")
def test_damage_in_an_indexed_segment_is_named_at_open(tmp_path: Path) -> None:
    _journal(tmp_path / "j")
    second = segments(tmp_path / "j")[1]
    data = bytearray(second.read_bytes())
    at = len(data) // 2
    data[at] ^= 0x40
    second.write_bytes(bytes(data))
    plain = _without_indexes(tmp_path / "j", tmp_path / "plain")
    with pytest.raises(JournalCorruptError) as caught:
        open_store(tmp_path / "j")
    with pytest.raises(JournalCorruptError) as expected:
        open_store(plain)
    assert caught.value.path == second
    assert caught.value.offset == expected.value.offset
    assert caught.value.offset <= at


@pytest.mark.parametrize(
    "spoil", ["flip", "cut", "other segment's", "segment grew", "free space not zero"]
)
def test_an_index_that_does_not_match_is_ignored(
    tmp_path: Path, spoil: str, mapped_segments: None
) -> None:
    _journal(tmp_path / "j")
    first, second = segments(tmp_path / "j")[:2]
    index = _index.index_path(first)
    if spoil == "flip":
        data = bytearray(index.read_bytes())
        data[10] ^= 1
        index.write_bytes(bytes(data))
    elif spoil == "cut":
        index.write_bytes(index.read_bytes()[:-3])
    elif spoil == "other segment's":
        shutil.copy(_index.index_path(second), index)
    elif spoil == "segment grew":  # (a record appended after the index was written)
        with first.open("ab") as file:
            file.write(b"\x01")
    else:
        with first.open("ab") as file:
            file.write(bytes(100) + b"\x01")
    store = open_store(tmp_path / "j", segment_size=SEGMENT, quarantine_damaged=True)
    assert store.indexed_segments == len(segments(tmp_path / "j")) - 3
    crash(store)


def test_an_index_is_removed_with_its_segment(tmp_path: Path) -> None:
    store = open_store(tmp_path, segment_size=SEGMENT)
    for start in range(0, 200, 20):
        store.append_events(numbered("0", range(start, start + 20), size=100))
    assert len(list(tmp_path.glob("*.idx"))) >= 2
    store.append_outcome("0", 0, 200)
    store.close()
    assert list(tmp_path.glob("*.idx")) == []
    assert segments(tmp_path) == []
    (tmp_path / "0000000000000099.idx").write_bytes(b"stale")  # its segment is gone
    open_store(tmp_path).close()
    assert list(tmp_path.glob("*.idx")) == []


def test_an_index_that_cannot_be_written_is_logged_and_the_segment_read_plainly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refuse(path: Path, data: bytes, sync: bool) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("anyio_eventhubs._journal._appending.write_index", refuse)
    with caplog.at_level(logging.WARNING, "anyio_eventhubs.journal"):
        _journal(tmp_path)
    assert "could not write the index" in caplog.text
    assert list(tmp_path.glob("*.idx")) == []
    store, events = _opened(tmp_path)
    assert store.indexed_segments == 0
    assert len(events) == 400 - 10 * 4 + 1
    crash(store)


parts = st.lists(
    st.tuples(
        st.text(min_size=1, max_size=8),
        st.integers(0, 2**40),
        st.integers(1, 2**20),
        st.lists(st.tuples(st.integers(0, 2**40), st.integers(0, 2**40)), max_size=3),
    ),
    max_size=4,
)


@given(
    number=st.integers(1, 2**63),
    generation=st.integers(1, 2**63),
    length=st.integers(0, 2**40),
    crc=st.integers(0, 2**32 - 1),
    parts=parts,
    others=st.lists(st.tuples(st.integers(0, 2**40), st.integers(0, 2**32 - 1)), max_size=4),
    flip=st.none() | st.integers(0, 10_000),
)
def test_an_index_round_trips_and_any_damage_is_refused(
    number: int,
    generation: int,
    length: int,
    crc: int,
    parts: list[tuple[str, int, int, list[tuple[int, int]]]],
    others: list[tuple[int, int]],
    flip: int | None,
) -> None:
    parts = [(pid, first, first + size, done) for pid, first, size, done in parts]
    index = _index.SegmentIndex(number, generation, length, crc, parts, others)
    data = _index.encode_index(index)
    if flip is None:
        assert _index.decode_index(data) == index
        return
    damaged = bytearray(data)
    damaged[flip % len(data)] ^= 1 << (flip % 8)
    with pytest.raises(DamagedError):
        _index.decode_index(bytes(damaged))
