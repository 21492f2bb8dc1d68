"""The producer's side of the journal: journal on accept, record outcomes, recover.

- :meth:`ProducerJournal.accepted` writes an event before the producer accepts it; if
  it raises, the event was not accepted.
- :meth:`ProducerJournal.resolved` records outcomes, after the handlers have run: a
  crash in between publishes those events again on the next opening (handlers are
  at-least-once across a crash; the service's storage is exactly-once with idempotence).
- recovery (:func:`~anyio_eventhubs._recovering.recover`) queues the events of earlier
  runs that have no outcome, before anything newer, streaming them from disk within
  the producer's usual memory bound.

The store itself (``_journal``) is plain synchronous file I/O on the event loop's thread.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio

from ._events import QueuedEvent
from ._journal import JournalError, JournalStore, JournalWriteError
from ._journal._format import KIND_BYTES
from ._journal._publishing_state import PublishingStateFiles, SentBatch, StoredPublishing
from ._journal._runs import JournaledRun
from ._recovering import recover

if TYPE_CHECKING:
    from ._batching import Batch
    from ._journal_options import JournalOptions
    from ._partition import PartitionState
    from ._reporting import Reporter
    from .transport import IdempotentTransportConnection, TransportConnection

__all__ = ["ProducerJournal", "open_journal"]

logger = logging.getLogger("anyio_eventhubs")


class ProducerJournal:
    """One producer's journal: the store, what the producer tells it, and the recovery.

    Created in the event loop (it makes an ``anyio.Event``).

    :param recovering: the events of earlier runs without an outcome (``None``: none).
    """

    def __init__(
        self,
        store: JournalStore,
        recovering: Iterator[JournaledRun] | None = None,
        sync_every: float | None = None,
        publishing: PublishingStateFiles | None = None,
        stored: dict[str, StoredPublishing] | None = None,
    ) -> None:
        self.store = store
        #: idempotent publishing's state per partition, beside the journal
        self.publishing = publishing
        #: per partition: the idempotent identity and last batch an earlier run stored
        self._stored = stored or {}
        #: per partition: the batch an earlier run numbered, to re-send with its numbers
        self.sent_batches: dict[str, SentBatch] = {}
        #: with ``durability="interval"``: seconds between periodic syncs
        self.sync_every = sync_every
        self._recovering = recovering
        self._recovery_done = None if recovering is None else anyio.Event()
        #: whether recovered events are still being queued (new ones must wait): an
        #: attribute, not a property, as queue_for_send reads it for every event
        self.recovering = recovering is not None
        self._recovery_stopped = False

    async def wait_recovered(self) -> None:
        """Wait until recovery has queued every recovered event (or stopped)."""
        if self._recovery_done is not None:
            await self._recovery_done.wait()

    def stop_recovery(self) -> None:
        """Make recovery stop at its next event (a close that is not graceful); the
        caller wakes it if it waits for room."""
        self._recovery_stopped = True

    def recovery(
        self,
        parts: Mapping[str, PartitionState],
        max_queued_events: int,
        reporter: Reporter,
        current_time: Callable[[], float],
        reserved_per_event: int = 0,
    ) -> Callable[[], Coroutine[Any, Any, None]] | None:
        """The recovery task's function (``None`` if there is nothing to recover).

        :param reserved_per_event: bytes the transport adds to each event later (the
            idempotent stamp), counted in its batch as for a new event.
        """
        events, done = self._recovering, self._recovery_done
        if events is None or done is None:
            return None

        async def run() -> None:
            try:
                await recover(
                    self,
                    events,
                    parts,
                    max_queued_events,
                    reporter,
                    current_time,
                    lambda: self._recovery_stopped,
                    reserved_per_event,
                )
            finally:
                self._recovering = None
                self.recovering = False
                done.set()

        return run

    def accepted(self, partition_id: str, item: QueuedEvent, partition_key: str | None) -> None:
        """Journal *item* (numbered already); raise if it must not be accepted.

        :raises ~anyio_eventhubs.JournalWriteError: the event is not in the journal.
        """
        try:
            self.store.append_event(partition_id, item, partition_key)
        except JournalWriteError as exc:
            raise _not_accepted(exc) from exc

    def accepted_body(self, partition_id: str, seq: int, message: bytes) -> None:
        """:meth:`accepted` for a ``bytes`` event without a key, as its number *seq* and
        its encoded *message* (no object for the event).

        :raises ~anyio_eventhubs.JournalWriteError: the event is not in the journal.
        """
        try:
            self.store.append_one(partition_id, seq, KIND_BYTES, message)
        except JournalWriteError as exc:
            raise _not_accepted(exc) from exc

    async def resume_publishing(self, connection: IdempotentTransportConnection) -> None:
        """Attach each partition with a stored identity as that producer again (before
        anything is sent), so that recovered batches keep their sequence numbers."""
        for pid, state in self._stored.items():
            if pid not in connection.partition_ids:
                continue
            resumed = await connection.resume_publishing(pid, state.producer_id, state.epoch)
            if resumed and state.batch is not None:
                self.sent_batches[pid] = state.batch

    def batch_numbered(
        self, partition_id: str, batch: Batch, producer_id: int, epoch: int, first: int
    ) -> None:
        """Record the numbers an idempotent transport gave *batch* (before it leaves).

        :raises ~anyio_eventhubs.JournalWriteError: if it could not be recorded.
        """
        assert self.publishing is not None
        generation, seq = self.store.origin(partition_id, batch.first_seq)
        self.publishing.write(
            partition_id,
            StoredPublishing(producer_id, epoch, SentBatch(generation, seq, batch.count, first)),
        )

    def resolved(self, partition_id: str, first_seq: int, end_seq: int) -> None:
        """Record outcomes (never raises: a failed write is logged; the outcome stays
        known while the journal is open, and a crash would publish those events again)."""
        try:
            self.store.append_outcome(partition_id, first_seq, end_seq)
        except JournalError as exc:
            logger.error(
                "journal %s: could not record the outcome of events %d-%d of partition %r; "
                "after a crash they would be published again: %s",
                self.store.directory,
                first_seq,
                end_seq - 1,
                partition_id,
                exc,
            )

    def sync_if_due(self) -> None:
        try:
            self.store.sync_if_due()
        except JournalError as exc:
            logger.error("journal %s: fdatasync failed: %s", self.store.directory, exc)

    def close(self) -> None:
        if self.publishing is not None:
            self.publishing.close()
        try:
            self.store.close()
        except OSError as exc:
            logger.error("journal %s: closing failed: %s", self.store.directory, exc)


def _not_accepted(exc: JournalWriteError) -> JournalWriteError:
    return JournalWriteError(
        f"the event was not accepted: {exc}", exc.path, getattr(exc, "errno", None)
    )


@asynccontextmanager
async def open_journal(
    options: JournalOptions | None, connection: TransportConnection
) -> AsyncIterator[ProducerJournal | None]:
    """Open (and lock) the journal for *connection*'s hub; close it on exit.

    The opening reads every journal file once to check it (in a worker thread: it is
    plain file I/O); the events themselves are streamed again later, by recovery.

    :raises ~anyio_eventhubs.JournalError: if it cannot be opened (the subclass says why).
    """
    if options is None:
        yield None
        return
    store = await anyio.to_thread.run_sync(
        functools.partial(
            JournalStore.open,
            options.path,
            namespace=connection.fully_qualified_namespace,
            eventhub_name=connection.eventhub_name,
            durability=options.durability,
            fsync_interval=options.fsync_interval,
            segment_size=options.segment_size,
            quarantine_damaged=options.quarantine_damaged,
        )
    )
    publishing = PublishingStateFiles(options.path, sync=options.durability != "buffered")
    try:
        stored = await anyio.to_thread.run_sync(
            functools.partial(publishing.load, quarantine_damaged=options.quarantine_damaged)
        )
    except BaseException:
        store.close()
        raise
    journal = ProducerJournal(
        store,
        None if store.empty else store.recover_runs(),
        options.fsync_interval if options.durability == "interval" else None,
        publishing,
        stored,
    )
    try:
        yield journal
    finally:
        journal.close()
