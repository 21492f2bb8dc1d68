"""The pure batching core: greedy cuts, deadlines, flush, clear, and the outcome ledger."""

from __future__ import annotations

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from anyio_eventhubs._batching import OutcomeLedger, PartitionQueue
from anyio_eventhubs._encoding import encode_body
from anyio_eventhubs._events import QueuedEvent


def event(seq: int, body_size: int = 10) -> QueuedEvent:
    return QueuedEvent(b"x" * body_size, encode_body(b"x" * body_size), seq)


def test_events_of_a_batch_never_exceed_the_maximum_size() -> None:
    q = PartitionQueue(max_batch_size=100, max_wait=1.0)
    for i in range(10):
        q.add(event(i), now=0.0)  # each 20 bytes in a batch
    assert q.is_full
    batch = q.take()
    assert [e.seq for e in batch.events] == [0, 1, 2, 3, 4]
    assert batch.size_in_bytes == 100
    assert q.take().size_in_bytes == 100
    assert not q


def test_a_sealed_batch_ends_at_its_boundary_and_is_due_at_once() -> None:
    q = PartitionQueue(max_batch_size=1000, max_wait=None)
    q.seal_at(3)  # a recovered batch of events 0-2, to be re-sent as it was cut
    full = []
    for i in range(3):
        full.append(q.is_full)
        q.add(event(i), now=0.0)
    full.append(q.is_full)  # due without waiting for more events or a flush
    for i in range(3, 6):
        q.add(event(i), now=0.0)
    assert [e.seq for e in q.take().events] == [0, 1, 2]
    full.append(q.is_full)  # the boundary is gone: events 3-5 batch as usual
    assert full == [False, False, False, True, False]
    q.add(event(6), now=0.0)
    assert [e.seq for e in q.take().events] == [3, 4, 5, 6]


def test_a_partial_batch_is_due_at_its_first_events_deadline() -> None:
    q = PartitionQueue(max_batch_size=1000, max_wait=0.5)
    q.add(event(0), now=10.0)
    q.add(event(1), now=10.3)
    assert q.deadline() == 10.5
    assert not q.is_due(10.49, flush_until=0)
    assert q.is_due(10.5, flush_until=0)


def test_remaining_events_keep_their_own_arrival_deadline() -> None:
    q = PartitionQueue(max_batch_size=40, max_wait=0.5)  # two events a batch
    q.add(event(0), now=1.0)
    q.add(event(1), now=1.0)
    q.add(event(2), now=2.0)
    q.take()
    assert q.deadline() == 2.5


def test_without_max_wait_only_full_or_flushed_batches_are_due() -> None:
    q = PartitionQueue(max_batch_size=1000, max_wait=None)
    q.add(event(0), now=0.0)
    assert q.deadline() is None
    assert not q.is_due(1e9, flush_until=0)
    assert q.is_due(0.0, flush_until=1)


def test_flush_makes_only_covered_events_due() -> None:
    q = PartitionQueue(max_batch_size=1000, max_wait=None)
    q.add(event(5), now=0.0)
    assert not q.is_due(0.0, flush_until=5)
    assert q.is_due(0.0, flush_until=6)


def test_drop_all_returns_everything_in_order() -> None:
    q = PartitionQueue(max_batch_size=40, max_wait=1.0)
    for i in range(5):
        q.add(event(i), now=0.0)
    assert [e.seq for e in q.drop_all()] == [0, 1, 2, 3, 4]
    assert not q
    with pytest.raises(IndexError):
        q.take()


def test_an_event_larger_than_a_batch_does_not_fit_alone() -> None:
    q = PartitionQueue(max_batch_size=100, max_wait=1.0)
    assert q.fits_alone(event(0, body_size=90))  # 95 + 5
    assert not q.fits_alone(event(0, body_size=91))


def test_ledger_tracks_out_of_order_resolution() -> None:
    ledger = OutcomeLedger()
    for _ in range(10):
        ledger.accept()
    ledger.resolve(5, 10)
    assert ledger.resolved_below == 0
    assert ledger.outstanding == 5
    ledger.resolve(0, 5)
    assert ledger.resolved_below == 10
    assert ledger.outstanding == 0


