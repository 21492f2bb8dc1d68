"""The blocking producer: the async producer's methods, for threads.

Exception policy of the ``with`` block
--------------------------------------

Leaving the block closes the producer and joins its thread. A normal exit flushes
(waiting for every outcome); an exit by exception gives what is queued ``close_timeout``
seconds to go out and reports the rest failed with
:class:`~anyio_eventhubs.EventClearedError`. Then what leaves the block is:

- nothing, if the body succeeded and nothing failed unhandled;
- the body's exception, unchanged, if it is the only error;
- the close's error (a :class:`~anyio_eventhubs.PublishError` for a failure no
  ``on_publish_failed`` handler took, an ``ExceptionGroup`` of them, or a crashed
  producer's error), unchanged, if it is the only error;
- a ``BaseExceptionGroup`` of the body's exception and the close's errors when there are
  both;
- ``KeyboardInterrupt`` or ``SystemExit`` from the body, unchanged: unhandled publish
  failures are then logged at ERROR on the ``anyio_eventhubs`` logger, as the async
  producer does on cancellation.
"""

from __future__ import annotations

import math
import threading
from types import TracebackType

import anyio

from .._events import Event
from .._reporting import logger
from .._statistics import ProducerStatistics
from ._core import Core
from ._intake import Intake
from ._lifecycle import exit_errors, forked_error, untrack
from ._many import ManyEventsQueueing
from ._runner import Runner

__all__ = ["StreamingProducer"]


def _check_timeout(timeout: object) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(
            f"timeout must be a number of seconds or None, got {type(timeout).__name__}"
        )
    if not timeout >= 0:  # also refuses NaN
        raise ValueError(f"timeout must be >= 0 seconds, got {timeout!r}")
    return float(timeout)


