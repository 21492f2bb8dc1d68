"""The pure batching core: one partition's pending events and its outcome ledger.

No I/O, no anyio, no AMQP: sizes are numbers, time is the ``now`` the caller passes.

- :class:`PartitionQueue` holds the events a partition's batcher has received but not
  yet handed to a sender, and cuts them, in order, into batches no larger than the
  hub's maximum message size. It says when a batch is *due*: it is full, its first event
  has waited ``max_wait`` seconds, or a flush covers it. Its :attr:`~PartitionQueue.backlog`
  (the events behind the head batch) is what ``max_queued_events`` bounds: the head
  batch is bounded by its size in bytes, so a batch can fill whatever that limit is.
- :class:`OutcomeLedger` numbers a partition's accepted events and records which have
  an outcome. Batches are cut as prefixes of the queue, so every batch, every cleared
  set and every resolution is a contiguous range of sequence numbers; the ledger keeps
  the lowest unresolved one, which is what a flush waits for.

The queue holds single events and runs of consecutive events
(:class:`~anyio_eventhubs._runs.QueuedRun`, from ``queue_many_for_send``); a run that
does not fit whole in the head batch is split where the batch ends, so every count here
(the backlog, a batch's events) is in events, not items.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from ._encoding import BATCH_ENVELOPE_SIZE
from ._events import Event, QueuedEvent
from ._runs import UNHELD, QueuedItem, QueuedRun, end_seq

__all__ = ["Batch", "OutcomeLedger", "PartitionQueue"]


@dataclass(frozen=True, slots=True)
class Batch:
    """Events cut from one partition's queue: sequence numbers ``first_seq`` to ``end_seq - 1``."""

    #: single events and runs of them (:mod:`~anyio_eventhubs._runs`), in order
    events: tuple[QueuedItem, ...]
    size_in_bytes: int

    @property
    def first_seq(self) -> int:
        return self.events[0].seq

    @property
    def end_seq(self) -> int:
        return end_seq(self.events[-1])

    @property
    def count(self) -> int:
        """How many events the batch holds (its items hold consecutive numbers)."""
        return self.end_seq - self.first_seq