def test_ledger_refuses_double_or_unknown_resolution() -> None:
    ledger = OutcomeLedger()
    ledger.accept()
    ledger.accept()
    ledger.resolve(0, 1)
    with pytest.raises(ValueError, match="cannot resolve"):
        ledger.resolve(0, 1)
    with pytest.raises(ValueError, match="cannot resolve"):
        ledger.resolve(1, 3)


class BatchingMachine(RuleBasedStateMachine):
    """The core against a plain list model: nothing lost, nothing twice, order kept, sizes bound."""

    def __init__(self) -> None:
        super().__init__()
        self.max_size = 200
        self.queue = PartitionQueue(self.max_size, max_wait=1.0)
        self.ledger = OutcomeLedger()
        self.now = 0.0
        self.model_pending: list[int] = []
        self.in_flight: list[tuple[int, int]] = []
        self.outcomes: dict[int, int] = {}
        self.sent_order: list[int] = []
        self.flush_until = 0

    @rule(size=st.integers(min_value=0, max_value=180))
    def accept(self, size: int) -> None:
        e = QueuedEvent(b"", encode_body(b"x" * size))
        if not self.queue.fits_alone(e):
            return
        e.seq = self.ledger.accept()
        self.queue.add(e, self.now)
        self.model_pending.append(e.seq)

    @rule(dt=st.floats(min_value=0, max_value=2))
    def advance(self, dt: float) -> None:
        self.now += dt

    @rule()
    def flush(self) -> None:
        self.flush_until = self.ledger.accepted

    @precondition(lambda self: len(self.queue) > 0)
    @rule()
    def take_if_due(self) -> None:
        if not self.queue.is_due(self.now, self.flush_until):
            assert not self.queue.is_full
            assert self.queue.deadline() is not None
            assert self.now < self.queue.deadline()  # type: ignore[operator]
            return
        batch = self.queue.take()
        assert batch.size_in_bytes <= self.max_size
        assert batch.size_in_bytes == sum(e.size for e in batch.events)
        seqs = [e.seq for e in batch.events]
        assert seqs == self.model_pending[: len(seqs)]
        del self.model_pending[: len(seqs)]
        self.sent_order.extend(seqs)
        self.in_flight.append((batch.first_seq, batch.end_seq))

    @precondition(lambda self: bool(self.in_flight))
    @rule(index=st.integers(min_value=0, max_value=10))
    def resolve(self, index: int) -> None:
        lo, hi = self.in_flight.pop(index % len(self.in_flight))
        self.ledger.resolve(lo, hi)
        for s in range(lo, hi):
            self.outcomes[s] = self.outcomes.get(s, 0) + 1

    @rule()
    def clear(self) -> None:
        dropped = self.queue.drop_all()
        assert [e.seq for e in dropped] == self.model_pending
        if dropped:
            self.ledger.resolve(dropped[0].seq, dropped[-1].seq + 1)
            for e in dropped:
                self.outcomes[e.seq] = self.outcomes.get(e.seq, 0) + 1
        self.model_pending.clear()

    @invariant()
    def every_event_has_at_most_one_outcome(self) -> None:
        assert all(v == 1 for v in self.outcomes.values())

    @invariant()
    def outstanding_is_pending_plus_in_flight(self) -> None:
        in_flight = sum(hi - lo for lo, hi in self.in_flight)
        assert self.ledger.outstanding == len(self.model_pending) + in_flight
        assert len(self.queue) == len(self.model_pending)

    @invariant()
    def events_leave_in_acceptance_order(self) -> None:
        assert self.sent_order == sorted(self.sent_order)

    @invariant()
    def resolved_below_is_the_lowest_unresolved(self) -> None:
        expected = 0
        while expected in self.outcomes:
            expected += 1
        assert self.ledger.resolved_below == expected


TestBatchingMachine = BatchingMachine.TestCase
