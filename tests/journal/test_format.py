"""The record format: round trips, torn tails at every offset, damage anywhere."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anyio_eventhubs._journal import (
    JournalCorruptError,
    JournalError,
    JournalVersionError,
)
from anyio_eventhubs._journal import _format as fmt
from anyio_eventhubs._journal._scan import SegmentScan
from anyio_eventhubs._journal._tails import classify_tail

from .helpers import body_of, crash, numbered, open_store, segments


def test_header_round_trip() -> None:
    raw = fmt.encode_header(7, 42, "ns.example", "hüb")
    decoded = fmt.decode_header(raw + b"rest")
    assert decoded == (fmt.SegmentHeader(7, 42, "ns.example", "hüb"), len(raw))
    for cut in range(len(raw)):  # a header cut short needs more bytes, it is not damage
        assert fmt.decode_header(raw[:cut]) is None


def test_header_of_a_newer_version_is_refused_before_it_is_parsed() -> None:
    raw = bytearray(fmt.encode_header(1, 1, "ns", "hub"))
    raw[8] = fmt.FORMAT_VERSION + 1
    with pytest.raises(fmt.UnsupportedVersionError):
        fmt.decode_header(bytes(raw))


@given(
    entries=st.lists(
        st.tuples(
            st.text(min_size=1, max_size=8),
            st.integers(0, 2**64 - 1),
            st.sampled_from([fmt.KIND_BYTES, fmt.KIND_STR, fmt.KIND_EVENT_DATA]),
            st.none() | st.text(max_size=20),
            st.binary(max_size=300),
        ),
        min_size=1,
        max_size=20,
        unique_by=lambda entry: (entry[0], entry[1]),
    )
)
def test_events_record_round_trip(entries: list[fmt.Entry]) -> None:
    pieces = [
        fmt.encode_entry(
            fmt.encode_pid(pid), seq, kind, None if key is None else key.encode(), encoded
        )
        for pid, seq, kind, key, encoded in entries
    ]
    spans: dict[bytes, tuple[int, int, int]] = {}
    for pid, seq, *_ in entries:
        first, last, count = spans.get(fmt.encode_pid(pid), (seq, seq, 0))
        spans[fmt.encode_pid(pid)] = (min(first, seq), max(last, seq), count + 1)
    record = fmt.encode_events(pieces, spans)
    decoded = fmt.read_frame(record, 0)
    assert decoded is not None
    record_type, body, end = decoded
    assert (record_type, end) == (fmt.EVENTS, len(record))
    assert fmt.decode_entries(body) == entries
    assert fmt.decode_summary(body)[0] == [(pid.decode(), *span) for pid, span in spans.items()]
    for cut in range(len(record)):
        assert fmt.read_frame(record[:cut], 0) is None
        assert (classify_tail(record[:cut], 0) is None) == (cut == 0)


@given(
    pid=st.text(min_size=1, max_size=12),
    seq=st.integers(0, 2**64 - 1),
    kind=st.sampled_from([fmt.KIND_BYTES, fmt.KIND_STR, fmt.KIND_EVENT_DATA]),
    key=st.none() | st.text(max_size=20),
    encoded=st.binary(max_size=600),
)
def test_one_event_encoders_write_the_bytes_of_encode_events(
    pid: str, seq: int, kind: int, key: str | None, encoded: bytes
) -> None:
    raw_pid = fmt.encode_pid(pid)
    raw_key = None if key is None else key.encode()
    reference = fmt.encode_events(
        [fmt.encode_entry(raw_pid, seq, kind, raw_key, encoded)], {raw_pid: (seq, seq, 1)}
    )
    assert fmt.encode_one_event(raw_pid, seq, kind, raw_key, encoded) == reference
    if key is None:  # the fused encoder: events without a key
        assert fmt.one_event_encoder(raw_pid)(seq, kind, encoded) == reference


@settings(max_examples=40, deadline=None)
@given(
    pid=st.text(min_size=1, max_size=12),
    events=st.lists(
        st.tuples(
            st.sampled_from([fmt.KIND_BYTES, fmt.KIND_STR, fmt.KIND_EVENT_DATA]),
            st.binary(max_size=3000),
        ),
        min_size=1,
        max_size=12,
    ),
)
def test_the_journal_appends_one_event_as_the_one_event_encoder_makes_it(
    pid: str, events: list[tuple[int, bytes]]
) -> None:
    # the mapped writer's fused copy (and, where the space runs out, the encoder and a
    # new reservation or segment) writes exactly the encoder's bytes
    encode = fmt.one_event_encoder(fmt.encode_pid(pid))
    with tempfile.TemporaryDirectory() as directory:
        store = open_store(Path(directory), segment_size=4096)
        try:
            for seq, (kind, encoded) in enumerate(events):
                before = store._writer.active
                assert before is not None
                start = before.size
                store.append_one(pid, seq, kind, encoded)
                active = store._writer.active
                assert active is not None
                if active is not before:  # it did not fit: a new segment
                    start = store._writer.header_size
                record = encode(seq, kind, encoded)
                assert active.path.read_bytes()[start : active.size] == record
        finally:
            store.close()


@given(
    pid=st.text(min_size=1, max_size=10),
    gen=st.integers(1, 2**64 - 1),
    first=st.integers(0, 2**62),
    length=st.integers(1, 2**62),
)
def test_outcome_records_round_trip(pid: str, gen: int, first: int, length: int) -> None:
    def body(record: bytes, record_type: int) -> memoryview:
        decoded = fmt.read_frame(record, 0)
        assert decoded is not None
        assert decoded[0] == record_type
        return decoded[1]

    end = first + length
    raw = fmt.encode_outcome(pid, gen, first, end)
    assert fmt.decode_outcome(body(raw, fmt.OUTCOME)) == fmt.OutcomeRecord(pid, gen, first, end)


def test_a_record_cut_short_is_a_torn_tail_and_zeros_too() -> None:
    record = fmt.encode_outcome("0", 1, 0, 5)
    for cut in range(1, len(record)):
        assert classify_tail(record[:cut], 0) is not None
    assert classify_tail(b"\0" * 100, 0) == "100 zero bytes"
    assert classify_tail(record, len(record)) is None


def test_a_damaged_length_is_damage_not_a_torn_tail() -> None:
    record = bytearray(fmt.encode_outcome("0", 1, 0, 5))
    record[0] ^= 0x40  # the body now seems to run past the end of the file
    with pytest.raises(fmt.DamagedError, match="header checksum"):
        classify_tail(bytes(record), 0)


# -- through the store: files on disk ---------------------------------------------------


def _journal_with_three_groups(path: Path) -> tuple[Path, int]:
    """A journal whose last segment ends with a group of 3 events; returns the segment
    and the offset where that last record starts."""
    store = open_store(path)
    store.append_events(numbered("0", range(0, 3)))
    store.append_outcome("0", 0, 1)
    store.append_events(numbered("1", range(0, 2)))
    (seg,) = segments(path)
    active = store._writer.active
    assert active is not None
    start = active.size  # (version 2: the file is longer, its free space reserved)
    store.append_events(numbered("0", range(3, 6)))
    crash(store)
    return seg, start


def _recovered(path: Path) -> list[tuple[str, int]]:
    store = open_store(path)
    try:
        return [(e.partition_id, e.seq) for e in store.recover()]
    finally:
        store.close()


def _copied(record: bytes, count: int) -> bytes:
    """*record* as a version 2 writer leaves it after copying its first *count* bytes, in
    the writer's order: the length, the body, then the rest of the frame head."""
    order = [*range(4), *range(fmt.FRAME_SIZE, len(record)), *range(4, fmt.FRAME_SIZE)]
    left = bytearray(len(record))
    for i in order[:count]:
        left[i] = record[i]
    return bytes(left)


