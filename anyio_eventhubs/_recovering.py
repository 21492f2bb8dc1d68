"""Recovery: queue the events of earlier runs that the journal holds without an outcome.

:func:`recover` runs as a task of the producer before anything newer is queued. The
store streams the events as runs (:meth:`~anyio_eventhubs._journal.JournalStore.recover_runs`:
consecutive events of one partition, their messages alone), and each run is queued as
one :class:`~anyio_eventhubs._runs.QueuedRun` and adopted as one range: nothing is
done per event but cutting it into batches. Handlers get recovered events as
``EventData``, decoded from the stored message only when a handler or a report reads
them (:class:`RecoveredEvents`).

The batch that an idempotent producer had numbered when it died must be re-sent with
the same boundaries and numbers: the run is cut before that batch's first event, which
is queued on its own (:class:`RecoveredEvent`) after the queue is sealed where the
batch ends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, overload

import anyio
from anyio.lowlevel import cancel_shielded_checkpoint
from azure.eventhub import EventData

from ._codec import decode_message
from ._encoding import batch_entry_size, batch_entry_sizes
from ._events import Event, QueuedEvent
from ._exceptions import NotFoundError
from ._runs import QueuedRun

if TYPE_CHECKING:
    from ._journal._runs import JournaledRun
    from ._journaling import ProducerJournal
    from ._partition import PartitionState
    from ._reporting import Reporter

__all__ = ["RecoveredEvent", "RecoveredEvents", "recover"]

#: recovery lets other tasks run at least once every this many events
_YIELD_EVERY = 256


def _decoded(message: bytes) -> EventData:
    """A stored message as an ``EventData``, as a consumer would see it (body,
    properties, system properties and partition key)."""
    event: EventData = decode_message(message)
    return event


class RecoveredEvents(Sequence[EventData]):
    """The recovered events of a run, as ``EventData``: each decoded from its stored
    message when it is read (a fresh object each time), never before."""

    __slots__ = ("_messages",)

    def __init__(self, messages: list[bytes]) -> None:
        self._messages = messages

    def __len__(self) -> int:
        return len(self._messages)

    @overload
    def __getitem__(self, index: int) -> EventData: ...

    @overload
    def __getitem__(self, index: slice) -> RecoveredEvents: ...

    def __getitem__(self, index: int | slice) -> EventData | RecoveredEvents:
        if isinstance(index, slice):
            return RecoveredEvents(self._messages[index])
        return _decoded(self._messages[index])

    def __iter__(self) -> Iterator[EventData]:
        return map(_decoded, self._messages)

    def __repr__(self) -> str:
        return f"<RecoveredEvents count={len(self._messages)}>"


class RecoveredEvent(QueuedEvent):
    """One recovered event, queued on its own (see the module docstring); handlers get
    it as an ``EventData``, decoded when first read."""

    __slots__ = ("_event",)

    def __init__(self, message: bytes, seq: int, reserved: int = 0) -> None:  # no super()
        self._event: Event | None = None
        self.encoded = message
        self.size = batch_entry_size(len(message)) + reserved
        self.seq = seq
        self.arrived = 0.0

    @property
    def event(self) -> Event:
        if self._event is None:
            self._event = _decoded(self.encoded)
        return self._event

    @event.setter
    def event(self, value: Event) -> None:
        self._event = value


async def recover(
    journal: ProducerJournal,
    runs: Iterator[JournaledRun],
    parts: Mapping[str, PartitionState],
    max_queued_events: int,
    reporter: Reporter,
    current_time: Callable[[], float],
    stopped: Callable[[], bool],
    reserved_per_event: int = 0,
) -> None:
    """Queue *runs* (events of earlier runs, without an outcome) on their partitions,
    each partition's in order.

    Waits for room as ``queue_many_for_send`` does, so memory stays within the
    producer's usual bound per partition however large the journal. Stops early once
    *stopped* says so (a close that is not a graceful one): what is not queued then
    stays in the journal for the next opening.

    :param reserved_per_event: bytes the transport adds to each event later (the
        idempotent stamp), counted in its batch as for a new event.
    """
    store = journal.store
    orphans: dict[str, int] = {}
    since_yield = 0
    for run in runs:
        pid, messages = run.partition_id, run.messages
        part = parts.get(pid)
        if part is None:  # the hub lost a partition: report, never lose silently
            seq = orphans.get(pid, 0)
            orphans[pid] = seq + len(messages)
            store.adopt_run(pid, seq, run, 0, len(messages))
            error = NotFoundError(f"partition {pid!r} of a journaled event no longer exists")
            with anyio.CancelScope(shield=True):
                await reporter.failed(
                    list(RecoveredEvents(messages)),
                    pid,
                    error,
                    resendable=False,
                    may_have_been_published=False,
                    raise_if_unhandled=True,
                )
            journal.resolved(pid, seq, seq + len(messages))
            continue
        done = 0
        while done < len(messages):
            while not part.has_room(max_queued_events):
                await part.wait_for_room()  # (its full head batch is due)
                if stopped():
                    return
            if stopped():
                return
            end = _sent_batch_at(journal, part.id, run, done)
            if end == done:  # the numbered batch starts here
                _queue_one(journal, part, run, done, current_time(), reserved_per_event)
                count = 1
            else:
                room = max_queued_events - max(part.queue.backlog, part.held_event_data)
                count = min(room, end - done)
                _queue_run(journal, part, run, done, count, current_time(), reserved_per_event)
            done += count
            part.recovered += count
            since_yield += count
            if since_yield >= _YIELD_EVERY:
                since_yield = 0
                await cancel_shielded_checkpoint()


def _sent_batch_at(journal: ProducerJournal, pid: str, run: JournaledRun, done: int) -> int:
    """Where in *run* (from index *done* on) the batch that the earlier run had numbered
    on partition *pid* starts: that index, or ``len(run)`` if not in what is left of
    it. Forgets that batch once recovery is past its first event (it had its outcome)."""
    sent = journal.sent_batches.get(pid)
    if sent is None or sent.generation > run.generation:
        return len(run.messages)
    at = sent.first_seq - run.seq
    if sent.generation < run.generation or at < done:
        del journal.sent_batches[pid]
        return len(run.messages)
    return min(at, len(run.messages))


def _queue_run(
    journal: ProducerJournal,
    part: PartitionState,
    run: JournaledRun,
    start: int,
    count: int,
    now: float,
    reserved: int,
) -> None:
    """Queue and adopt events ``start`` to ``start + count - 1`` of *run* as one run."""
    messages = run.messages
    if start or count < len(messages):
        messages = messages[start : start + count]
    journal.store.adopt_run(part.id, part.ledger.accepted, run, start, count)
    queued = QueuedRun(RecoveredEvents(messages), messages, batch_entry_sizes(messages, reserved))
    part.accept_run(queued, now)


def _queue_one(
    journal: ProducerJournal,
    part: PartitionState,
    run: JournaledRun,
    index: int,
    now: float,
    reserved: int,
) -> None:
    """Queue and adopt event *index* of *run*, the first of the batch that the earlier
    run had numbered: seal that batch's boundary and fix its number."""
    item = RecoveredEvent(run.messages[index], part.ledger.accepted, reserved)
    # the batch in flight when the earlier run died: the same events, the same numbers
    sent = journal.sent_batches.pop(part.id)
    part.queue.seal_at(item.seq + sent.count)
    part.fixed_numbers[item.seq] = sent.sequence_number
    journal.store.adopt_run(part.id, item.seq, run, index, 1)
    part.accept(item, now)
