"""The shell's state for one partition: its pure queue, ledger, send slots and waiters.

Everything here is synchronous bookkeeping done on the event loop's thread; the tasks
that move events (``_batcher``, ``_sender``) and the public methods share it.

An accepted event goes straight into the partition's pure
:class:`~anyio_eventhubs._batching.PartitionQueue`: there is no channel in between, so
at any instant every accepted event without an outcome is either in that queue or in
exactly one :class:`InFlightSend`. That is what lets ``clear()`` account for every
event. The batcher is woken only when it has something new to do: the queue's first
event (its deadline starts), a head batch that just became full, or a flush.

Room (``max_queued_events``) is counted on the events *behind* the head batch
(:attr:`~anyio_eventhubs._batching.PartitionQueue.backlog`), as .NET's buffered
producer counts only the events still in its channel: the head batch is bounded by the
hub's message size, the batches in flight by the send slots, so how full a batch gets
does not depend on ``max_queued_events``. Room opens when the batcher takes the head
batch (its backlog becomes the new head) and when an outcome comes.

An ``EventData`` counts as well from acceptance until its outcome, wherever it is
(:attr:`PartitionState.held_event_data`): the producer holds the caller's object until
then (handlers get it back), and its Python size and garbage-collection cost are far
above its encoded size, so full batches of them must not multiply what stays alive. A
partition has room iff both counts are below ``max_queued_events``, for every event.
So that a stream of ``EventData`` does not stop at that bound while its batch makes the
round trip, the queued events are sent once half the bound is held and half of it is
queued (:attr:`PartitionState.event_data_due_at`): that batch is in flight while the
caller queues the other half. Not where the transport sends from a thread of its own
(azure-eventhub's client under Trio where its loop cannot be stepped on Trio's thread,
see ``_azure/_stepped.py``): that sender would contend with the queueing task
for the GIL, which costs more than the wait it saves.
``bytes`` and ``str`` are not counted there (flat objects about their encoded size,
which the garbage collector does not track), nor are recovered events
(:mod:`~anyio_eventhubs._recovering`: decoded lazily, not the
caller's objects).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import anyio
from azure.eventhub import EventData

from ._batching import Batch, OutcomeLedger, PartitionQueue
from ._events import Event, QueuedEvent
from ._runs import QueuedItem, QueuedRun, end_seq

__all__ = ["InFlightSend", "PartitionState", "count_event_data"]


def count_event_data(events: Iterable[QueuedItem]) -> int:
    """How many of the events of *events* (single events and runs) are a caller's
    ``EventData`` (not a recovered event)."""
    held = 0
    for item in events:
        if type(item) is QueuedRun:
            held += item.event_data
        elif type(item) is QueuedEvent and isinstance(item.event, EventData):
            held += 1
    return held


class InFlightSend:
    """A batch handed to a sender task, and the scope that can cancel its sending."""

    __slots__ = (
        "attempted",
        "batch",
        "cancel_requested",
        "cleared",
        "done",
        "may_have_been_published",
        "scope",
    )

    def __init__(self, batch: Batch) -> None:
        self.batch = batch
        #: the current round of attempts' scope (see new_scope); None before the first
        self.scope: anyio.CancelScope | None = None
        #: set once, by the first clear() or close that abandons this send
        self.cancel_requested = False
        #: whether any attempt reached the transport
        self.attempted = False
        #: whether any attempt ended in a way that leaves the batch possibly stored
        self.may_have_been_published = False
        #: how many of its events ended up reported as cleared
        self.cleared = 0
        self.done = anyio.Event()

    def new_scope(self) -> anyio.CancelScope:
        """A fresh scope for the next round of attempts (one scope per ``with`` block).

        Shielded: an outer cancellation must not lose the batch; the producer cancels
        this scope itself (clear(), or close after close_timeout).
        """
        self.scope = anyio.CancelScope(shield=True)
        if self.cancel_requested:
            self.scope.cancel()
        return self.scope

    def cancel(self) -> bool:
        """Abandon the send (``clear()`` or a close that ran out of time).

        :returns: whether this call abandoned it (``False`` if an earlier one had): the
            events of a send are counted by the one call that abandoned it.
        """
        if self.cancel_requested:
            return False
        self.cancel_requested = True
        if self.scope is not None:  # else new_scope() starts it cancelled
            self.scope.cancel()
        return True


class PartitionState:
    """One partition of a producer."""

    def __init__(
        self, partition_id: str, max_batch_size: int, max_wait: float | None, max_sends: int
    ) -> None:
        self.id = partition_id
        #: send slots: held by a sender from taking a batch until its outcome
        self.slots = anyio.Semaphore(max_sends)
        self.queue = PartitionQueue(max_batch_size, max_wait)
        self.ledger = OutcomeLedger()
        #: events with a sequence number below this are to be sent without waiting
        self.flush_until = 0
        #: set while the batcher waits for something to do; accept/flush set it
        self.wakeup: anyio.Event | None = None
        self.in_flight: set[InFlightSend] = set()
        self.in_flight_events = 0
        #: accepted ``EventData`` (the caller's objects) without an outcome yet
        self.held_event_data = 0
        #: send the queue without waiting once this many ``EventData`` are held and as
        #: many events are queued (half of ``max_queued_events``; ``None``: never early)
        self.event_data_due_at: int | None = None
        self._room: anyio.Event | None = None
        self._flush_waiters: list[tuple[int, anyio.Event]] = []
        self.published = 0
        self.failed = 0
        self.batches_published = 0
        self.batches_failed = 0
        #: events of an earlier run queued again from the journal
        self.recovered = 0
        #: recovered batches to re-send with their idempotent numbers: first seq -> number
        self.fixed_numbers: dict[int, int] = {}
        #: told of every outcome range, once the handlers have run (the journal)
        self.on_resolved: Callable[[str, int, int], None] | None = None

    # -- accepting ---------------------------------------------------------------------

    def accept(self, event: QueuedEvent, now: float) -> None:
        """Number *event*, queue it, and wake the batcher if that is news to it."""
        ledger = self.ledger
        event.seq = seq = ledger.accepted
        ledger.accepted = seq + 1
        wake = self.queue.add(event, now)
        # (a RecoveredEvent is not counted: its .event would decode it)
        if type(event) is QueuedEvent and isinstance(event.event, EventData):
            self.held_event_data += 1
            if self._sent_early():
                return
        if wake and self.wakeup is not None:
            self.wake_batcher()

    def accept_body(
        self, body: Event, message: bytes, size: int, now: float, event_data: int = 0
    ) -> None:
        """:meth:`accept` for an event given as its parts (journaled already): it joins a
        run at the queue's tail, with no object of its own.

        :param body: ``bytes``, or (with *event_data* 1) a caller's ``EventData`` that
            encodes as its body alone, held until its outcome as :meth:`accept` holds one.
        """
        queue = self.queue
        if queue.sealed:  # (a recovered batch's boundary: one event at a time)
            self.accept(QueuedEvent(body, message), now)
            return
        ledger = self.ledger
        seq = ledger.accepted
        ledger.accepted = seq + 1
        wake = queue.add_body(body, message, size, seq, now, event_data)
        if event_data:
            self.held_event_data += 1
            if self._sent_early():
                return
        if wake and self.wakeup is not None:
            self.wake_batcher()

    def _sent_early(self) -> bool:
        """Flush the queue (which wakes the batcher) if the ``EventData`` held and the
        events queued have reached :attr:`event_data_due_at`; whether it did."""
        due_at = self.event_data_due_at
        if (
            due_at is not None
            and self.held_event_data >= due_at
            and self.queue.event_count >= due_at
        ):
            self.request_flush(self.ledger.accepted)
            return True
        return False

    def accept_many(self, events: list[QueuedEvent], now: float) -> None:
        """Number and queue *events*, in order, as many :meth:`accept` calls would."""
        seq = self.ledger.accept_many(len(events))
        for event in events:
            event.seq = seq
            seq += 1
        self.held_event_data += count_event_data(events)
        queue = self.queue
        was_empty = not queue
        queue.extend(events, now)
        self._sent_early()
        if self.wakeup is not None and (was_empty or queue.is_full):
            self.wake_batcher()

    def accept_run(self, run: QueuedRun, now: float) -> None:
        """Number and queue *run* (``bytes`` events only: no ``EventData`` held)."""
        run.seq = self.ledger.accept_many(run.count)
        queue = self.queue
        was_empty = not queue
        queue.extend((run,), now)
        if self.wakeup is not None and (was_empty or queue.is_full):
            self.wake_batcher()

    def has_room(self, max_queued_events: int) -> bool:
        """Whether one more event may be accepted: fewer than *max_queued_events* wait
        behind the head batch, and fewer than *max_queued_events* ``EventData`` are held
        without an outcome. A partition whose backlog is full has a full head batch,
        which is due: the batcher sends it as soon as a send slot is free; one that
        holds too many ``EventData`` gets room when outcomes come."""
        return self.queue.backlog < max_queued_events and self.held_event_data < max_queued_events

    def make_due(self) -> None:
        """Called on a partition without room: if nothing waits behind its head batch
        (so its ``EventData`` fill it, and no full batch is due), flush what it holds."""
        if self.held_event_data and not self.queue.backlog:
            self.request_flush(self.ledger.accepted)

    def wake_batcher(self) -> None:
        if self.wakeup is not None:
            self.wakeup.set()
            self.wakeup = None

    async def wait_for_room(self) -> None:
        """Wait until a batch is taken or an outcome comes (the caller re-checks).

        A partition held full by its ``EventData`` with nothing behind its head batch
        has no batch due: its queued events are flushed, so outcomes come.
        """
        self.make_due()
        if self._room is None:
            self._room = anyio.Event()
        await self._room.wait()

    def wake_room_waiters(self) -> None:
        if self._room is not None:
            self._room.set()
            self._room = None

    # -- flushing ----------------------------------------------------------------------

    def request_flush(self, until: int) -> None:
        """Ask the batcher to send every event below *until* without waiting."""
        if until > self.flush_until:
            self.flush_until = until
            self.wake_batcher()

    async def wait_resolved(self, target: int) -> None:
        """Wait until every event below sequence number *target* has its outcome."""
        if self.ledger.resolved_below >= target:
            return
        event = anyio.Event()
        entry = (target, event)
        self._flush_waiters.append(entry)
        try:
            await event.wait()
        finally:
            if not event.is_set():
                self._flush_waiters.remove(entry)

    # -- sending and outcomes ----------------------------------------------------------

    def take_batch(self) -> InFlightSend:
        """Cut the head batch off the queue and record it as in flight."""
        send = InFlightSend(self.queue.take())
        self.in_flight.add(send)
        self.in_flight_events += send.batch.count
        self.wake_room_waiters()  # the backlog moved up into the head batch
        return send

    def finish_send(self, send: InFlightSend) -> None:
        """Record that *send*'s events all have their outcome; wake whoever waits."""
        batch = send.batch
        self.in_flight.discard(send)
        self.in_flight_events -= batch.count
        if self.fixed_numbers:
            self.fixed_numbers.pop(batch.first_seq, None)
        if self.held_event_data:
            self.held_event_data -= count_event_data(batch.events)
        self.resolve(batch.first_seq, batch.end_seq)

    def resolve_dropped(self, events: Sequence[QueuedItem]) -> None:
        """Record outcomes for *events*, consecutive ones dropped from the queue."""
        if self.held_event_data:
            self.held_event_data -= count_event_data(events)
        self.resolve(events[0].seq, end_seq(events[-1]))

    def resolve(self, first_seq: int, end_seq: int) -> None:
        """Record outcomes for ``first_seq`` to ``end_seq - 1``; wake whoever waits."""
        self.ledger.resolve(first_seq, end_seq)
        if self.on_resolved is not None:
            self.on_resolved(self.id, first_seq, end_seq)
        if self._flush_waiters:
            below = self.ledger.resolved_below
            still = []
            for target, event in self._flush_waiters:
                if target <= below:
                    event.set()
                else:
                    still.append((target, event))
            self._flush_waiters = still
        self.wake_room_waiters()

    def drop_pending(self) -> tuple[QueuedItem, ...]:
        """Remove every event not yet handed to a sender, in order (single events and
        runs of them)."""
        return self.queue.drop_all()