class PartitionQueue:
    """The pending events of one partition, cut greedily into batches.

    :param max_batch_size: the hub's maximum message size, in bytes.
    :param max_wait: seconds a partial batch may wait after its first event, or ``None``
        to wait until it is full or flushed.
    """

    __slots__ = (
        "_boundary",
        "_extra",
        "_head_count",
        "_head_extra",
        "_head_size",
        "_open",
        "_pending",
        "backlog",
        "max_batch_size",
        "max_wait",
    )

    def __init__(self, max_batch_size: int, max_wait: float | None) -> None:
        self.max_batch_size = max_batch_size
        self.max_wait = max_wait
        #: single events and runs of them (:class:`~anyio_eventhubs._runs.QueuedRun`)
        self._pending: deque[QueuedItem] = deque()
        # the head batch: the longest prefix of _pending that fits in one batch (a run
        # that does not fit whole is split where the batch ends)
        self._head_count = 0
        self._head_size = BATCH_ENVELOPE_SIZE
        # events beyond one per item (a run of n events counts n - 1): in _pending, and
        # in the head batch
        self._extra = 0
        self._head_extra = 0
        #: a batch must end before the event with this number (see seal_at)
        self._boundary: int | None = None
        #: the run at the tail that add_body appends to (None: the next starts one)
        self._open: QueuedRun | None = None
        #: the events behind the head batch (one int, stored once per change: another
        #: thread may read it, and sees a value it had)
        self.backlog = 0

    def __len__(self) -> int:
        """How many items (single events and runs) are pending."""
        return len(self._pending)

    @property
    def event_count(self) -> int:
        """How many events are pending (a run counts its events)."""
        return len(self._pending) + self._extra

    def fits_alone(self, event: QueuedEvent) -> bool:
        """Whether *event* fits in a batch of its own (else it can never be sent)."""
        return BATCH_ENVELOPE_SIZE + event.size <= self.max_batch_size

    def add(self, event: QueuedEvent, now: float) -> bool:
        """Append an accepted event that arrived at *now*.

        :returns: whether that is news to a batcher waiting for the head batch to be
            due: the queue was empty (a deadline starts), or the head batch is now full.
        """
        event.arrived = now
        self._open = None
        pending = self._pending
        count = self._head_count
        boundary = self._boundary
        if (
            count == len(pending)
            and self._head_size + event.size <= self.max_batch_size
            and (boundary is None or not count or event.seq != boundary)
        ):
            self._head_count = count + 1
            self._head_size += event.size
            pending.append(event)
            return not count or (boundary is not None and event.seq + 1 == boundary)
        self.backlog += 1
        pending.append(event)
        return self.backlog == 1  # the first event that does not fit: the head is full

    @property
    def sealed(self) -> bool:
        """Whether a batch boundary is set (:meth:`seal_at`); :meth:`add_body` needs none."""
        return self._boundary is not None

    def add_body(
        self, body: Event, message: bytes, size: int, seq: int, now: float, event_data: int = 0
    ) -> bool:
        """Append one ``bytes`` event as :meth:`add` would, with no object of its own: to
        the run at the tail that this method started, or in a new one.

        Only while no boundary is set (:attr:`sealed`).

        :param body: the caller's object: ``bytes``, or an ``EventData`` that encodes as
            its body alone (then *event_data* is 1, counted in the run's
            :attr:`~anyio_eventhubs._runs.QueuedRun.event_data`), or
            :data:`~anyio_eventhubs._runs.UNHELD` for an ``EventData`` not kept.
        :param message: its encoded message; *size*: what it adds to a batch.
        :param seq: its sequence number (the one after the queue's last event).
        :returns: as :meth:`add`.
        """
        pending = self._pending
        run = self._open
        count = self._head_count
        if run is not None:
            behind = count != len(pending)  # the run is behind the head batch
            if behind or self._head_size + size <= self.max_batch_size:  # (or joins it)
                run.events.append(body)  # type: ignore[attr-defined]
                run.messages.append(message)
                run.sizes.append(size)
                run.arrivals.append(now)  # type: ignore[union-attr]
                run.count += 1
                run.size += size
                run.event_data += event_data
                if body is UNHELD:
                    run.unheld += 1
                self._extra += 1
                if behind:
                    self.backlog += 1
                else:
                    self._head_extra += 1
                    self._head_size += size
                return False
        run = QueuedRun([body], [message], [size], size, seq, now, event_data, int(body is UNHELD))
        run.arrivals = [now]
        self._open = run
        pending.append(run)
        if count == len(pending) - 1 and self._head_size + size <= self.max_batch_size:
            self._head_count = count + 1
            self._head_size += size
            return not count
        self.backlog += 1
        return self.backlog == 1  # the first event that does not fit: the head is full

    def _run_fitting(self, run: QueuedRun, size: int, count: int) -> int:
        """How many of *run*'s first events join a head batch of *count* items and
        *size* bytes (each event fits alone, so at least one joins an empty one,
        unless a boundary is there)."""
        n = run.fitting(self.max_batch_size - size)
        if self._boundary is not None:
            at = self._boundary - run.seq
            if 0 <= at < n and (at or count):
                n = at
        return n

    def extend(self, items: Iterable[QueuedItem], now: float) -> None:
        """Append several items that arrived at *now* (as many :meth:`add` calls)."""
        pending = self._pending
        self._open = None
        growing = self._head_count == len(pending)
        count, size, limit = self._head_count, self._head_size, self.max_batch_size
        head_extra, extra = self._head_extra, self._extra
        boundary = self._boundary
        for item in items:
            item.arrived = now
            if type(item) is QueuedRun:
                extra += item.count - 1
                if growing:
                    n = self._run_fitting(item, size, count)
                    growing = n == item.count
                    joined = item
                    if n and not growing:  # its first n events end the head batch
                        joined, item = item.split(n)
                        pending.append(joined)
                        extra -= 1
                    if n:
                        count, size, head_extra = count + 1, size + joined.size, head_extra + n - 1
            elif growing:
                if size + item.size <= limit and (
                    boundary is None or not count or item.seq != boundary
                ):
                    count += 1
                    size += item.size
                else:
                    growing = False
            pending.append(item)
        self._head_count, self._head_size = count, size
        self._head_extra, self._extra = head_extra, extra
        self.backlog = len(pending) + extra - count - head_extra

    def seal_at(self, end_seq: int) -> None:
        """Make the batch that will hold the event numbered ``end_seq - 1`` end with it
        (a batch re-sent as it was first cut: recovered, idempotent). Call it before
        adding that event; the queue must hold no event after it yet."""
        self._boundary = end_seq

    @property
    def is_full(self) -> bool:
        """Whether the head batch is sealed: the next event does not fit in it (or it
        ends at a boundary set by :meth:`seal_at`)."""
        if self._head_count < len(self._pending):
            return True
        return (
            self._boundary is not None
            and self._head_count > 0
            and end_seq(self._pending[self._head_count - 1]) == self._boundary
        )

    def deadline(self) -> float | None:
        """When the head batch is due by age, or ``None`` (empty, or no ``max_wait``)."""
        if not self._pending or self.max_wait is None:
            return None
        return self._pending[0].arrived + self.max_wait

    def is_due(self, now: float, flush_until: int) -> bool:
        """Whether the head batch should be sent now.

        :param flush_until: events with a sequence number below this are being flushed.
        """
        if not self._pending:
            return False
        if self.is_full or self._pending[0].seq < flush_until:
            return True
        deadline = self.deadline()
        return deadline is not None and now >= deadline

    def take(self) -> Batch:
        """Remove and return the head batch.

        :raises IndexError: if the queue is empty.
        """
        if not self._pending:
            raise IndexError("take() from an empty PartitionQueue")
        pending = self._pending
        self._open = None  # (it may go out in this batch, or be split)
        items = tuple(pending.popleft() for _ in range(self._head_count))
        batch = Batch(items, self._head_size)
        self._extra -= self._head_extra
        boundary = self._boundary
        if boundary is not None and end_seq(items[-1]) >= boundary:
            self._boundary = boundary = None  # the sealed batch went out
        count, size, head_extra = 0, BATCH_ENVELOPE_SIZE, 0
        split: QueuedRun | None = None
        n = 0
        for item in pending:
            if type(item) is QueuedRun:
                n = self._run_fitting(item, size, count)
                if n == item.count:
                    count, size, head_extra = count + 1, size + item.size, head_extra + n - 1
                    continue
                if n:
                    split = item
                break
            if size + item.size > self.max_batch_size or (count and item.seq == boundary):
                break
            size += item.size
            count += 1
        if split is not None:  # the run after the head batch: its first n events end it
            head, pending[count] = split.split(n)
            pending.insert(count, head)
            self._extra -= 1
            count, size, head_extra = count + 1, size + head.size, head_extra + n - 1
        self._head_count, self._head_size, self._head_extra = count, size, head_extra
        self.backlog = len(pending) + self._extra - count - head_extra
        return batch

    def drop_all(self) -> tuple[QueuedItem, ...]:
        """Remove and return every pending item (single events and runs), in order."""
        dropped = tuple(self._pending)
        self._pending.clear()
        self._head_count, self._head_size = 0, BATCH_ENVELOPE_SIZE
        self._head_extra = self._extra = 0
        self._boundary = None
        self._open = None
        self.backlog = 0
        return dropped


