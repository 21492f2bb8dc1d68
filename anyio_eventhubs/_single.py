"""Queueing one event: ``queue_for_send`` and its non-waiting form.

A base class of :class:`~anyio_eventhubs.StreamingProducer` (as ``_many`` is for many
events at once). A ``bytes`` event for round robin is queued with no object of its
own: its parts join a run at its partition's queue tail
(:meth:`~anyio_eventhubs._partition.PartitionState.accept_body`), after the journal, if
any, has them (:meth:`~anyio_eventhubs._journaling.ProducerJournal.accepted_body`). So
is an ``EventData`` for round robin that encodes as its body alone, without a journal;
and, without a journal, an event with a key or a partition id, once encoded: the
garbage collector then walks only the caller's objects, which the run holds (and
counts) until their outcome. A producer with no handler does not hold an ``EventData``
at all (it has nothing to give it back to but a ``PublishError``, which gets it decoded
from its message): the run keeps :data:`~anyio_eventhubs._runs.UNHELD` in its place.
"""

from __future__ import annotations

from azure.eventhub import EventData

from ._events import Event, QueuedEvent
from ._exceptions import ProducerClosedError
from ._many import ManyEventsQueueing
from ._partition import PartitionState
from ._runs import UNHELD

__all__ = ["SingleEventQueueing"]

#: queue_for_send lets other tasks run at least once every this many accepted events
_YIELD_EVERY = 64
#: the types whose events join a run when queued with a key or a partition id (without a
#: journal): a subclass of ``EventData`` keeps a ``QueuedEvent`` (a run counts the
#: ``EventData`` it holds by exact type when it splits)
_JOINS_RUNS = frozenset((bytes, str, EventData))


class SingleEventQueueing(ManyEventsQueueing):
    """The producer's ``queue_for_send`` and ``try_queue_for_send``.

    :class:`~anyio_eventhubs.StreamingProducer` sets the attributes (declared in
    :class:`~anyio_eventhubs._many.ManyEventsQueueing`, and ``_since_yield``).
    """

    _since_yield: int

    def _prepare(
        self, event: Event, partition_id: str | None, partition_key: str | None
    ) -> tuple[PartitionState, QueuedEvent]:
        if self._closed:
            raise ProducerClosedError(f"the producer {self._identifier!r} is closed")
        pid, item = self._intake.prepare(event, partition_id, partition_key)
        self._unhold((item,))
        return self._parts[pid], item

    async def queue_for_send(
        self, event: Event, *, partition_id: str | None = None, partition_key: str | None = None
    ) -> None:
        """Accept *event* for publishing to its partition.

        The partition is *partition_id*, or the one the service assigns *partition_key*
        to (the key is stamped on the event), or the next in round robin.

        Blocks while ``max_queued_events`` events of the partition wait behind its head
        batch (which is then full, and sent as soon as a send slot is free).
        Cancellation is atomic: the event is either accepted, or the call raised and
        nothing changed. It lets other tasks run at least once every 64 calls.

        :param event: an ``EventData``, or the body of one as ``bytes`` or ``str``.
        :raises TypeError: if an argument has the wrong type.
        :raises ValueError: if the partition does not exist, if both a partition id and a
            key are given, or if the key is empty.
        :raises ~anyio_eventhubs.EventTooLargeError: if the event can never fit a batch.
        :raises ~anyio_eventhubs.ProducerClosedError: if the producer is closed.
        """
        if self._cancel_pending():  # (a synchronous test: no await unless cancelled)
            await self._checkpoint_if_cancelled()
        if self._closed:
            raise ProducerClosedError(f"the producer {self._identifier!r} is closed")
        journal = self._journal
        small = item = None
        held = 0  # (1: an EventData, which the partition holds until its outcome)
        if partition_id is None and partition_key is None:
            # no object for the event: it joins a run (and is journaled from its parts)
            if type(event) is bytes:
                small = self._intake.prepare_small_body(event)
            elif type(event) is EventData and journal is None:  # (its body alone, mostly)
                small = self._intake.prepare_plain_event_data(event)
                if small is not None:  # (else prepare() below encodes it)
                    if self._holds_event_data:
                        held = 1
                    else:
                        event = UNHELD
        if small is None:
            pid, item = self._intake.prepare(event, partition_id, partition_key)
        else:
            pid, message, size = small
        part = self._parts[pid]
        if journal is not None and journal.recovering:
            await journal.wait_recovered()  # recovered events go first
            if self._closed:
                raise ProducerClosedError(f"the producer {self._identifier!r} is closed")
        waited = not part.has_room(self._options.max_queued_events)
        if waited:  # (other tasks run while it waits)
            await self._wait_for_room(part)
        if item is None:
            if journal is not None:  # (bytes: see above) raises: not accepted
                journal.accepted_body(pid, part.ledger.accepted, message)
            part.accept_body(event, message, size, self._current_time(), held)
        elif journal is None and type(event) in _JOINS_RUNS and not part.queue.sealed:
            # keyed or to a partition: it joins the run too (no object of ours held)
            if type(event) is not EventData:
                held = 0
            elif self._holds_event_data:
                held = 1
            else:
                held, event = 0, UNHELD
            part.accept_body(event, item.encoded, item.size, self._current_time(), held)
        else:
            if journal is not None:
                item.seq = part.ledger.accepted
                journal.accepted(part.id, item, partition_key)  # raises: not accepted
            part.accept(item, self._current_time())
        if waited:
            return
        self._since_yield += 1
        if self._since_yield >= _YIELD_EVERY:
            self._since_yield = 0
            await self._cancel_shielded_checkpoint()

    async def _wait_for_room(self, part: PartitionState) -> None:
        """Wait until *part* has room (cancellation: nothing was accepted).

        :raises ~anyio_eventhubs.ProducerClosedError: if the producer closes meanwhile.
        """
        limit = self._options.max_queued_events
        while not part.has_room(limit):
            # the head batch is full, so it is due: no flush (that would send the
            # backlog behind it as a partial batch)
            await part.wait_for_room()
            if self._closed:
                raise ProducerClosedError(f"the producer {self._identifier!r} is closed")

    def try_queue_for_send(
        self, event: Event, *, partition_id: str | None = None, partition_key: str | None = None
    ) -> bool:
        """Accept *event* if its partition has room; never waits.

        :returns: ``True`` if accepted, ``False`` if ``max_queued_events`` events of the
            partition wait behind its head batch, or it holds ``max_queued_events``
            ``EventData`` without an outcome for its handlers (then what it holds is
            flushed).
        :raises TypeError: if an argument has the wrong type.
        :raises ValueError: if the partition does not exist, if both a partition id and a
            key are given, or if the key is empty.
        :raises ~anyio_eventhubs.EventTooLargeError: if the event can never fit a batch.
        :raises ~anyio_eventhubs.ProducerClosedError: if the producer is closed.
        """
        part, item = self._prepare(event, partition_id, partition_key)
        if not part.has_room(self._options.max_queued_events):
            part.make_due()  # a full head batch is already due
            return False
        if self._journal is not None:
            if self._journal.recovering:
                return False  # recovered events go first
            item.seq = part.ledger.accepted
            self._journal.accepted(part.id, item, partition_key)
        part.accept(item, self._current_time())
        return True
