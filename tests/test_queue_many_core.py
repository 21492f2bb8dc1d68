"""The pure parts under queue_many_for_send: a bulk append equals one append per event,
the round robin hands out turns in bulk, and the prefix with room is computed right."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from anyio_eventhubs._batching import PartitionQueue
from anyio_eventhubs._encoding import encode_body
from anyio_eventhubs._events import QueuedEvent
from anyio_eventhubs._many import _accept_while_room
from anyio_eventhubs._partition import PartitionState
from anyio_eventhubs._partitioning import RoundRobin
from anyio_eventhubs._runs import messages_of


def _events(sizes: list[int]) -> list[QueuedEvent]:
    return [QueuedEvent(b"x" * n, encode_body(b"x" * n), i) for i, n in enumerate(sizes)]


def _cuts(queue: PartitionQueue) -> list[list[int]]:
    cuts = []
    while queue:
        cuts.append([len(m) for m in messages_of(queue.take().events)])
    return cuts


@given(
    before=st.lists(st.integers(0, 300), max_size=8),
    added=st.lists(st.integers(0, 300), max_size=30),
    max_batch=st.integers(320, 1200),
    seal=st.none() | st.integers(1, 40),
)
def test_extend_cuts_the_same_batches_as_one_add_per_event(
    before: list[int], added: list[int], max_batch: int, seal: int | None
) -> None:
    one, bulk = PartitionQueue(max_batch, 1.0), PartitionQueue(max_batch, 1.0)
    events = _events(before + added)  # numbered 0, 1, ... across both
    for queue in (one, bulk):
        if seal is not None:  # a batch re-sent as first cut must end before event `seal`
            queue.seal_at(seal)
        for event in _events(before):
            queue.add(event, 0.0)
    for event in events[len(before) :]:
        one.add(event, 2.0)
    bulk.extend(_events(before + added)[len(before) :], 2.0)
    assert (len(one), one.is_full, one.deadline()) == (len(bulk), bulk.is_full, bulk.deadline())
    assert _cuts(one) == _cuts(bulk)


@given(start=st.integers(0, 6), counts=st.lists(st.integers(0, 9), max_size=5))
def test_round_robin_take_matches_next_and_moves_on_by_the_count(
    start: int, counts: list[int]
) -> None:
    ids = ("0", "1", "2", "3", "4")
    one, bulk = RoundRobin(ids), RoundRobin(ids)
    for _ in range(start):
        one.next()
        bulk.next()
    for count in counts:
        route = bulk.take(count)
        assert [route[i % len(ids)] for i in range(count)] == [one.next() for _ in range(count)]
    assert bulk.next() == one.next()


@given(
    outstanding=st.lists(st.integers(0, 9), min_size=1, max_size=4),
    start=st.integers(0, 5),
    count=st.integers(0, 30),
    max_batch=st.integers(11, 60),  # one to five events of 11 bytes per batch
)
def test_the_accepted_prefix_stops_at_the_first_event_whose_partition_is_full(
    outstanding: list[int], start: int, count: int, max_batch: int
) -> None:
    """Rounds of ``_accept_while_room`` (as ``_accept_range`` runs them) accept what one
    event at a time would: up to the first event whose partition has no room, i.e. holds
    ``limit`` events behind its head batch."""
    limit = 4

    def partitions() -> tuple[PartitionState, ...]:
        route = tuple(PartitionState(str(i), max_batch, None, 1) for i in range(len(outstanding)))
        for part, n in zip(route, outstanding, strict=True):
            part.accept_many(_events([1] * n), 0.0)
        return route

    end = start + count
    one, bulk = partitions(), partitions()
    k = len(one)
    items = _events([1] * end)
    # the oracle: one event at a time, stop at the first one without room
    expected = start
    while expected < end and one[expected % k].has_room(limit):
        one[expected % k].accept(items[expected], 0.0)
        expected += 1
    items = _events([1] * end)
    backlog_before = [part.queue.backlog for part in bulk]
    got = start
    while got < end and bulk[got % k].has_room(limit):
        stop = _accept_while_room(bulk, items, got, end, limit, 0.0)
        assert stop > got  # each round accepts at least the next event
        got = stop
    assert got == expected
    for offset, part in enumerate(bulk):
        mine = [i for i in range(start, expected) if i % k == offset]
        assert part.ledger.accepted == outstanding[offset] + len(mine)
        assert part.queue.backlog <= max(limit, backlog_before[offset])
        queued = part.drop_pending()[outstanding[offset] :]
        assert [id(e) for e in queued] == [id(items[i]) for i in mine]
        assert [e.seq for e in queued] == list(range(outstanding[offset], part.ledger.accepted))