def test_torn_tail_at_every_byte_offset_of_the_last_record_is_dropped(
    tmp_path: Path, segment_version: int
) -> None:
    original = tmp_path / "original"
    seg, start = _journal_with_three_groups(original)
    whole = seg.read_bytes()
    decoded = fmt.read_frame(whole, start)
    assert decoded is not None
    end = decoded[2]
    assert (end < len(whole)) == (segment_version == 2)  # version 2: free space follows
    whole = whole[: end + 64]  # (a little of it is enough)
    seg.write_bytes(whole)
    before = [("0", 1), ("0", 2), ("1", 0), ("1", 1)]
    shutil.copytree(original, tmp_path / "whole")
    assert _recovered(tmp_path / "whole") == [*before, ("0", 3), ("0", 4), ("0", 5)]
    for cut in range(start, end):
        work = tmp_path / f"cut{cut}"
        shutil.copytree(original, work)
        if segment_version == 1:  # a write cut short: the file ends
            torn = whole[:cut]
        else:  # a copy cut short: the record's bytes not yet copied are zeros
            torn = whole[:start] + _copied(whole[start:end], cut - start) + whole[end:]
        (work / seg.name).write_bytes(torn)
        store = open_store(work)
        try:
            assert [(e.partition_id, e.seq) for e in store.recover()] == before
            if cut == start:
                assert store.torn_tails == []
            else:
                (tail,) = store.torn_tails
                assert (tail.path.name, tail.offset) == (seg.name, start)
                rest = torn[start:]
                assert tail.length == len(rest if segment_version == 1 else rest.rstrip(b"\0"))
        finally:
            store.close()
        shutil.rmtree(work)


