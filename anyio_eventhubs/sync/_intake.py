"""The intake: events queued in callers' threads, on their way to the event loop.

No thread hop per event. A caller's thread validates, encodes and routes its event
(:meth:`~._core.Core.prepare`), then, under one lock, checks its partition's room and
appends the event to a list. The loop's pump task is woken (``call_soon_threadsafe``,
or Trio's ``run_sync_soon``: neither waits) only when no wake-up is pending; it takes
the whole list under the lock and accepts every event in it, in order.

What counts against ``max_queued_events`` for a partition is the async producer's own
counts (its events behind the head batch, ``PartitionQueue.backlog``, and the
``EventData`` it holds without an outcome, ``held_event_data``), each plus what waits
here (every event waiting here counts in both, whatever its type). The pump moves
events from here to there under the lock, so callers never see an event counted twice
or not at all; an event moved may join the head batch and free room, and the pump
then wakes the partition's waiters. Only the loop changes the two counts, by one store
of an int: outside the lock, only a batch taken or an outcome lowers them.

A caller that finds its partition full waits on a condition variable. It asks the loop
to *watch* that partition: a task that waits until the batcher takes its (full, hence
due; or flushed, if its ``EventData`` fill it) head batch or an outcome comes, then
wakes the partition's waiters and ends. A waiter that finds the room taken by another
asks again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import anyio
import anyio.abc

from .._exceptions import ProducerClosedError
from ._core import Core, PartitionState, QueuedEvent

__all__ = ["Intake"]


class Intake:
    """The hand-over between callers' threads and one producer's event loop.

    Created on the loop thread. *call_soon* schedules a function on the loop from any
    thread, without waiting.
    """

    def __init__(self, core: Core, call_soon: Callable[[Callable[[], None]], object]) -> None:
        self._core = core
        self._call_soon = call_soon
        self._limit = core.max_queued_events
        self._ids = core.partition_ids
        self.lock = threading.Lock()
        self._room = {pid: threading.Condition(self.lock) for pid in self._ids}
        self._items: list[tuple[PartitionState, QueuedEvent]] = []
        self._pending = dict.fromkeys(self._ids, 0)
        self._waiting = dict.fromkeys(self._ids, 0)
        self._watch_requests: set[PartitionState] = set()
        #: partitions a refused try_ call found full: made due on the loop
        self._due_requests: set[PartitionState] = set()
        self._watched: set[str] = set()
        self._wake_pending = False
        #: why events are refused (set once, by close or by the loop's end)
        self.refusal: str | None = None
        #: set on the loop thread by a wake-up; the pump waits for it
        self._woken = anyio.Event()

    # -- callers' threads ----------------------------------------------------------------

    def _wake(self) -> None:
        """Wake the pump unless a wake-up is on its way (lock held)."""
        if not self._wake_pending:
            self._wake_pending = True
            self._call_soon(self._on_wake)

    def _has_room(self, part: PartitionState) -> bool:
        held = max(part.queue.backlog, part.held_event_data)
        return self._pending[part.id] + held < self._limit

    def put(
        self, part: PartitionState, item: QueuedEvent, timeout: float | None, loop_thread: int
    ) -> bool:
        """Accept *item* for *part*; wait up to *timeout* seconds (``None``: forever) for room.

        :returns: whether it was accepted (``False``: no room within *timeout*).
        :raises ~anyio_eventhubs.ProducerClosedError: if the producer is closed, or
            closes while the caller waits.
        :raises RuntimeError: if it would wait on the loop thread itself (a handler).
        """
        pid = part.id
        with self.lock:
            if self.refusal is not None:
                raise ProducerClosedError(self.refusal)
            pending = self._pending[pid]
            if pending + max(part.queue.backlog, part.held_event_data) < self._limit:
                self._pending[pid] = pending + 1
                self._items.append((part, item))
                if not self._wake_pending:
                    self._wake()
                return True
            if timeout is not None and timeout <= 0:
                # as the async try_queue_for_send: a partition its EventData fill, with
                # nothing due, gets its head batch flushed (on the loop), or it never sends
                self._due_requests.add(part)
                self._wake()
                return False
            if threading.get_ident() == loop_thread:
                raise RuntimeError(
                    "queue_for_send() was called from the producer's own thread (an "
                    f"on_publish_succeeded/on_publish_failed handler) while partition {pid!r} "
                    "is full; it would wait for room that only this thread can free. Use "
                    "try_queue_for_send() in handlers."
                )
            return self._wait_for_room(part, item, timeout)

    def _wait_for_room(
        self, part: PartitionState, item: QueuedEvent, timeout: float | None
    ) -> bool:
        pid = part.id
        room = self._room[pid]
        deadline = None if timeout is None else time.monotonic() + timeout
        self._waiting[pid] += 1
        try:
            while True:
                if self.refusal is not None:
                    raise ProducerClosedError(self.refusal)
                if self._has_room(part):
                    self._pending[pid] += 1
                    self._items.append((part, item))
                    self._wake()
                    return True
                if pid not in self._watched and part not in self._watch_requests:
                    self._watch_requests.add(part)
                    self._wake()
                if deadline is None:
                    room.wait()
                else:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    room.wait(remaining)
        finally:
            self._waiting[pid] -= 1

    def pending_count(self, partition_id: str | None = None) -> int:
        """Events waiting here (for *partition_id*, or all), not yet on the loop."""
        with self.lock:
            if partition_id is None:
                return sum(self._pending.values())
            return self._pending.get(partition_id, 0)

    def refuse(self, reason: str) -> bool:
        """Refuse every event from now on; wake every waiter (any thread).

        :returns: whether this call was the first to refuse.
        """
        with self.lock:
            if self.refusal is not None:
                return False
            self.refusal = reason
            for room in self._room.values():
                room.notify_all()
            return True

    def wake_pump(self) -> None:
        """Wake the pump (after :meth:`refuse`, so that it ends)."""
        with self.lock:
            self._wake()

    # -- the loop thread -----------------------------------------------------------------

    def _on_wake(self) -> None:
        self._woken.set()

    def transfer(self) -> None:
        """Accept, in order, every event waiting here (loop thread)."""
        with self.lock:
            items, self._items = self._items, []
            if items:
                self._accept(items)

    def _accept(self, items: list[tuple[PartitionState, QueuedEvent]]) -> None:
        """Accept *items* (lock held); wake the waiters of partitions that have room
        after it (events that joined a head batch took none)."""
        self._pending = dict.fromkeys(self._ids, 0)
        self._core.accept_all(items)
        for pid, waiting in self._waiting.items():
            if waiting:
                self._room[pid].notify_all()

    async def pump(self, task_group: anyio.abc.TaskGroup) -> None:
        """Move events to the loop as they come; start watches; return once refused."""
        while True:
            await self._woken.wait()
            self._woken = anyio.Event()
            with self.lock:
                self._wake_pending = False
                items, self._items = self._items, []
                if items:
                    self._accept(items)
                watches, self._watch_requests = self._watch_requests, set()
                self._watched.update(part.id for part in watches)
                due, self._due_requests = self._due_requests, set()
                stop = self.refusal is not None
            for part in due:
                part.make_due()
            for part in watches:
                task_group.start_soon(self._watch, part)
            if stop:
                return

    async def _watch(self, part: PartitionState) -> None:
        """Wake *part*'s waiters at the first moment it has room (or nobody waits)."""
        pid = part.id
        while True:
            with self.lock:
                if self.refusal is not None or not self._waiting[pid] or self._has_room(part):
                    self._watched.discard(pid)
                    self._room[pid].notify_all()
                    return
            await self._core.wait_for_room(part)
