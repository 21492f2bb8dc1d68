"""Queueing many events in one call: ``queue_many_for_send`` and its non-waiting form.

The contract (docs/concepts/backpressure.md, "Queueing many events"):

- Every event is validated and encoded before any is accepted: a bad event raises its
  error (with a note naming its index) and the call accepted nothing.
- Events are accepted in order, so what a call accepted is always a *prefix* of its
  list. :class:`QueueManyProgress` says how long that prefix is, at any moment: after a
  normal return (all of them), and after a cancellation or a close that interrupted the
  call (exactly the events before ``accepted``). Each accepted event gets exactly one
  outcome, like any other; the rest were not accepted and never will be.
- The waiting form waits for room as ``queue_for_send`` does, one partition at a time,
  in list order: it never skips ahead to a partition with room (that would break the
  prefix). Cancellation is atomic for each event: it lands only between two events.

Without a journal, accepting costs no work per event beyond numbering and queueing it:
one cancellation check per call, one clock read per run of accepting, and each
partition's share handed over as one slice. The encoding is done first, in
:meth:`~anyio_eventhubs._intake.Intake.prepare_many`; a list of ``bytes`` alone is
prepared by :meth:`~anyio_eventhubs._intake.Intake.prepare_runs` and each partition's
share is queued as one :class:`~anyio_eventhubs._runs.QueuedRun`, with no object per
event (handlers still get the events one by one, in order).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from anyio.lowlevel import checkpoint
from azure.eventhub import EventData

from ._events import Event, QueuedEvent
from ._exceptions import ProducerClosedError
from ._partition import PartitionState
from ._runs import UNHELD, PreparedRuns

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from ._intake import Intake
    from ._journaling import ProducerJournal
    from ._options import ProducerOptions

__all__ = ["ManyEventsQueueing", "QueueManyProgress"]

#: a long call lets other tasks run (and can be cancelled) once every this many events
_YIELD_EVERY = 4096


class QueueManyProgress:
    """How many events of a ``queue_many_for_send`` call were accepted so far.

    Pass one as ``progress=`` to :meth:`~anyio_eventhubs.StreamingProducer.queue_many_for_send`
    when an interruption must not leave you guessing: the call accepts events in order,
    so after it returns or raises, ``events[:progress.accepted]`` were accepted (each
    will get its outcome) and ``events[progress.accepted:]`` were not::

        progress = QueueManyProgress()
        try:
            await producer.queue_many_for_send(events, progress=progress)
        finally:
            not_accepted = events[progress.accepted:]

    :ivar accepted: how many events, from the start of the list, were accepted.
    """

    __slots__ = ("accepted",)

    def __init__(self) -> None:
        self.accepted = 0

    def __repr__(self) -> str:
        return f"QueueManyProgress(accepted={self.accepted})"


def _closed(producer: ManyEventsQueueing, accepted: int, total: int) -> ProducerClosedError:
    return ProducerClosedError(
        f"the producer {producer._identifier!r} closed after accepting {accepted} of the "
        f"{total} events of this call; the rest were not accepted"
    )


def _prepare(
    producer: ManyEventsQueueing,
    events: Sequence[Event],
    partition_id: str | None,
    partition_key: str | None,
) -> tuple[tuple[PartitionState, ...], list[QueuedEvent] | PreparedRuns]:
    """Validate and encode every event; route them. A list of ``bytes`` alone, with no
    journal (which records events one by one), is prepared as runs (``_runs``)."""
    if producer._closed:
        raise ProducerClosedError(f"the producer {producer._identifier!r} is closed")
    intake = producer._intake
    prepared = None
    if producer._journal is None:
        prepared = intake.prepare_runs(events, partition_id, partition_key)
    items: list[QueuedEvent] | PreparedRuns
    if prepared is not None:
        route, items = prepared
    else:
        route, singles = intake.prepare_many(events, partition_id, partition_key)
        producer._unhold(singles)
        items = singles
    parts = producer._parts
    return tuple(parts[pid] for pid in route), items


def _room_end(route: tuple[PartitionState, ...], start: int, end: int, limit: int) -> int:
    """Where accepting ``items[start:end]`` in order may stop for sure: *end*, or the
    first event whose partition might be full by then.

    ``items[i]`` goes to ``route[i % len(route)]``, so this is arithmetic: no loop over
    events. It counts every event as joining the backlog and as an ``EventData`` held
    (both must stay below *limit*); those that join the head batch, or are ``bytes``
    or ``str``, take less room, so the caller asks again (see :func:`_accept_range`).
    """
    k = len(route)
    stop = end
    for offset, part in enumerate(route):
        first = start + (offset - start) % k  # the first index >= start for this partition
        room = limit - max(part.queue.backlog, part.held_event_data)
        stop = min(stop, first + max(room, 0) * k)
    return stop


def _accept_while_room(
    route: tuple[PartitionState, ...],
    items: list[QueuedEvent] | PreparedRuns,
    start: int,
    end: int,
    limit: int,
    now: float,
) -> int:
    """Accept ``items[start:end]`` in order while their partitions have room; return
    where it stopped. Each partition's share is a slice with a step (one run, for
    prepared runs)."""
    k = len(route)
    stop = _room_end(route, start, end, limit)
    for offset, part in enumerate(route):
        first = start + (offset - start) % k
        if first < stop:
            if isinstance(items, PreparedRuns):
                part.accept_run(items.run(first, stop, k), now)
            else:
                part.accept_many(items[first:stop:k], now)
    return stop


def _accept_journaled(
    journal: ProducerJournal,
    route: tuple[PartitionState, ...],
    items: list[QueuedEvent],
    start: int,
    stop: int,
    now: float,
    partition_key: str | None,
    progress: QueueManyProgress,
) -> None:
    """Journal, then accept, ``items[start:stop]`` one by one in list order, so that an
    event the journal refuses ends the accepted prefix (``progress.accepted``)."""
    k = len(route)
    for index in range(start, stop):
        part = route[index % k]
        item = items[index]
        item.seq = part.ledger.accepted
        journal.accepted(part.id, item, partition_key)  # raises: not accepted
        part.accept(item, now)
        progress.accepted = index + 1


def _accept_range(
    producer: ManyEventsQueueing,
    route: tuple[PartitionState, ...],
    items: list[QueuedEvent] | PreparedRuns,
    progress: QueueManyProgress,
    end: int,
    partition_key: str | None,
) -> None:
    """Accept from ``progress.accepted`` up to *end* while there is room."""
    now = producer._current_time()
    limit = producer._options.max_queued_events
    journal = producer._journal
    k = len(route)
    # each round accepts at least one event (the next one's partition has room)
    while progress.accepted < end and route[progress.accepted % k].has_room(limit):
        start = progress.accepted
        if journal is None:
            progress.accepted = _accept_while_room(route, items, start, end, limit, now)
            continue
        stop = _room_end(route, start, end, limit)
        assert isinstance(items, list)  # runs only without a journal (see _prepare)
        try:
            _accept_journaled(journal, route, items, start, stop, now, partition_key, progress)
        except Exception as exc:
            exc.add_note(
                f"{progress.accepted} of the {len(items)} events of this call were accepted "
                "before it; the rest were not"
            )
            raise


def try_queue_many(
    producer: ManyEventsQueueing,
    events: Sequence[Event],
    partition_id: str | None,
    partition_key: str | None,
) -> int:
    """The body of ``try_queue_many_for_send``: accept the longest prefix with room."""
    route, items = _prepare(producer, events, partition_id, partition_key)
    if not items or (producer._journal is not None and producer._journal.recovering):
        return 0  # (recovered events go first)
    progress = QueueManyProgress()
    _accept_range(producer, route, items, progress, len(items), partition_key)
    if progress.accepted < len(items):  # (a full head batch is already due)
        route[progress.accepted % len(route)].make_due()
    return progress.accepted


async def queue_many(
    producer: ManyEventsQueueing,
    events: Sequence[Event],
    partition_id: str | None,
    partition_key: str | None,
    progress: QueueManyProgress | None,
) -> None:
    """The body of ``queue_many_for_send``: accept every event, waiting for room."""
    if progress is None:
        progress = QueueManyProgress()
    else:
        progress.accepted = 0
    if producer._cancel_pending():
        await producer._checkpoint_if_cancelled()
    route, items = _prepare(producer, events, partition_id, partition_key)
    total = len(items)
    journal = producer._journal
    if journal is not None and journal.recovering and total:
        await journal.wait_recovered()  # recovered events go first
        if producer._closed:
            raise _closed(producer, 0, total)
    while True:
        stop = min(total, progress.accepted + _YIELD_EVERY)
        _accept_range(producer, route, items, progress, stop, partition_key)
        accepted = progress.accepted
        if accepted == total:
            break
        if accepted == stop:  # a long run: let other tasks run (cancellation lands here)
            await checkpoint()
        else:  # its head batch is full, hence due: wait for the batcher to take it
            await route[accepted % len(route)].wait_for_room()
        if producer._closed:
            raise _closed(producer, accepted, total)
    # like queue_for_send's periodic yield: never a cancellation after accepting
    await producer._cancel_shielded_checkpoint()


class ManyEventsQueueing:
    """The producer's ``queue_many_for_send`` and ``try_queue_many_for_send``.

    A base class of :class:`~anyio_eventhubs.StreamingProducer`, which sets the
    attributes declared here.
    """

    _closed: bool
    _identifier: str
    _journal: ProducerJournal | None
    #: whether the caller's ``EventData`` are held until their outcome: the producer has a
    #: handler, which gets the very objects back, or a journal, which records the events
    #: one by one; else :data:`~._runs.UNHELD` stands for each
    _holds_event_data: bool
    _intake: Intake
    _options: ProducerOptions
    _parts: dict[str, PartitionState]
    _current_time: Callable[[], float]
    _cancel_pending: Callable[[], bool]
    _checkpoint_if_cancelled: Callable[[], Awaitable[None]]
    _cancel_shielded_checkpoint: Callable[[], Awaitable[None]]

    def _unhold(self, items: Iterable[QueuedEvent]) -> None:
        """Keep only the message of each ``EventData`` of *items* (``UNHELD`` in its
        place) if the producer does not hold them (:attr:`_holds_event_data`)."""
        if not self._holds_event_data:
            for item in items:
                if type(item.event) is EventData:
                    item.event = UNHELD

    async def queue_many_for_send(
        self,
        events: Sequence[Event],
        *,
        partition_id: str | None = None,
        partition_key: str | None = None,
        progress: QueueManyProgress | None = None,
    ) -> None:
        """Accept every event of *events*, in order, waiting for room as needed.

        Each event is routed as by ``queue_for_send``: all to *partition_id*, all to
        *partition_key*'s partition, or each to the next in round robin. Every event is
        validated and encoded first: if one is bad, its error is raised (with a note
        naming its index) and no event was accepted.

        Events are accepted in order, so the accepted ones are always a prefix of
        *events*; *progress*, if given, holds its length. If the call is cancelled, or
        the producer closes, partway, ``events[:progress.accepted]`` were accepted
        (each gets its outcome) and the rest were not. Cancellation can land at the
        start, while waiting for room, and once every 4096 events: always between two
        events. Other tasks run at least once per call.

        :param events: a sequence (list, tuple) of ``EventData``, ``bytes`` or ``str``.
        :param progress: updated as events are accepted (reset to 0 first).
        :raises TypeError: if *events* is not a sequence, or as ``queue_for_send``.
        :raises ValueError: as ``queue_for_send``.
        :raises ~anyio_eventhubs.EventTooLargeError: if an event can never fit a batch.
        :raises ~anyio_eventhubs.ProducerClosedError: if the producer is closed, or closes
            while the call waits (*progress* says how many were accepted before).
        """
        await queue_many(self, events, partition_id, partition_key, progress)

    def try_queue_many_for_send(
        self,
        events: Sequence[Event],
        *,
        partition_id: str | None = None,
        partition_key: str | None = None,
    ) -> int:
        """Accept the longest prefix of *events* that has room now; never waits.

        Routing and validation are as for ``queue_many_for_send``: a bad event
        raises and nothing is accepted. Acceptance stops at the first event whose
        partition is full: ``max_queued_events`` of its events wait behind its head
        batch (which is full, and sent as soon as a send slot is free), or it holds
        ``max_queued_events`` ``EventData`` without an outcome for its handlers (then
        flushed).

        :returns: how many events were accepted: ``events[:n]`` were, the rest were not.
        :raises TypeError: if *events* is not a sequence, or as ``queue_for_send``.
        :raises ValueError: as ``queue_for_send``.
        :raises ~anyio_eventhubs.EventTooLargeError: if an event can never fit a batch.
        :raises ~anyio_eventhubs.ProducerClosedError: if the producer is closed.
        """
        return try_queue_many(self, events, partition_id, partition_key)