class StreamingProducer(ManyEventsQueueing):
    """A streaming producer for threads: the same producer, run on a thread of its own.

    Get one from :func:`anyio_eventhubs.sync.open_streaming_producer`; it is not
    constructed directly. Every method may be called from any thread, by many threads
    at once. The handlers run on the producer's own thread, never on the caller's.
    """

    _forked = False  # set in a forked child (see _lifecycle)

    def __init__(self, runner: Runner, identifier: str, pid: int) -> None:
        self._runner = runner
        self._identifier = identifier
        self._pid = pid
        producer, core, intake = runner.producer, runner.core, runner.intake
        assert producer is not None
        assert core is not None
        assert intake is not None
        self._producer = producer
        self._core: Core = core
        self._intake: Intake = intake
        self._prepare = core.prepare
        self._put = intake.put
        self._loop_thread = runner.loop_thread
        self._close_lock = threading.Lock()
        self._close_started = False

    # -- properties ----------------------------------------------------------------------

    @property
    def identifier(self) -> str:
        """A name for this producer, for logs and diagnostics (also its thread's name)."""
        return self._identifier

    @property
    def eventhub_name(self) -> str:
        """The Event Hub this producer publishes to."""
        return self._producer.eventhub_name

    @property
    def fully_qualified_namespace(self) -> str:
        """The namespace's host name."""
        return self._producer.fully_qualified_namespace

    @property
    def is_closed(self) -> bool:
        """Whether the producer is closed or closing (it accepts no more events).

        Always true in a process forked from the one that opened it.
        """
        return self._forked or self._intake.refusal is not None

    @property
    def total_queued_event_count(self) -> int:
        """Events accepted and still without an outcome, over all partitions.

        An event counts from the moment ``queue_for_send`` accepts it until it is reported
        published or failed. Per partition, ``max_queued_events`` bounds only the events
        that wait behind the head batch (the docs' Backpressure page).
        """
        self._refuse_if_forked()
        with self._intake.lock:  # so that no event is on its way from one count to the other
            return self._intake_count(None) + self._producer.total_queued_event_count

    def _intake_count(self, partition_id: str | None) -> int:
        pending = self._intake._pending
        return sum(pending.values()) if partition_id is None else pending[partition_id]

    def get_partition_queued_event_count(self, partition_id: str) -> int:
        """Events accepted for *partition_id* and still without an outcome.

        :raises TypeError: if *partition_id* is not a ``str``.
        :raises ValueError: if the hub has no such partition.
        """
        self._refuse_if_forked()
        with self._intake.lock:
            on_loop = self._producer.get_partition_queued_event_count(partition_id)
            return on_loop + self._intake_count(partition_id)

    def get_partition_ids(self) -> list[str]:
        """The hub's partition ids, in the order the service lists them."""
        self._refuse_if_forked()
        return list(self._core.partition_ids)

    def statistics(self) -> ProducerStatistics:
        """A snapshot of the producer's counters, taken on its thread (or, once it is
        closed, its final counters)."""
        self._refuse_if_forked()
        self._refuse_on_loop_thread("statistics")
        ran, stats = self._runner.call(self._statistics_on_loop)
        if ran:
            assert stats is not None
            return stats
        self._runner.done.wait()
        return self._producer.statistics()

    async def _statistics_on_loop(self) -> ProducerStatistics:
        self._intake.transfer()
        return self._producer.statistics()

    def __repr__(self) -> str:
        if self._forked:
            return f"<sync.StreamingProducer identifier={self._identifier!r} forked>"
        # read across threads without waiting: a live view, not an atomic snapshot
        stats = self._producer.statistics()
        return (
            f"<sync.StreamingProducer identifier={self._identifier!r} "
            f"eventhub={self.eventhub_name!r} partitions={len(self._core.partition_ids)} "
            f"queued={stats.queued + self._intake.pending_count()} "
            f"in_flight={stats.in_flight} published={stats.published} "
            f"failed={stats.failed} closed={self.is_closed}>"
        )

    # -- queueing --------------------------------------------------------------------------

    def queue_for_send(
        self,
        event: Event,
        *,
        partition_id: str | None = None,
        partition_key: str | None = None,
        timeout: float | None = None,
    ) -> None:
        """Accept *event* for publishing to its partition.

        The partition is *partition_id*, or the one the service assigns *partition_key*
        to (the key is stamped on the event), or the next in round robin. The event is
        validated and encoded in the calling thread, so bad input raises here.

        Blocks while ``max_queued_events`` events of the partition wait behind its (full)
        head batch, up to *timeout* seconds (``None``: as long as it takes). The event is
        either accepted, or the call raised and nothing changed.

        :param event: an ``EventData``, or the body of one as ``bytes`` or ``str``.
        :param timeout: seconds to wait for room, or ``None``.
        :raises TypeError: if an argument has the wrong type.
        :raises ValueError: if the partition does not exist, if both a partition id and a
            key are given, or if the key is empty.
        :raises ~anyio_eventhubs.EventTooLargeError: if the event can never fit a batch.
        :raises TimeoutError: if the partition had no room within *timeout* seconds.
        :raises ~anyio_eventhubs.ProducerClosedError: if the producer is closed, or
            closes while the call waits for room.
        :raises RuntimeError: if it would have to wait for room in a handler of this
            producer (use :meth:`try_queue_for_send` there), or in a forked process.
        """
        if self._forked:
            raise forked_error(self._identifier, self._pid)
        if timeout is not None:
            timeout = _check_timeout(timeout)
        part, item = self._prepare(event, partition_id, partition_key)
        if not self._put(part, item, timeout, self._loop_thread):
            raise TimeoutError(
                f"partition {part.id!r} still held max_queued_events="
                f"{self._core.max_queued_events} events behind its head batch after "
                f"{timeout} seconds; the event was not queued"
            )

    def try_queue_for_send(
        self, event: Event, *, partition_id: str | None = None, partition_key: str | None = None
    ) -> bool:
        """Accept *event* if its partition has room; never waits.

        :returns: ``True`` if accepted, ``False`` if ``max_queued_events`` events of the
            partition wait behind its head batch (which is full, and sent at once).
        :raises TypeError: if an argument has the wrong type.
        :raises ValueError: if the partition does not exist, if both a partition id and a
            key are given, or if the key is empty.
        :raises ~anyio_eventhubs.EventTooLargeError: if the event can never fit a batch.
        :raises ~anyio_eventhubs.ProducerClosedError: if the producer is closed.
        :raises RuntimeError: in a forked process.
        """
        if self._forked:
            raise forked_error(self._identifier, self._pid)
        part, item = self._prepare(event, partition_id, partition_key)
        return self._put(part, item, 0.0, self._loop_thread)

    # -- flush, clear, close ---------------------------------------------------------------

    def _refuse_if_forked(self) -> None:
        if self._forked:
            raise forked_error(self._identifier, self._pid)

    def _refuse_on_loop_thread(self, name: str) -> None:
        if threading.get_ident() == self._loop_thread:
            raise RuntimeError(
                f"{name}() was called from the producer's own thread (an on_publish_succeeded/"
                "on_publish_failed handler); it would wait for that thread. Call it from "
                "another thread instead."
            )

    def flush(self, *, timeout: float | None = None) -> None:
        """Publish everything accepted so far; return when each such event has its outcome.

        Partial batches go out at once. Events queued while ``flush()`` waits are not
        waited for, and queueing is not stopped. A flush of a closed producer returns at
        once (its close published or reported everything).

        :param timeout: seconds to wait, or ``None``; the events still go out after it.
        :raises TimeoutError: if some events had no outcome within *timeout* seconds.
        :raises ~anyio_eventhubs.PublishError: (or an ``ExceptionGroup`` of them) for
            failures that had no ``on_publish_failed`` handler.
        :raises RuntimeError: if called from a handler of this producer, or in a
            forked process.
        """
        self._refuse_if_forked()
        self._refuse_on_loop_thread("flush")
        ran, finished = self._runner.call(self._flush_on_loop, _check_timeout(timeout))
        if ran and not finished:
            raise TimeoutError(f"flush() did not finish within {timeout} seconds")

    async def _flush_on_loop(self, seconds: float | None) -> bool:
        self._intake.transfer()
        with anyio.move_on_after(math.inf if seconds is None else seconds) as scope:
            await self._producer.flush()
        return not scope.cancelled_caught

    def clear(self) -> int:
        """Drop every queued event and cancel every send in flight.

        Each dropped event is reported to ``on_publish_failed`` with an
        :class:`~anyio_eventhubs.EventClearedError`, as by the async ``clear()``.

        :returns: how many events were dropped (0 once the producer is closed).
        :raises RuntimeError: if called from a handler of this producer, or in a
            forked process.
        """
        self._refuse_if_forked()
        self._refuse_on_loop_thread("clear")
        ran, count = self._runner.call(self._clear_on_loop)
        return count if ran and count is not None else 0

    async def _clear_on_loop(self) -> int:
        self._intake.transfer()
        return await self._producer.clear()

    def close(self) -> None:
        """Flush, close, and join the producer's thread. Idempotent.

        Ctrl-C while it flushes makes what is left get ``close_timeout`` seconds, then
        ``KeyboardInterrupt`` is raised. In a forked process it does nothing.

        :raises ~anyio_eventhubs.PublishError: (or an ``ExceptionGroup`` of them) for
            failures that had no ``on_publish_failed`` handler.
        :raises RuntimeError: if called from a handler of this producer.
        """
        errors = self._close(abort=False)
        if errors is not None:
            raise errors

    def _close(self, *, abort: bool) -> BaseException | None:
        """Close (bounded by ``close_timeout`` if *abort*); return what the close raised.

        Only the call that started the close gets the errors; others wait for it.
        """
        if self._forked:
            return None
        self._refuse_on_loop_thread("close")
        runner = self._runner
        with self._close_lock:
            first, self._close_started = not self._close_started, True
        if first:
            untrack(self)
        runner.request_close(abort=abort)
        interrupted = runner.wait(runner.done)
        runner.thread.join()
        errors: BaseException | None = None
        if first:
            errors, runner.outcome = runner.outcome, None
        if interrupted is not None:
            _log_unraised(errors)
            raise interrupted
        return errors

    def __enter__(self) -> StreamingProducer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        errors = self._close(abort=exc is not None)
        if errors is None:
            return
        if exc is None:
            raise errors
        if not isinstance(exc, Exception):  # KeyboardInterrupt, SystemExit: let it out
            _log_unraised(errors)
            return
        raise BaseExceptionGroup(
            "errors leaving the streaming producer", [exc, *exit_errors(errors)]
        )


def _log_unraised(errors: BaseException | None) -> None:
    if errors is not None:
        for error in exit_errors(errors):
            logger.error("unpublished on interruption: %s", error, exc_info=error)