_RECORDS = st.sampled_from(
    [
        fmt.encode_outcome("0", 1, 0, 5),
        fmt.one_event_encoder(b"3")(7, fmt.KIND_BYTES, b"\x00" * 40),
        fmt.encode_one_event(b"12", 9, fmt.KIND_STR, b"key", b"\xff" * 300),
    ]
)


@given(record=_RECORDS, data=st.data())
def test_a_copy_cut_short_in_any_byte_order_is_a_torn_tail_in_version_2(
    record: bytes, data: st.DataObject
) -> None:
    # memcpy copies a part's bytes in no promised order: any subset of the part that
    # was being copied, after the whole of the parts before it
    parts = [range(4), range(fmt.FRAME_SIZE, len(record)), range(4, fmt.FRAME_SIZE)]
    step = data.draw(st.integers(0, 2))
    done = data.draw(st.sets(st.sampled_from(list(parts[step]))))
    left = bytearray(len(record))
    for i in [*(i for part in parts[:step] for i in part), *done]:
        left[i] = record[i]
    padded = bytes(left) + bytes(data.draw(st.integers(0, 64)))
    if bytes(left) == record:
        assert fmt.read_frame(padded, 0) is not None
    else:
        reason = classify_tail(padded, 0, version=2)
        assert (reason is None) == (not any(left))
    assert classify_tail(record + bytes(10), len(record), version=2) is None


class _Recorder(bytearray):
    """A stand-in for the writer's mapping that notes each copy into it."""

    copies: list[tuple[int, bytes]]

    def __setitem__(self, index: slice, value: bytes) -> None:  # type: ignore[override]
        self.copies.append((index.start, bytes(value)))
        super().__setitem__(index, value)


