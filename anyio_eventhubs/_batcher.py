"""The batcher: one task per partition, from the pure queue to sender tasks.

``queue_for_send`` puts events straight into the partition's pure
:class:`~anyio_eventhubs._batching.PartitionQueue` and wakes the batcher only when that
is news to it (see :meth:`~anyio_eventhubs._partition.PartitionState.accept`). The
batcher waits while the head batch is not yet due (until its deadline, or a wake-up),
then takes a send slot and hands the batch to a sender task. A batch is taken only once
the slots are held, so nothing sits between the queue and a sender: ``clear()`` finds
every event either in the queue or in flight.
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
    slots = part.slots
    current_time = anyio.current_time
    while True:
        if not queue.is_due(current_time(), part.flush_until):
            deadline = queue.deadline()
            wakeup = part.wakeup = anyio.Event()
            try:
                with anyio.move_on_at(math.inf if deadline is None else deadline):
                    await wakeup.wait()
            finally:
                if part.wakeup is wakeup:
                    part.wakeup = None
            continue
        await slots.acquire()
        if global_slots is not None:
            try:
                await global_slots.acquire()
            except BaseException:
                slots.release()
                raise
        if not queue:  # clear() emptied the queue while we waited for a slot
            slots.release()
            if global_slots is not None:
                global_slots.release()
            continue
        start_send(part, part.take_batch())
