"""Recovery's read path as runs: the fused one-event decoder, the run stream against the
per-event stream, and adopting a run's range."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anyio_eventhubs._journal import _format as fmt
from anyio_eventhubs._journal._outcomes import stream_unresolved
from anyio_eventhubs._journal._runs import JournaledRun, one_event, stream_unresolved_runs

from .helpers import crash, numbered, open_store, queued

pids = st.text(min_size=1, max_size=12).filter(lambda s: len(s.encode()) <= 255)
keys = st.none() | st.text(max_size=20)


def _body(record: bytes) -> bytes:
    return record[fmt.FRAME_SIZE :]


@given(
    pid=pids,
    seq=st.integers(0, 2**63 - 1),
    kind=st.sampled_from([fmt.KIND_BYTES, fmt.KIND_STR, fmt.KIND_EVENT_DATA]),
    key=keys,
    message=st.binary(max_size=300),
)
def test_one_event_decodes_what_the_general_decoder_does(
    pid: str, seq: int, kind: int, key: str | None, message: bytes
) -> None:
    raw_key = None if key is None else key.encode()
    body = _body(fmt.encode_one_event(pid.encode(), seq, kind, raw_key, message))
    decoded = one_event(body)
    assert decoded is not None
    got_pid, got_seq, start, end = decoded
    assert (got_pid, got_seq, body[start:end]) == (pid, seq, message)
    assert fmt.decode_entries(body) == [(pid, seq, kind, key, message)]


@settings(max_examples=300)
@given(
    pid=pids,
    seq=st.integers(0, 2**40),
    key=keys,
    message=st.binary(max_size=40),
    data=st.data(),
)
def test_one_event_never_accepts_what_the_general_decoder_reads_otherwise(
    pid: str, seq: int, key: str | None, message: bytes, data: st.DataObject
) -> None:
    # a record that passed its checksums but does not add up (a writer's bug) must take
    # the general path, which names the damage: the fused decoder agrees or declines
    raw_key = None if key is None else key.encode()
    body = bytearray(_body(fmt.encode_one_event(pid.encode(), seq, 0, raw_key, message)))
    for _ in range(data.draw(st.integers(1, 3))):
        how = data.draw(st.sampled_from(["flip", "cut", "grow"]))
        if how == "flip" and body:
            at = data.draw(st.integers(0, len(body) - 1))
            body[at] = data.draw(st.integers(0, 255))
        elif how == "cut":
            del body[data.draw(st.integers(0, len(body))) :]
        else:
            body += data.draw(st.binary(min_size=1, max_size=4))
    decoded = one_event(bytes(body))
    if decoded is None:
        return
    got_pid, got_seq, start, end = decoded
    entries = fmt.decode_entries(bytes(body))  # raises if it does not add up
    assert [(e[0], e[1], e[4]) for e in entries] == [(got_pid, got_seq, bytes(body[start:end]))]


def test_one_event_declines_a_record_of_several_events() -> None:
    entries = [fmt.encode_entry(b"0", seq, 0, None, b"m%d" % seq) for seq in (4, 5)]
    body = _body(fmt.encode_events(entries, {b"0": (4, 5, 2)}))
    assert one_event(body) is None
    assert [e[1] for e in fmt.decode_entries(body)] == [4, 5]


#: one step of a journal's life: append events to a partition (one record each, or
#: several in one record), record an outcome, or crash and open it again
steps = st.lists(
    st.one_of(
        st.tuples(st.just("one"), st.sampled_from("012"), st.integers(1, 6)),
        st.tuples(st.just("many"), st.sampled_from("012"), st.integers(1, 6)),
        st.tuples(st.just("outcome"), st.sampled_from("012"), st.integers(0, 30)),
        st.tuples(st.just("reopen"), st.just(""), st.just(0)),
    ),
    max_size=25,
)


def _live_journal(directory: Path, plan: list[tuple[str, str, int]]) -> None:
    """Play *plan* on a journal in *directory*, then crash."""
    store = open_store(directory, segment_size=4096)
    next_seq = dict.fromkeys("012", 0)
    for op, pid, n in plan:
        if op == "reopen":
            crash(store)
            store = open_store(directory, segment_size=4096)
            next_seq = dict.fromkeys("012", 0)
            list(store.recover())  # (adopts nothing: those stay without an outcome)
        elif op == "outcome":
            if next_seq[pid]:
                first = n % next_seq[pid]
                store.append_outcome(pid, first, min(next_seq[pid], first + 1 + n % 4))
        else:
            events = numbered(pid, range(next_seq[pid], next_seq[pid] + n), size=20)
            next_seq[pid] += n
            if op == "many":
                store.append_events(events)
            else:
                for event in events:
                    store.append_events([event])
    crash(store)


@settings(max_examples=60, deadline=None)
@given(plan=steps, limit=st.integers(1, 5))
def test_runs_hold_exactly_the_per_event_streams_events(
    plan: list[tuple[str, str, int]], limit: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        _live_journal(Path(tmp), plan)
        store = open_store(Path(tmp))
        try:
            alive = store._segments.__contains__
            resolved = store._outcomes.resolved
            events = list(stream_unresolved(store._old, alive, resolved))
            runs = list(stream_unresolved_runs(store._old, alive, resolved, limit))
        finally:
            crash(store)
    expected: dict[str, list[tuple[int, int, bytes]]] = {}
    for e in events:
        expected.setdefault(e.partition_id, []).append((e.generation, e.seq, e.encoded))
    got: dict[str, list[tuple[int, int, bytes]]] = {}
    for run in runs:
        assert 1 <= len(run) <= limit
        got.setdefault(run.partition_id, []).extend(
            (run.generation, run.seq + i, m) for i, m in enumerate(run.messages)
        )
    assert got == expected


def test_adopting_part_of_a_run_resolves_those_events_alone(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    for event in numbered("0", range(6)):
        store.append_events([event])
    crash(store)
    store = open_store(tmp_path)
    (run,) = store.recover_runs()
    assert (run.partition_id, run.seq, len(run)) == ("0", 0, 6)
    store.adopt_run("0", 0, run, 0, 2)  # events 0-1 as numbers 0-1 of this opening
    store.adopt_run("0", 2, run, 3, 3)  # events 3-5 as numbers 2-4 (event 2 not taken)
    store.append_outcome("0", 0, 5)
    crash(store)
    store = open_store(tmp_path)
    left = [(e.seq, e.encoded) for e in store.recover()]
    store.close()
    assert left == [(2, run.messages[2])]


def test_adopting_a_run_checks_its_partition_range_and_numbers(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.append_events([("0", queued(b"x", 0), None), ("0", queued(b"y", 1), None)])
    crash(store)
    store = open_store(tmp_path)
    (run,) = store.recover_runs()
    with pytest.raises(ValueError, match="partition '0' cannot be adopted by partition '1'"):
        store.adopt_run("1", 0, run, 0, 1)
    with pytest.raises(ValueError, match="events 1-2 are not within"):
        store.adopt_run("0", 0, run, 1, 2)
    store.adopt_run("0", 0, run, 0, 2)
    with pytest.raises(ValueError, match="sequence number 1 does not increase"):
        store.adopt_run("0", 1, JournaledRun("0", run.generation, 0, [b"z"]), 0, 1)
    with pytest.raises(RuntimeError, match="only once"):
        store.recover()
    store.close()
