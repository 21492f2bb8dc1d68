"""Publishing one batch: attempts under the retry policy, then exactly one report.

A sender task owns one :class:`~anyio_eventhubs._partition.InFlightSend`. It holds the
partition's send slot (and the global one) until the batch has its outcome, so with one
slot per partition, batches of a partition are published strictly in order, across
retries and ``force_resend()``.

Every report gets a list of its own (a handler may change the one it was given), and
says whether the batch may have been stored: true once any attempt ended in a way that
does not prove the service refused it (see
:attr:`~anyio_eventhubs.TransportError.may_have_been_published`).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING

import anyio
from anyio.lowlevel import checkpoint

from ._batching import Batch
from ._events import Event
from ._exceptions import EventClearedError, OperationTimeoutError, TransportError
from ._partition import InFlightSend, PartitionState
from ._reporting import Reporter
from ._retry import RetryOptions, retry_delay
from ._runs import events_of, messages_of
from .transport import OutgoingBatch, TransportConnection

if TYPE_CHECKING:
    from ._telemetry import ProducerTelemetry

__all__ = ["Sender", "attempt_may_have_stored"]


def attempt_may_have_stored(error: BaseException) -> bool:
    """Whether a failed attempt may still have stored its batch (unknown means yes)."""
    if isinstance(error, TransportError):
        return error.may_have_been_published
    return True


class Sender:
    """Publishes batches for one producer."""

    def __init__(
        self,
        connection: TransportConnection,
        retry_options: RetryOptions,
        reporter: Reporter,
        release_global_slot: Callable[[], None],
        clear_reason: Callable[[], tuple[str, bool]],
        *,
        telemetry: ProducerTelemetry | None = None,
        on_numbered: Callable[[str, Batch, int, int, int], None] | None = None,
    ) -> None:
        self._telemetry = telemetry
        #: told when an idempotent transport numbers a batch (the journal records it)
        self._on_numbered = on_numbered
        self._connection = connection
        self._retry = retry_options
        self._reporter = reporter
        self._release_global_slot = release_global_slot
        self._clear_reason = clear_reason
        self._rng = random.Random()

    def _cleared(self, send: InFlightSend) -> tuple[EventClearedError, bool]:
        reason, raise_if_unhandled = self._clear_reason()
        error = EventClearedError(may_have_been_published=send.attempted, reason=reason)
        send.cleared = send.batch.count
        return error, raise_if_unhandled

    async def run(self, part: PartitionState, send: InFlightSend) -> None:
        """The sender task: publish *send*'s batch and report its outcome once."""
        batch = send.batch
        try:
            while True:
                with send.new_scope() as scope:
                    attempts = self._attempt_until_done(part, send)
                    if self._telemetry is None:
                        error = await attempts
                    else:  # inside the batch's span, measured (anyio_eventhubs._telemetry)
                        encoded = messages_of(batch.events)
                        error = await self._telemetry.publish(part.id, encoded, attempts)
                raise_if_unhandled = True
                if scope.cancelled_caught:
                    error, raise_if_unhandled = self._cleared(send)
                with anyio.CancelScope(shield=True):
                    if error is None:
                        part.published += batch.count
                        part.batches_published += 1
                        if self._reporter.wants_successes:
                            await self._reporter.succeeded(self._events(send), part.id)
                        break
                    cleared = isinstance(error, EventClearedError)
                    resend = await self._reporter.failed(
                        self._reporter.failure_events(batch.events, raise_if_unhandled),
                        part.id,
                        error,
                        resendable=not cleared,
                        raise_if_unhandled=raise_if_unhandled,
                        may_have_been_published=send.attempted
                        if cleared
                        else send.may_have_been_published,
                    )
                    if resend and not send.cancel_requested:
                        continue
                    if resend:  # clear() or close came while the handler ran
                        error, _ = self._cleared(send)
                        await self._reporter.failed(
                            self._events(send),
                            part.id,
                            error,
                            resendable=False,
                            raise_if_unhandled=False,
                            may_have_been_published=send.attempted,
                        )
                    part.failed += batch.count
                    part.batches_failed += 1
                    break
        finally:
            try:
                part.finish_send(send)
            finally:
                part.slots.release()
                self._release_global_slot()
                send.done.set()

    @staticmethod
    def _events(send: InFlightSend) -> list[Event]:
        """A fresh list of the batch's events, as queued: one per report."""
        return events_of(send.batch.events)

    def _outgoing(self, part: PartitionState, batch: Batch) -> OutgoingBatch:
        on_numbered = self._on_numbered
        return OutgoingBatch(
            part.id,
            messages_of(batch.events),
            batch.size_in_bytes,
            batch.first_seq,
            part.fixed_numbers.get(batch.first_seq) if part.fixed_numbers else None,
            None
            if on_numbered is None
            else lambda producer_id, epoch, first: on_numbered(
                part.id, batch, producer_id, epoch, first
            ),
        )

    async def _attempt_until_done(
        self, part: PartitionState, send: InFlightSend
    ) -> BaseException | None:
        """Attempt until success (``None``) or until the policy gives up (the last error)."""
        # the same batch_id for every round of attempts of this batch (a force_resend()
        # too): an idempotent transport reuses the batch's sequence numbers
        outgoing = self._outgoing(part, send.batch)
        options = self._retry
        retries = 0
        while True:
            # let other tasks run between attempts, even when a transport fails without
            # yielding and a handler resends forever (clear() can cancel this)
            await checkpoint()
            error: BaseException
            with anyio.move_on_after(options.try_timeout) as attempt_scope:
                send.attempted = True
                try:
                    await self._connection.send(outgoing)
                except TransportError as exc:
                    error = exc
                except Exception as exc:  # a transport bug must not take the producer down
                    error = exc
                else:
                    return None
            if attempt_scope.cancelled_caught:
                error = OperationTimeoutError(
                    f"no acknowledgement within try_timeout={options.try_timeout}s; "
                    "the service may have stored the batch"
                )
            if attempt_may_have_stored(error):
                send.may_have_been_published = True
            delay = retry_delay(
                options,
                retries,
                is_transient=isinstance(error, TransportError) and error.is_transient,
                rng=self._rng,
            )
            # the error's traceback holds this frame: kept in a local, it would make a
            # cycle that holds the batch until a full collection (see map_exceptions)
            if delay is None:
                try:
                    return error
                finally:
                    del error
            retries += 1
            if self._telemetry is not None:
                self._telemetry.retrying(retries, error, delay)
            del error
            await anyio.sleep(delay)
