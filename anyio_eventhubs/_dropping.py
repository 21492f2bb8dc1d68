"""Dropping what a producer holds: for ``clear()``, and for a close that ran out of time.

Every accepted event without an outcome is, at any instant, either in its partition's
queue or in exactly one send in flight (see ``_partition``). A drop takes the queues'
events at once and reports them cleared; it abandons each send in flight, and counts a
send's events only if this drop was the one that abandoned it, so concurrent drops
never count an event twice. It returns once every event it counted has its report.
"""

from __future__ import annotations

from collections.abc import Iterable

import anyio
from anyio.lowlevel import checkpoint

from ._exceptions import EventClearedError
from ._partition import InFlightSend, PartitionState
from ._reporting import Reporter
from ._runs import QueuedItem, event_count

__all__ = ["drop_events"]


async def drop_events(
    parts: Iterable[PartitionState], reporter: Reporter, reason: str, *, raise_if_unhandled: bool
) -> int:
    """Drop every queued event and abandon every send in flight; return how many dropped.

    Shielded from cancellation: once begun, every dropped event gets its report.
    """
    dropped: list[tuple[PartitionState, tuple[QueuedItem, ...]]] = []
    abandoned: list[InFlightSend] = []
    abandoned_earlier: list[InFlightSend] = []
    for part in parts:
        pending = part.drop_pending()
        if pending:
            dropped.append((part, pending))
        for send in part.in_flight:
            (abandoned if send.cancel() else abandoned_earlier).append(send)
    count = 0
    with anyio.CancelScope(shield=True):
        for part, pending in dropped:
            error = EventClearedError(may_have_been_published=False, reason=reason)
            try:
                await reporter.failed(
                    reporter.failure_events(pending, raise_if_unhandled),
                    part.id,
                    error,
                    resendable=False,
                    may_have_been_published=False,
                    raise_if_unhandled=raise_if_unhandled,
                )
            finally:
                part.failed += event_count(pending)
                part.batches_failed += 1
                part.resolve_dropped(pending)
            count += event_count(pending)
        for send in abandoned:
            await send.done.wait()
            count += send.cleared
        for send in abandoned_earlier:
            await send.done.wait()
        if not dropped and not abandoned and not abandoned_earlier:
            await checkpoint()
    return count
