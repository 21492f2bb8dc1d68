"""OpenTelemetry for the producer: spans, trace context in events, metrics. Optional.

Everything that imports ``opentelemetry`` lives in this package's private modules and
is imported only when a producer opens with ``enable_telemetry=True`` (the default) and
the ``opentelemetry-api`` package is importable. Then, if a tracer provider is
configured (or Azure SDK tracing is on in ``azure.core.settings``), the producer:

- stamps each event queued from inside a span with that span's context, as
  azure-eventhub does (``Diagnostic-Id``, ``traceparent``, ``tracestate``), unless the
  event names its own creation context;
- wraps each batch publish (its attempts, not its handler calls) in a ``send <hub>``
  span of kind CLIENT, a new trace linked to its events' creation contexts, with the
  retries as ``retry`` events and ``error.type`` on failure;

and, if a meter provider is configured, records ``messaging.client.sent.messages``,
``messaging.client.operation.duration`` and two gauges of queued and in-flight events.
Otherwise the producer gets ``None`` here and carries on as if this package did not
exist. ``docs/observability.md`` tells the user's side of it.

Module map: ``_context`` (pure: the three properties, written and read back from an
encoded message), ``_switch`` (is a provider configured?), ``_tracing`` (stamping and
the send span), ``_metrics`` (instruments, gauges), ``_otel`` (what the producer calls).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .._producer import StreamingProducer
    from ._otel import ProducerTelemetry as ProducerTelemetry

__all__ = ["producer_telemetry"]


def producer_telemetry(producer: StreamingProducer) -> ProducerTelemetry | None:
    """The telemetry of *producer*, or ``None`` (no opentelemetry-api, or no provider).

    Called once, when the producer opens.
    """
    try:
        import opentelemetry.metrics
        import opentelemetry.trace  # noqa: F401
    except ImportError:
        return None
    from ._otel import open_producer_telemetry

    return open_producer_telemetry(producer)
