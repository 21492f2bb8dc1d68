"""The batcher: one task per partition, from the stream to sender tasks.

It moves what the partition's memory object stream holds into the pure
:class:`~anyio_eventhubs._batching.PartitionQueue` (draining without a task switch per
event), waits while the head batch is not yet due (until its deadline, or until a flush
cancels the wait's scope), then takes a send slot and hands the batch to a sender task.
A batch is taken only once the slots are held, so nothing sits between the queue and a
sender: ``clear()`` finds every event either in the queue or in flight.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import anyio

from ._partition import InFlightSend, PartitionState

__all__ = ["run_batcher"]


async def run_batcher(
    part: PartitionState,
    global_slots: anyio.Semaphore | None,
    start_send: Callable[[PartitionState, InFlightSend], None],
) -> None:
    """Batch *part*'s events forever (until cancelled)."""
    queue = part.queue
    receive = part.receive_stream
    slots = part.slots
    current_time = anyio.current_time
    while True:
        now = current_time()
        part.drain_stream(now)
        if not queue:
            queue.add(await receive.receive(), current_time())
            continue
        if not queue.is_due(now, part.flush_until):
            deadline = queue.deadline()
            with anyio.CancelScope(deadline=math.inf if deadline is None else deadline) as scope:
                part.wake_scope = scope
                try:
                    queue.add(await receive.receive(), current_time())
                finally:
                    part.wake_scope = None
            continue
        await slots.acquire()
        if global_slots is not None:
            try:
                await global_slots.acquire()
            except BaseException:
                slots.release()
                raise
        part.drain_stream(current_time())
        if not queue:  # clear() emptied the queue while we waited for a slot
            slots.release()
            if global_slots is not None:
                global_slots.release()
            continue
        batch = queue.take()
        send = InFlightSend(batch)
        part.in_flight.add(send)
        part.in_flight_events += len(batch.events)
        start_send(part, send)