class OutcomeLedger:
    """Sequence numbers of one partition's accepted events, and which have an outcome."""

    __slots__ = ("_resolved_above", "accepted", "resolved", "resolved_below")

    def __init__(self) -> None:
        #: the next sequence number to hand out (= how many events were accepted)
        self.accepted = 0
        #: every event below this sequence number has its outcome
        self.resolved_below = 0
        #: how many events have an outcome
        self.resolved = 0
        self._resolved_above: dict[int, int] = {}

    @property
    def outstanding(self) -> int:
        """Events accepted and still without an outcome (queued or in flight)."""
        return self.accepted - self.resolved

    def accept(self) -> int:
        """Number a newly accepted event."""
        seq = self.accepted
        self.accepted = seq + 1
        return seq

    def accept_many(self, count: int) -> int:
        """Number *count* newly accepted events; return the first one's number."""
        seq = self.accepted
        self.accepted = seq + count
        return seq

    def resolve(self, first_seq: int, end_seq: int) -> None:
        """Record outcomes for sequence numbers ``first_seq`` to ``end_seq - 1``.

        :raises ValueError: if the range is empty, not yet accepted, or already resolved.
        """
        if not (self.resolved_below <= first_seq < end_seq <= self.accepted):
            raise ValueError(
                f"cannot resolve [{first_seq}, {end_seq}): accepted {self.accepted}, "
                f"resolved below {self.resolved_below}"
            )
        if first_seq in self._resolved_above:
            raise ValueError(f"sequence number {first_seq} already has an outcome")
        self.resolved += end_seq - first_seq
        if first_seq != self.resolved_below:
            self._resolved_above[first_seq] = end_seq
            return
        below = end_seq
        above = self._resolved_above
        while below in above:
            below = above.pop(below)
        self.resolved_below = below
