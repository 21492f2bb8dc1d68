"""What the blocking producer uses of the async producer's internals, all in one place.

The blocking producer validates, encodes and routes an event in the caller's thread and
hands prepared events to the event loop in bulk (see :mod:`._intake`): no thread hop per
event. For that it needs a few internals of the async
:class:`~anyio_eventhubs.StreamingProducer`; they are used only here, so that a change of
the core shows up in this one module:

- ``StreamingProducer._prepare(event, partition_id, partition_key)``: validation,
  encoding, routing. Pure synchronous code over state that does not change after the
  producer opened, so it is safe from any thread *when a partition id or key is given*:
  round robin (not thread-safe in the core) is done here instead, with a counter whose
  ``next()`` is atomic. ``_intake.prepare_many`` likewise, for ``queue_many_for_send``.
- ``PartitionState.accept`` and ``wait_for_room``: event loop thread only.
- ``PartitionState.ledger.outstanding`` and ``PartitionState.queue.backlog``: ``int``
  attributes, read from any thread.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

import anyio

from .._events import Event, QueuedEvent
from .._exceptions import ProducerClosedError
from .._partition import PartitionState
from .._producer import StreamingProducer as AsyncStreamingProducer

__all__ = ["Core", "PartitionState", "QueuedEvent"]


class Core:
    """One async producer's internals, as the blocking producer needs them.

    :param producer: the open async producer.
    :param partition_ids: its partition ids, in the service's order.
    """

    def __init__(self, producer: AsyncStreamingProducer, partition_ids: list[str]) -> None:
        self.producer = producer
        self.partition_ids = tuple(partition_ids)
        self.max_queued_events = producer._options.max_queued_events
        self._turn = itertools.count()
        self._count = len(self.partition_ids)

    def prepare(
        self, event: Event, partition_id: str | None, partition_key: str | None
    ) -> tuple[PartitionState, QueuedEvent]:
        """Validate, encode and route *event* (any thread).

        :raises TypeError, ValueError, ~anyio_eventhubs.EventTooLargeError,
            ~anyio_eventhubs.ProducerClosedError: as the async ``queue_for_send``.
        """
        if partition_id is None and partition_key is None:
            partition_id = self.partition_ids[next(self._turn) % self._count]
        return self.producer._prepare(event, partition_id, partition_key)

    def prepare_many(
        self, events: Sequence[Event], partition_id: str | None, partition_key: str | None
    ) -> list[tuple[PartitionState, QueuedEvent]]:
        """Validate, encode and route every event of *events* (any thread); nothing
        is accepted.

        :raises TypeError, ValueError, ~anyio_eventhubs.EventTooLargeError,
            ~anyio_eventhubs.ProducerClosedError: as the async ``queue_many_for_send``.
        """
        producer = self.producer
        if producer.is_closed:
            raise ProducerClosedError(f"the producer {producer.identifier!r} is closed")
        route, items = producer._intake.prepare_many(events, partition_id, partition_key)
        producer._unhold(items)  # (as the async queue_many_for_send)
        parts = producer._parts
        if partition_id is None and partition_key is None:
            # round robin: this module's counter (the intake's is for the loop thread)
            ids, count = self.partition_ids, self._count
            return [(parts[ids[next(self._turn) % count]], item) for item in items]
        part = parts[route[0]]
        return [(part, item) for item in items]

    @staticmethod
    def outstanding(part: PartitionState) -> int:
        """Events of *part* accepted by the loop and without an outcome (any thread)."""
        return part.ledger.outstanding

    @staticmethod
    def accept_all(items: Iterable[tuple[PartitionState, QueuedEvent]]) -> None:
        """Accept prepared events, in order (loop thread)."""
        now = anyio.current_time()
        for part, item in items:
            part.accept(item, now)

    @staticmethod
    async def wait_for_room(part: PartitionState) -> None:
        """Wait until *part*'s batcher takes a batch or an outcome comes (loop thread;
        the caller re-checks)."""
        await part.wait_for_room()
