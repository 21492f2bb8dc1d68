"""Runs: a partition's share of a ``queue_many_for_send`` call of ``bytes``, queued as one
item. The queue cuts exactly the batches it would cut for the same events one by one,
and every event still gets exactly one outcome, in order, on both backends."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anyio_eventhubs import (
    EventData,
    EventTooLargeError,
    PublishFailedEventArgs,
    PublishSucceededEventArgs,
    open_streaming_producer,
)
from anyio_eventhubs._batching import PartitionQueue
from anyio_eventhubs._encoding import batch_entry_sizes, encode_bodies, encode_body
from anyio_eventhubs._events import QueuedEvent
from anyio_eventhubs._intake import Intake
from anyio_eventhubs._runs import QueuedRun, event_count, events_of, messages_of
from anyio_eventhubs.testing import InMemoryEventHub


def _bodies(sizes: list[int], first: int) -> list[bytes]:
    # distinct bodies: the index, padded to the size
    return [(b"%d." % (first + i)).ljust(n, b"x") for i, n in enumerate(sizes)]


def _run(sizes: list[int], first: int) -> QueuedRun:
    bodies = _bodies(sizes, first)
    messages = encode_bodies(bodies)
    return QueuedRun(bodies, messages, batch_entry_sizes(messages))


def _singles(sizes: list[int], first: int) -> list[QueuedEvent]:
    return [QueuedEvent(b, encode_body(b), first + i) for i, b in enumerate(_bodies(sizes, first))]


def _add_as_run_and_one_by_one(
    runs: PartitionQueue, singles: PartitionQueue, sizes: list[int], seq: int, now: float
) -> None:
    """The same events, numbered from *seq*: to *runs* as one run, to *singles* one by one."""
    run = _run(sizes, seq)
    run.seq = seq
    runs.extend([run], now)
    for event in _singles(sizes, seq):
        singles.add(event, now)


def _state(q: PartitionQueue) -> tuple[int, bool, float | None]:
    return q.backlog, q.is_full, q.deadline()


@given(
    groups=st.lists(
        st.tuples(st.lists(st.integers(3, 300), min_size=1, max_size=12), st.integers(0, 2)),
        max_size=8,
    ),
    max_batch=st.integers(320, 1500),
    seal=st.none() | st.integers(1, 60),
)
def test_runs_cut_the_same_batches_as_the_same_events_one_by_one(
    groups: list[tuple[list[int], int]], max_batch: int, seal: int | None
) -> None:
    runs, singles = PartitionQueue(max_batch, 1.0), PartitionQueue(max_batch, 1.0)
    if seal is not None:  # a batch re-sent as first cut must end before event `seal`
        runs.seal_at(seal)
        singles.seal_at(seal)
    seq = 0
    for now, (sizes, takes) in enumerate(groups):
        _add_as_run_and_one_by_one(runs, singles, sizes, seq, float(now))
        seq += len(sizes)
        assert _state(runs) == _state(singles)
        for _ in range(takes):  # the batcher takes head batches in between
            if not singles:
                break
            a, b = runs.take(), singles.take()
            assert (a.first_seq, a.end_seq, a.count) == (b.first_seq, b.end_seq, len(b.events))
            assert messages_of(a.events) == messages_of(b.events)
            assert events_of(a.events) == events_of(b.events)
            assert a.size_in_bytes == b.size_in_bytes <= max_batch
            assert _state(runs) == _state(singles)
    dropped_runs, dropped_singles = runs.drop_all(), singles.drop_all()
    assert event_count(dropped_runs) == len(dropped_singles)
    assert events_of(dropped_runs) == events_of(dropped_singles)


def test_a_run_larger_than_a_batch_is_split_where_the_batch_ends() -> None:
    q = PartitionQueue(max_batch_size=100, max_wait=None)
    run = _run([10] * 12, 0)  # each 20 bytes in a batch: five a batch
    q.extend([run], 0.0)
    assert (q.backlog, q.is_full) == (7, True)
    first = q.take()
    assert (first.first_seq, first.count, first.size_in_bytes) == (0, 5, 100)
    assert events_of(first.events) == _bodies([10] * 12, 0)[:5]
    assert q.backlog == 2  # five in the new head batch, two behind it
    assert [q.take().count for _ in range(2)] == [5, 2]
    assert not q


def test_encode_bodies_gives_encode_body_of_each_body() -> None:
    bodies = [b"", b"a", b"x" * 250, b"y" * 255, b"z" * 256, b"w" * 70000]
    assert encode_bodies(bodies) == [encode_body(b) for b in bodies]
    assert encode_bodies(bodies[:4]) == [encode_body(b) for b in bodies[:4]]
    assert encode_bodies([]) == []


def test_prepare_runs_takes_only_a_list_or_tuple_of_bytes() -> None:
    intake = Intake("hub", ("0", "1"), 1000)
    assert intake.prepare_runs([b"a", "b"], None, None) is None
    assert intake.prepare_runs([b"a", EventData(b"b")], None, None) is None
    assert intake.prepare_runs([], None, None) is None
    assert intake.prepare_runs(iter([b"a"]), None, None) is None  # type: ignore[arg-type]
    prepared = intake.prepare_runs((b"a", b"b", b"c"), None, None)
    assert prepared is not None
    route, runs = prepared
    assert route == ("0", "1")
    assert len(runs) == 3
    with pytest.raises(EventTooLargeError) as info:
        intake.prepare_runs([b"a", b"x" * 1000], None, None)
    assert "events[1] of the 2 given; none of them was accepted" in str(info.value.__notes__)
    # the refused call did not move the round robin on
    again = intake.prepare_runs([b"a"], None, None)
    assert again is not None
    assert again[0] == ("1", "0")


@pytest.mark.anyio
async def test_every_event_of_split_runs_gets_one_outcome_in_order() -> None:
    hub = InMemoryEventHub(2, max_message_size=600)  # a few events a batch
    reported: dict[str, list[bytes]] = {"0": [], "1": []}

    async def succeeded(args: PublishSucceededEventArgs) -> None:
        reported[args.partition_id].extend(args.events)  # type: ignore[arg-type]

    events = _bodies([40] * 300, 0)
    async with open_streaming_producer(
        transport=hub, on_publish_succeeded=succeeded, max_queued_events=7
    ) as producer:
        for i in range(0, 300, 64):
            await producer.queue_many_for_send(events[i : i + 64])
        await producer.flush()
        stats = producer.statistics()
    assert reported == {"0": events[0::2], "1": events[1::2]}
    assert hub.published_bodies("0") == events[0::2]
    assert (stats.published, stats.queued, stats.in_flight) == (300, 0, 0)
    assert stats.batches_published > 300 // 12  # runs were split into several batches


@pytest.mark.anyio
async def test_clear_reports_every_queued_event_of_a_run_once() -> None:
    hub = InMemoryEventHub(1, max_message_size=600)
    hub.hold_sends()
    failed: list[bytes] = []

    async def on_failed(args: PublishFailedEventArgs) -> None:
        failed.extend(args.events)  # type: ignore[arg-type]

    events = _bodies([40] * 50, 0)
    async with open_streaming_producer(
        transport=hub, on_publish_failed=on_failed, max_wait_time=None
    ) as producer:
        assert producer.try_queue_many_for_send(events) == 50
        await hub.wait_sends_in_flight(1)
        assert producer.get_partition_queued_event_count("0") == 50
        assert await producer.clear() == 50
        assert producer.get_partition_queued_event_count("0") == 0
        hub.release_sends()
    # the queued events, then the batch that was in flight: each exactly once
    assert sorted(failed) == sorted(events)
    assert hub.published_count() == 0


@given(
    sizes=st.lists(st.integers(0, 300), max_size=40),
    max_batch=st.integers(320, 1200),
    seal=st.none() | st.integers(1, 40),
    takes=st.sets(st.integers(0, 39)),
)
def test_add_says_when_a_waiting_batcher_must_wake(
    sizes: list[int], max_batch: int, seal: int | None, takes: set[int]
) -> None:
    """``add`` is true whenever the queue was empty or its head batch became full."""
    q = PartitionQueue(max_batch, None)
    if seal is not None:
        q.seal_at(seal)
    for i, event in enumerate(_singles(sizes, 0)):
        was_empty, was_full = not q, q.is_full
        news = q.add(event, 0.0)
        if was_empty or (q.is_full and not was_full):
            assert news
        if i in takes:
            q.take()


@pytest.mark.parametrize("size", [0, 1, 250, 251, 255, 256, 300])
def test_prepare_encodes_a_round_robin_body_as_encode_body_does(size: int) -> None:
    body = b"b" * size
    plain, keyed = Intake("hub", ("0", "1"), 1000), Intake("hub", ("0", "1"), 1000)
    pid, item = plain.prepare(body, None, None)
    assert (pid, item.encoded, item.size) == (
        "0",
        encode_body(body),
        len(item.encoded) + (5 if len(item.encoded) < 256 else 8),
    )
    assert plain.prepare(body, None, None)[0] == "1"
    assert keyed.prepare(body, None, "k")[1].encoded == encode_body(body, "k")
    stamped = Intake("hub", ("0",), 1000, reserved_per_event=20)
    assert stamped.prepare(body, None, None)[1].size == item.size + 20


def test_prepare_refuses_a_round_robin_body_that_never_fits() -> None:
    intake = Intake("hub", ("0", "1"), 200)
    with pytest.raises(EventTooLargeError):
        intake.prepare(b"x" * 200, None, None)
    assert intake.prepare(b"x", None, None)[0] == "0"  # the turn did not move


_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("one"), st.integers(0, 255)),
        st.tuples(st.just("run"), st.lists(st.integers(3, 300), min_size=1, max_size=8)),
        st.tuples(st.just("take"), st.just(0)),
    ),
    max_size=40,
)


@settings(max_examples=300)
@given(ops=_OPS, max_batch=st.integers(320, 1500))
def test_single_bodies_joined_into_runs_cut_the_same_batches_as_single_events(
    ops: list[tuple[str, Any]], max_batch: int
) -> None:
    """``add_body`` (one ``bytes`` event into the tail run) and runs from many-calls,
    against the same events added one by one: same batches, backlog, deadlines (each
    event keeps its own arrival time), and the same answer to "wake the batcher?"."""
    runs, singles = PartitionQueue(max_batch, 0.5), PartitionQueue(max_batch, 0.5)
    seq = 0
    for now, (op, arg) in enumerate(ops):
        if op == "one":
            (event,) = _singles([max(arg, 3)], seq)
            news = runs.add_body(event.event, event.encoded, event.size, seq, float(now))
            assert news == singles.add(event, float(now))
            seq += 1
        elif op == "run":
            _add_as_run_and_one_by_one(runs, singles, arg, seq, float(now))
            seq += len(arg)
        elif singles:
            a, b = runs.take(), singles.take()
            assert (a.first_seq, a.count, a.size_in_bytes) == (
                b.first_seq,
                len(b.events),
                b.size_in_bytes,
            )
            assert messages_of(a.events) == messages_of(b.events)
            assert events_of(a.events) == events_of(b.events)
        assert _state(runs) == _state(singles)
    assert events_of(runs.drop_all()) == events_of(singles.drop_all())


@pytest.mark.anyio
async def test_single_bytes_events_in_runs_keep_order_outcomes_and_clear() -> None:
    hub = InMemoryEventHub(2, max_message_size=600)
    hub.hold_sends()
    outcomes: list[bytes] = []

    async def on_outcome(args: PublishSucceededEventArgs | PublishFailedEventArgs) -> None:
        outcomes.extend(args.events)  # type: ignore[arg-type]

    events = _bodies([40] * 120, 0)
    async with open_streaming_producer(
        transport=hub,
        on_publish_succeeded=on_outcome,
        on_publish_failed=on_outcome,
        max_wait_time=None,
        max_queued_events=1000,
    ) as producer:
        for body in events[:60]:
            await producer.queue_for_send(body)  # joins runs
        await producer.queue_many_for_send(events[60:90])
        for body in events[90:]:
            await producer.queue_for_send(body)
        await hub.wait_sends_in_flight(2)
        hub.release_sends()
        await producer.flush()
        assert hub.published_bodies("0") == events[0::2]
        assert hub.published_bodies("1") == events[1::2]
        hub.hold_sends()
        for body in events:
            await producer.queue_for_send(body)
        await hub.wait_sends_in_flight(2)
        assert await producer.clear() == 120
    assert sorted(outcomes) == sorted(events + events)


def test_events_joined_into_a_run_keep_their_own_arrival_after_a_split() -> None:
    q = PartitionQueue(max_batch_size=100, max_wait=0.5)  # five events of 20 bytes a batch
    for i, event in enumerate(_singles([10] * 12, 0)):
        q.add_body(event.event, event.encoded, event.size, i, float(i))
    deadlines = []
    while q:
        deadlines.append(q.deadline())
        q.take()
    assert deadlines == [0.5, 5.5, 10.5]
