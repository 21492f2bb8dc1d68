"""One producer's telemetry: what the producer and its sender call (with opentelemetry-api).

Made by :func:`anyio_eventhubs._telemetry.producer_telemetry` when the producer opens,
and only if a tracer or meter provider is configured (or azure-core's tracing switch is
on): a producer nobody listens to gets ``None`` and pays one attribute check per event.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio
from opentelemetry import trace
from opentelemetry.trace import StatusCode

from .._events import encode_event
from ._metrics import Metrics
from ._switch import metrics_configured, tracing_configured
from ._tracing import Tracing

if TYPE_CHECKING:
    from .._producer import StreamingProducer
    from .._statistics import ProducerStatistics

__all__ = ["AMQPS_PORT", "ProducerTelemetry", "open_producer_telemetry", "server_of"]

logger = logging.getLogger("anyio_eventhubs")

#: the port of AMQP over TLS, where a namespace without an explicit port listens
AMQPS_PORT = 5671
#: ``error.type`` of a publish that clear() or a close cancelled
CLEARED = "EventClearedError"


def server_of(fully_qualified_namespace: str) -> tuple[str, int]:
    """``server.address`` and ``server.port`` of a namespace (``host`` or ``host:port``)."""
    host, sep, port = fully_qualified_namespace.rpartition(":")
    if sep and port.isdigit() and host:
        return host, int(port)
    return fully_qualified_namespace, AMQPS_PORT


def _statistics_source(producer: StreamingProducer) -> Callable[[], ProducerStatistics | None]:
    ref = weakref.ref(producer)

    def source() -> ProducerStatistics | None:
        alive = ref()
        if alive is None:
            return None
        stats = alive.statistics()
        if alive.is_closed and not (stats.queued or stats.in_flight):
            return None  # closed and done: no longer observed
        return stats

    return source


class ProducerTelemetry:
    """Spans, trace context and metrics of one producer; either part may be off."""

    def __init__(self, tracing: Tracing | None, metrics: Metrics | None) -> None:
        self._tracing = tracing
        self._metrics = metrics
        self._cancelled = anyio.get_cancelled_exc_class()
        #: what the producer encodes accepted events with
        self.encode_event: Callable[[Any, str | None], bytes] = (
            encode_event if tracing is None else tracing.encode_event
        )

    @property
    def tracing(self) -> bool:
        return self._tracing is not None

    @property
    def metrics(self) -> bool:
        return self._metrics is not None

    def close(self) -> None:
        if self._metrics is not None:
            self._metrics.close()

    async def publish(
        self,
        partition_id: str,
        messages: list[bytes],
        attempts: Awaitable[BaseException | None],
    ) -> BaseException | None:
        """Await *attempts* (one batch's round of attempts) inside its span, and measure it.

        Returns what *attempts* returns: ``None`` for success, else the error the retry
        policy gave up on. A cancellation (``clear()`` or a close) propagates, and is
        recorded with ``error.type`` ``EventClearedError``, what the producer reports.
        """
        span = None
        if self._tracing is not None:
            try:
                span = self._tracing.start_send(partition_id, messages)
            except Exception:  # telemetry must never keep a batch from going out
                logger.warning("could not start the span of a publish", exc_info=True)
        started = time.perf_counter()
        error_type: str | None = CLEARED
        try:
            if span is None:
                error = await attempts
            else:
                with trace.use_span(
                    span, end_on_exit=False, record_exception=False, set_status_on_exception=False
                ):
                    error = await attempts
            error_type = None if error is None else type(error).__name__
            if span is not None and error is not None:
                span.record_exception(error)
                span.set_status(StatusCode.ERROR, f"{error_type}: {error}")
            return error
        except BaseException as exc:
            if not isinstance(exc, self._cancelled):
                error_type = type(exc).__name__
            if span is not None:
                span.set_status(StatusCode.ERROR, error_type)
            raise
        finally:
            if span is not None:
                if error_type is not None:
                    span.set_attribute("error.type", error_type)
                span.end()
            if self._metrics is not None:
                seconds = time.perf_counter() - started
                self._metrics.record(partition_id, len(messages), seconds, error_type)

    def retrying(self, retries: int, error: BaseException, delay: float) -> None:
        """Record on the publish's span that attempt *retries* failed and is retried."""
        if self._tracing is None:
            return
        span = trace.get_current_span()
        span.add_event(
            "retry",
            {
                "error.type": type(error).__name__,
                "anyio_eventhubs.retry.attempt": retries,
                "anyio_eventhubs.retry.delay": delay,
            },
        )
        span.set_attribute("anyio_eventhubs.retry.count", retries)


def open_producer_telemetry(producer: StreamingProducer) -> ProducerTelemetry | None:
    """The telemetry of *producer*, or ``None`` if no provider listens."""
    tracing_on = tracing_configured()
    metrics_on = metrics_configured()
    if not (tracing_on or metrics_on):
        return None
    address, port = server_of(producer.fully_qualified_namespace)
    attributes = {
        "messaging.system": "eventhubs",
        "messaging.operation.name": "send",
        "messaging.operation.type": "send",
        "messaging.destination.name": producer.eventhub_name,
        "server.address": address,
        "server.port": port,
    }
    return ProducerTelemetry(
        Tracing(attributes, producer.identifier) if tracing_on else None,
        Metrics(attributes, _statistics_source(producer)) if metrics_on else None,
    )
