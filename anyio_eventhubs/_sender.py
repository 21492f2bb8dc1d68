"""Publishing one batch: attempts under the retry policy, then exactly one report.

A sender task owns one :class:`~anyio_eventhubs._partition.InFlightSend`. It holds the
partition's send slot (and the global one) until the batch has its outcome, so with one
slot per partition, batches of a partition are published strictly in order, across
retries and ``force_resend()``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING

import anyio

from ._events import Event
from ._exceptions import EventClearedError, OperationTimeoutError, TransportError
from ._partition import InFlightSend, PartitionState
from ._reporting import Reporter
from ._retry import RetryOptions, retry_delay
from .transport import OutgoingBatch, TransportConnection

if TYPE_CHECKING:
    from ._telemetry import ProducerTelemetry

__all__ = ["Sender"]


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
    ) -> None:
        self._telemetry = telemetry
        self._connection = connection
        self._retry = retry_options
        self._reporter = reporter
        self._release_global_slot = release_global_slot
        self._clear_reason = clear_reason
        self._rng = random.Random()

    async def run(self, part: PartitionState, send: InFlightSend) -> None:
        """The sender task: publish *send*'s batch and report its outcome once."""
        batch = send.batch
        events: list[Event] | None = None
        try:
            while True:
                with send.new_scope() as scope:
                    attempts = self._attempt_until_done(part.id, send)
                    if self._telemetry is None:
                        error = await attempts
                    else:  # inside the batch's span, measured (anyio_eventhubs._telemetry)
                        encoded = [e.encoded for e in batch.events]
                        error = await self._telemetry.publish(part.id, encoded, attempts)
                raise_if_unhandled = True
                if scope.cancelled_caught:
                    reason, raise_if_unhandled = self._clear_reason()
                    error = EventClearedError(may_have_been_published=send.attempted, reason=reason)
                    send.cleared = len(batch.events)
                with anyio.CancelScope(shield=True):
                    if events is None:
                        events = [e.event for e in batch.events]
                    if error is None:
                        part.published += len(events)
                        part.batches_published += 1
                        if self._reporter.wants_successes:
                            await self._reporter.succeeded(events, part.id)
                        break
                    cleared = isinstance(error, EventClearedError)
                    resend = await self._reporter.failed(
                        events,
                        part.id,
                        error,
                        resendable=not cleared,
                        raise_if_unhandled=raise_if_unhandled,
                    )
                    if resend and not send.cancel_requested:
                        continue
                    if resend:  # clear() or close came while the handler ran
                        reason, _ = self._clear_reason()
                        error = EventClearedError(
                            may_have_been_published=send.attempted, reason=reason
                        )
                        await self._reporter.failed(
                            events, part.id, error, resendable=False, raise_if_unhandled=False
                        )
                        send.cleared = len(batch.events)
                    part.failed += len(events)
                    part.batches_failed += 1
                    break
        finally:
            part.in_flight.discard(send)
            part.in_flight_events -= len(batch.events)
            part.resolve(batch.first_seq, batch.end_seq)
            part.slots.release()
            self._release_global_slot()
            send.done.set()

    async def _attempt_until_done(
        self, partition_id: str, send: InFlightSend
    ) -> BaseException | None:
        """Attempt until success (``None``) or until the policy gives up (the last error)."""
        batch = send.batch
        # the same batch_id for every round of attempts of this batch (a force_resend()
        # too): an idempotent transport reuses the batch's sequence numbers
        outgoing = OutgoingBatch(
            partition_id, [e.encoded for e in batch.events], batch.size_in_bytes, batch.first_seq
        )
        options = self._retry
        retries = 0
        while True:
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
            delay = retry_delay(
                options,
                retries,
                is_transient=isinstance(error, TransportError) and error.is_transient,
                rng=self._rng,
            )
            if delay is None:
                return error
            retries += 1
            if self._telemetry is not None:
                self._telemetry.retrying(retries, error, delay)
            await anyio.sleep(delay)
