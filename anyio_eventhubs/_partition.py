"""The shell's state for one partition: its stream, pure queue, ledger and waiters.

Everything here is synchronous bookkeeping done on the event loop's thread; the tasks
that move events (``_batcher``, ``_sender``) and the public methods share it.
"""

from __future__ import annotations

import math

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ._batching import Batch, OutcomeLedger, PartitionQueue
from ._events import QueuedEvent

__all__ = ["InFlightSend", "PartitionState"]


class InFlightSend:
    """A batch handed to a sender task, and the scope that can cancel its sending."""

    __slots__ = ("attempted", "batch", "cancel_requested", "cleared", "done", "scope")

    def __init__(self, batch: Batch) -> None:
        self.batch = batch
        #: the current round of attempts' scope (see new_scope); None before the first
        self.scope: anyio.CancelScope | None = None
        self.cancel_requested = False
        #: whether any attempt reached the transport (so it may have been published)
        self.attempted = False
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

    def cancel(self) -> None:
        """Abandon the send (``clear()`` or a close that ran out of time)."""
        self.cancel_requested = True
        if self.scope is not None:  # else new_scope() starts it cancelled
            self.scope.cancel()


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
        send, receive = anyio.create_memory_object_stream[QueuedEvent](math.inf)
        self.send_stream: MemoryObjectSendStream[QueuedEvent] = send
        self.receive_stream: MemoryObjectReceiveStream[QueuedEvent] = receive
        #: events with a sequence number below this are to be sent without waiting
        self.flush_until = 0
        #: the batcher's current interruptible wait (for more events, until the deadline)
        self.wake_scope: anyio.CancelScope | None = None
        self.in_flight: set[InFlightSend] = set()
        self.in_flight_events = 0
        self._room: anyio.Event | None = None
        self._flush_waiters: list[tuple[int, anyio.Event]] = []
        self.published = 0
        self.failed = 0
        self.batches_published = 0
        self.batches_failed = 0

    # -- accepting ---------------------------------------------------------------------

    def accept(self, event: QueuedEvent) -> None:
        """Number *event* and hand it to the batcher (never blocks)."""
        event.seq = self.ledger.accept()
        self.send_stream.send_nowait(event)

    async def wait_for_room(self) -> None:
        """Wait until an outcome frees room (the caller re-checks the count)."""
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
            if self.wake_scope is not None:
                self.wake_scope.cancel()

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

    # -- outcomes ----------------------------------------------------------------------

    def resolve(self, first_seq: int, end_seq: int) -> None:
        """Record outcomes for ``first_seq`` to ``end_seq - 1``; wake whoever waits."""
        self.ledger.resolve(first_seq, end_seq)
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

    def drain_stream(self, now: float) -> None:
        """Move every event waiting in the stream into the pure queue."""
        receive_nowait = self.receive_stream.receive_nowait
        add = self.queue.add
        try:
            while True:
                add(receive_nowait(), now)
        except anyio.WouldBlock:
            pass

    def close_streams(self) -> None:
        """Close the stream's two ends (once no task uses them)."""
        self.send_stream.close()
        self.receive_stream.close()

    def drop_pending(self) -> tuple[QueuedEvent, ...]:
        """Remove every event not yet handed to a sender (stream and queue), in order."""
        self.drain_stream(0.0)
        return self.queue.drop_all()