def test_a_kill_between_or_within_any_copy_leaves_whole_records_and_a_torn_tail(
    tmp_path: Path, mapped_segments: None
) -> None:
    # the writer's real copies, replayed: stopped before each one, or halfway through
    # it, the segment reads as its whole records, then at most a torn tail
    store = open_store(tmp_path)
    store.append_events(numbered("0", range(3)))  # (reserves space: the map exists)
    writer = store._writer
    assert writer.active is not None
    base = bytes(writer._map[: writer._reserved])  # type: ignore[attr-defined]
    recorder = _Recorder(base)
    recorder.copies = []
    writer._map = recorder  # type: ignore[attr-defined]
    store.append_events(numbered("1", range(2)))  # one record
    store.append_outcome("0", 0, 2)
    outcomes = b"".join(fmt.encode_outcome("1", 1, i, i + 1) for i in range(2))
    writer.append_records(outcomes, "outcomes")  # several records: copied one by one
    copies = recorder.copies
    writer._map = None  # type: ignore[attr-defined]
    crash(store)
    (seg,) = segments(tmp_path)
    seen = set()
    for done in range(len(copies) + 1):
        for half in (False, True):
            if half and done == len(copies):
                continue
            state = bytearray(base)
            for at, value in copies[:done]:
                state[at : at + len(value)] = value
            if half:
                at, value = copies[done]
                state[at : at + len(value) // 2] = value[: len(value) // 2]
            seg.write_bytes(bytes(state))
            scan = SegmentScan(seg)
            records = [record_type for _, record_type, _ in scan]
            expected = [fmt.EVENTS, fmt.EVENTS, fmt.OUTCOME, fmt.OUTCOME, fmt.OUTCOME]
            assert records == expected[: len(records)]
            seen.add((len(records), scan.tail is not None))
    # every record was seen cut short, and the whole journal read at the end
    assert seen >= {(1, True), (2, True), (3, True), (4, True), (5, False)}


@given(record=_RECORDS, data=st.data())
def test_a_damaged_last_record_is_damage_in_version_2_unless_a_kill_could_leave_it(
    record: bytes, data: st.DataObject
) -> None:
    damaged = bytearray(record)
    positions = data.draw(st.sets(st.integers(0, len(record) - 1), min_size=1, max_size=3))
    for pos in positions:
        damaged[pos] ^= data.draw(st.integers(1, 255))
    padded = bytes(damaged) + bytes(32)
    try:
        reason = classify_tail(padded, 0, version=2)
    except fmt.DamagedError:
        return
    # a torn tail only if the damage made a state that a kill mid-copy leaves: the
    # rest of the head zeroed, from the whole record (the head is copied last)
    assert reason is not None
    assert all(4 <= p < fmt.FRAME_SIZE and damaged[p] == 0 for p in positions)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_damage_anywhere_is_a_clear_error_never_a_wrong_record(
    tmp_path: Path, data: st.DataObject, segment_version: int
) -> None:
    work = tmp_path / "journal"
    shutil.rmtree(work, ignore_errors=True)
    seg, start = _journal_with_three_groups(work)
    whole = bytearray(seg.read_bytes())
    decoded = fmt.read_frame(bytes(whole), start)
    assert decoded is not None
    end = decoded[2]
    positions = data.draw(  # (version 2: and a little of the free space after the records)
        st.lists(st.integers(0, min(end + 64, len(whole)) - 1), min_size=1, max_size=4, unique=True)
    )
    for pos in positions:
        whole[pos] ^= data.draw(st.integers(1, 255))
    seg.write_bytes(bytes(whole))
    try:
        store = open_store(work)
    except JournalError as exc:
        error = exc
    else:  # version 2: what a kill mid-copy leaves reads as a torn tail
        try:
            assert segment_version == 2
            recovered = [e.seq for e in store.recover()]
            if all(p >= end for p in positions):  # the free space: a next record begun
                assert recovered == [1, 2, 0, 1, 3, 4, 5]
                assert [t.offset for t in store.torn_tails] == [end]
            else:  # the last record's head zeroed in part: its copy had not finished
                assert all(start + 4 <= p < start + fmt.FRAME_SIZE for p in positions)
                assert all(whole[p] == 0 for p in positions)
                assert recovered == [1, 2, 0, 1]
                assert [t.offset for t in store.torn_tails] == [start]
        finally:
            store.close()
        return
    assert error.path == seg
    assert str(seg) in str(error)
    if isinstance(error, JournalCorruptError):
        assert error.offset <= min(positions)
        assert f"byte offset {error.offset}" in str(error)
    else:
        assert isinstance(error, JournalVersionError)
        assert 8 in positions or 9 in positions


def test_recovered_bodies_are_the_journaled_ones(tmp_path: Path) -> None:
    _journal_with_three_groups(tmp_path)
    store = open_store(tmp_path)
    bodies = [body_of(e.encoded) for e in store.recover()]
    store.close()
    assert bodies[0].startswith(b"0:1:")
    assert bodies[-1].startswith(b"0:5:")
