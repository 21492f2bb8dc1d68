"""The streaming producer: the public face of the shell.

:class:`StreamingProducer` validates, routes and accepts events, and implements
``flush()``, ``clear()`` and ``aclose()`` over the per-partition state; the batchers and
senders (``_batcher``, ``_sender``) move the events. ``open_streaming_producer`` (in
``_open``) owns the task group they run in.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio
from anyio.lowlevel import checkpoint

from ._dropping import drop_events
from ._intake import Intake
from ._journaling import ProducerJournal
from ._loop import loop_functions
from ._options import ProducerOptions
from ._partition import PartitionState
from ._partition_set import PartitionSet, partition_factory
from ._reporting import Reporter, in_handler_of, raise_errors
from ._sender import Sender
from ._single import SingleEventQueueing
from ._statistics import ProducerStatistics, collect_statistics
from ._tasks import ProducerTasks
from ._telemetry import producer_telemetry
from .transport import (
    IdempotentTransportConnection,
    PartitionRefreshingConnection,
    PublishingState,
    TransportConnection,
)

__all__ = ["StreamingProducer"]

_CLOSE_REASON = "the producer closed before these events could be published"


class StreamingProducer(SingleEventQueueing):
    """Queues single events and publishes them in batches, per partition, in the background.

    Get one from :func:`~anyio_eventhubs.open_streaming_producer`; it is not constructed
    directly. Every method must be called from the event loop that opened it.
    """

    def __init__(
        self,
        connection: TransportConnection,
        options: ProducerOptions,
        identifier: str,
        journal: ProducerJournal | None = None,
    ) -> None:
        self._connection = connection
        self._journal = journal
        self._options = options
        self._identifier = identifier
        if not connection.partition_ids:
            raise ValueError(f"Event Hub {connection.eventhub_name!r} reports no partitions")
        self._max_message_size = connection.max_message_size
        # idempotent publishing: what stamping adds to each event, and where it stands
        self._reserved_per_event = 0
        self._publishing_state: Callable[[str], PublishingState | None] | None = None
        if options.enable_idempotent_retries and isinstance(
            connection, IdempotentTransportConnection
        ):
            self._reserved_per_event = connection.reserved_bytes_per_event
            self._publishing_state = connection.publishing_state
        self._partitions = PartitionSet(
            connection.partition_ids,
            partition_factory(
                self._max_message_size,
                options,
                journal,
                early_event_data=not getattr(connection, "sends_in_thread", False),
            ),
            identifier,
        )
        self._parts = self._partitions.parts
        # OpenTelemetry (docs/observability.md): None unless a provider is configured
        self._telemetry = producer_telemetry(self) if options.enable_telemetry else None
        self._intake = Intake(
            connection.eventhub_name,
            self._partitions.ids,
            self._max_message_size,
            self._reserved_per_event,
            None if self._telemetry is None else self._telemetry.encode_event,
        )
        self._reporter = Reporter(self, options.on_publish_succeeded, options.on_publish_failed)
        self._holds_event_data = (
            options.on_publish_succeeded is not None
            or options.on_publish_failed is not None
            or journal is not None
        )
        self._tasks = ProducerTasks(identifier, options.max_concurrent_sends)
        # why events are being dropped, and whether a drop with no failure handler is
        # raised (a close's is; clear() returns its count instead)
        self._drop_reason = ("clear() was called", False)
        self._sender = Sender(
            connection,
            options.retry_options,
            self._reporter,
            self._tasks.release_global_slot,
            lambda: self._drop_reason,
            telemetry=self._telemetry,
            on_numbered=None
            if journal is None or self._publishing_state is None
            else journal.batch_numbered,
        )
        self._tasks.sender = self._sender
        self._closed = False
        self._close_done: anyio.Event | None = None
        self._since_yield = 0
        (
            self._cancel_pending,
            self._checkpoint_if_cancelled,
            self._cancel_shielded_checkpoint,
            self._current_time,
        ) = loop_functions()

    # -- lifecycle (driven by open_streaming_producer) ---------------------------------

    def _start(self, task_group: anyio.abc.TaskGroup) -> None:
        journal = self._journal
        self._tasks.start(
            task_group,
            self._parts.values(),
            recovery=None
            if journal is None
            else journal.recovery(
                self._parts,
                self._options.max_queued_events,
                self._reporter,
                self._current_time,
                self._reserved_per_event,
            ),
            periodic_sync=None
            if journal is None or journal.sync_every is None
            else (journal.sync_every, journal.sync_if_due),
            periodic_refresh=self._partitions.refresher(
                self._connection, self._options.refresh_partitions_every, self._intake, self._tasks
            ),
        )

    async def _shutdown(self, *, graceful: bool) -> None:
        """Close: flush (bounded unless *graceful*), drop the rest, stop the batchers."""
        if self._close_done is not None:
            with anyio.CancelScope(shield=True):
                await self._close_done.wait()
            return
        self._close_done = anyio.Event()
        self._closed = True
        for part in self._parts.values():
            part.wake_room_waiters()
        try:
            if graceful:
                if self._journal is not None:  # recovered events go out first
                    await self._journal.wait_recovered()
                await self._flush_all()
        finally:
            with anyio.CancelScope(shield=True):
                if self._journal is not None:
                    self._journal.stop_recovery()
                    for part in self._parts.values():
                        part.wake_room_waiters()
                    await self._journal.wait_recovered()
                with anyio.move_on_after(self._options.close_timeout):
                    await self._flush_all()
                if self.total_queued_event_count:
                    await self._drop(_CLOSE_REASON, raise_if_unhandled=True)
                self._tasks.cancel()
                self._close_done.set()

    # -- public properties -------------------------------------------------------------

    @property
    def identifier(self) -> str:
        """A name for this producer, for logs and diagnostics."""
        return self._identifier

    @property
    def eventhub_name(self) -> str:
        """The Event Hub this producer publishes to."""
        return self._connection.eventhub_name

    @property
    def fully_qualified_namespace(self) -> str:
        """The namespace's host name."""
        return self._connection.fully_qualified_namespace

    @property
    def is_closed(self) -> bool:
        """Whether the producer is closed or closing (it accepts no more events)."""
        return self._closed

    @property
    def total_queued_event_count(self) -> int:
        """Events accepted and still without an outcome, over all partitions.

        An event counts from the moment it is accepted until it is reported published or
        failed. Per partition, ``max_queued_events`` bounds only the events that wait
        behind the head batch (the docs' Backpressure page).
        """
        return sum(part.ledger.outstanding for part in self._parts.values())

    def get_partition_queued_event_count(self, partition_id: str) -> int:
        """Events accepted for *partition_id* and still without an outcome.

        :raises ValueError: if the hub has no such partition.
        """
        return self._part(partition_id).ledger.outstanding

    async def get_partition_ids(self) -> list[str]:
        """The hub's partition ids, in the order the service lists them.

        Asks the service (when the transport can), so that partitions added to the hub
        are known from now on; else the ids known so far.
        """
        if isinstance(self._connection, PartitionRefreshingConnection) and not self._closed:
            await self._partitions.refresh(self._connection, self._intake, self._tasks)
        else:
            await checkpoint()
        return list(self._partitions.ids)

    def statistics(self) -> ProducerStatistics:
        """A frozen snapshot of the producer's counters."""
        return collect_statistics(self._parts.values(), self._publishing_state)

    def __repr__(self) -> str:
        stats = self.statistics()
        return (
            f"<StreamingProducer identifier={self._identifier!r} "
            f"eventhub={self.eventhub_name!r} partitions={len(self._partitions.ids)} "
            f"queued={stats.queued} in_flight={stats.in_flight} published={stats.published} "
            f"failed={stats.failed} closed={self._closed}>"
        )

    # -- queueing ----------------------------------------------------------------------

    def _part(self, partition_id: str) -> PartitionState:
        return self._parts[self._intake.check_partition_id(partition_id)]

    # -- flush, clear, close -----------------------------------------------------------

    def _refuse_in_handler(self, name: str) -> None:
        if in_handler_of(self):
            raise RuntimeError(
                f"{name}() was called from an on_publish_succeeded/on_publish_failed handler "
                "of the same producer; it would wait for that handler to return. Call it "
                "from another task instead."
            )

    async def _flush_all(self) -> None:
        waits = []
        for part in self._parts.values():
            target = part.ledger.accepted
            if part.ledger.resolved_below < target:
                part.request_flush(target)
                waits.append((part, target))
        if not waits:
            await checkpoint()
        for part, target in waits:
            await part.wait_resolved(target)

    async def flush(self) -> None:
        """Publish everything accepted so far; return when each such event has its outcome.

        Partial batches go out at once. Events queued while ``flush()`` waits are not
        waited for, and queueing is not stopped. Cancelling ``flush()`` stops the
        waiting only: the events still go out. After the producer has closed, every
        event already has its outcome: it returns at once.

        :raises ~anyio_eventhubs.PublishError: (or an ``ExceptionGroup`` of them) for
            failures that had no ``on_publish_failed`` handler.
        :raises RuntimeError: if called from a handler of this producer.
        """
        self._refuse_in_handler("flush")
        await self._flush_all()
        raise_errors(self._reporter.take_unhandled())

    async def _drop(self, reason: str, *, raise_if_unhandled: bool) -> int:
        # the senders of abandoned sends read the reason back when they report
        self._drop_reason = (reason, raise_if_unhandled)
        return await drop_events(
            self._parts.values(), self._reporter, reason, raise_if_unhandled=raise_if_unhandled
        )

    async def clear(self) -> int:
        """Drop every queued event and cancel every send in flight.

        Each dropped event is reported to ``on_publish_failed`` with an
        :class:`~anyio_eventhubs.EventClearedError` whose ``may_have_been_published`` is
        true for a cancelled send. Without a handler, cleared events are not raised
        anywhere: the count returned is the report. Returns once every dropped event has
        been reported; the reporting is shielded from cancellation.

        Each event is counted by exactly one call: concurrent calls split the events
        between them. After the producer has closed there is nothing to drop: it
        returns 0.

        :returns: how many events this call dropped.
        :raises RuntimeError: if called from a handler of this producer.
        """
        self._refuse_in_handler("clear")
        return await self._drop("clear() was called", raise_if_unhandled=False)

    async def aclose(self) -> None:
        """Flush, then close. Idempotent; the ``async with`` exit calls it.

        If cancelled while flushing, what is still queued gets ``close_timeout`` seconds
        (shielded) to go out and the rest is reported failed.

        :raises ~anyio_eventhubs.PublishError: (or an ``ExceptionGroup`` of them) for
            failures that had no ``on_publish_failed`` handler.
        :raises RuntimeError: if called from a handler of this producer.
        """
        self._refuse_in_handler("aclose")
        await self._shutdown(graceful=True)
        raise_errors(self._reporter.take_unhandled())
