"""The blocking producer's ``queue_many_for_send`` and ``try_queue_many_for_send``.

The same contract as the async producer's (``anyio_eventhubs._many``): every event is
validated and encoded, in the calling thread, before any is accepted; what a call
accepted is always a prefix of its list, and :class:`~anyio_eventhubs.QueueManyProgress`
(or the non-waiting form's return value) says how long it is. Here the call is
interrupted by its ``timeout`` or by the producer closing, not by cancellation.

Each event is then handed over as ``queue_for_send`` hands it (``Intake.put``), so the
bound and the wake-ups of the loop are exactly those of single events.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .._events import Event
from .._exceptions import ProducerClosedError
from .._many import QueueManyProgress
from ._lifecycle import forked_error

if TYPE_CHECKING:
    from ._core import Core, PartitionState, QueuedEvent
    from ._intake import Intake

__all__ = ["ManyEventsQueueing"]


class ManyEventsQueueing:
    """A base class of the blocking :class:`~anyio_eventhubs.sync.StreamingProducer`,
    which sets the attributes declared here."""

    _forked: bool
    _identifier: str
    _pid: int
    _core: Core
    _intake: Intake
    _loop_thread: int

    def _prepare_many(
        self, events: Sequence[Event], partition_id: str | None, partition_key: str | None
    ) -> list[tuple[PartitionState, QueuedEvent]]:
        if self._forked:
            raise forked_error(self._identifier, self._pid)
        return self._core.prepare_many(events, partition_id, partition_key)

    def queue_many_for_send(
        self,
        events: Sequence[Event],
        *,
        partition_id: str | None = None,
        partition_key: str | None = None,
        timeout: float | None = None,
        progress: QueueManyProgress | None = None,
    ) -> None:
        """Accept every event of *events*, in order, waiting for room as needed.

        As the async ``queue_many_for_send``: each event is routed as by
        ``queue_for_send``; every event is validated and encoded (in this thread) before
        any is accepted, so a bad one raises with a note naming its index and nothing
        was accepted; the accepted events are always a prefix of *events*, and
        *progress*, if given, holds its length.

        :param timeout: seconds the whole call may wait for room, or ``None``.
        :param progress: updated as events are accepted (reset to 0 first).
        :raises TimeoutError: if the events did not all find room within *timeout*
            seconds: ``events[:progress.accepted]`` were accepted, the rest were not.
        :raises ~anyio_eventhubs.ProducerClosedError: if the producer is closed, or
            closes while the call waits (*progress* says how many were accepted).
        :raises TypeError: for bad input, as ``queue_for_send``; nothing was accepted.
        :raises ValueError: for bad input, as ``queue_for_send``; nothing was accepted.
        :raises ~anyio_eventhubs.EventTooLargeError: if an event can never fit a batch;
            nothing was accepted.
        :raises RuntimeError: if it would have to wait for room in a handler of this
            producer, or in a forked process.
        """
        from ._producer import _check_timeout  # _producer imports this module

        if progress is None:
            progress = QueueManyProgress()
        else:
            progress.accepted = 0
        if timeout is not None:
            timeout = _check_timeout(timeout)
        prepared = self._prepare_many(events, partition_id, partition_key)
        deadline = None if timeout is None else time.monotonic() + timeout
        put, loop_thread = self._intake.put, self._loop_thread
        for part, item in prepared:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                accepted = put(part, item, left, loop_thread)
            except ProducerClosedError as exc:
                if progress.accepted:
                    raise ProducerClosedError(
                        f"{exc} (after accepting {progress.accepted} of the {len(prepared)} "
                        "events of this call; the rest were not accepted)"
                    ) from None
                raise
            if not accepted:
                raise TimeoutError(
                    f"partition {part.id!r} still held max_queued_events="
                    f"{self._core.max_queued_events} events behind its head batch after "
                    f"{timeout} seconds; {progress.accepted} of the {len(prepared)} events "
                    "were accepted, the rest were not"
                )
            progress.accepted += 1

    def try_queue_many_for_send(
        self,
        events: Sequence[Event],
        *,
        partition_id: str | None = None,
        partition_key: str | None = None,
    ) -> int:
        """Accept the longest prefix of *events* that has room now; never waits.

        As the async ``try_queue_many_for_send``: a bad event raises and nothing is
        accepted; acceptance stops at the first event whose partition is full (that
        partition's full head batch is already due).

        :returns: how many events were accepted: ``events[:n]`` were, the rest were not.
        :raises TypeError: for bad input, as ``queue_for_send``.
        :raises ValueError: for bad input, as ``queue_for_send``.
        :raises ~anyio_eventhubs.EventTooLargeError: if an event can never fit a batch.
        :raises ~anyio_eventhubs.ProducerClosedError: if the producer is closed.
        :raises RuntimeError: in a forked process.
        """
        put, loop_thread = self._intake.put, self._loop_thread
        accepted = 0
        for part, item in self._prepare_many(events, partition_id, partition_key):
            if not put(part, item, 0.0, loop_thread):
                break
            accepted += 1
        return accepted
