"""Spans and trace context for one producer (imported only with opentelemetry-api).

- :meth:`Tracing.encode_event` encodes an event as the producer would, with the trace
  context of the caller of ``queue_for_send`` in its application properties (when the
  caller is inside a span, and the event has no creation context of its own);
- :meth:`Tracing.start_send` starts the ``send <hub>`` span of one batch publish: a new
  trace, linked to each distinct creation context its events carry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from azure.eventhub import EventData
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import INVALID_SPAN_CONTEXT, Link, Span, SpanContext, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from .._codec import encode_event_data
from .._codec import plain_body as body_only
from .._encoding import application_properties_section, encode_body_with_properties
from .._events import encode_event
from ._context import carries_trace_context, read_trace_context, trace_properties

__all__ = ["SCHEMA_URL", "Tracing"]

#: the OpenTelemetry semantic conventions these spans and metrics follow
SCHEMA_URL = "https://opentelemetry.io/schemas/1.44.0"

_W3C = TraceContextTextMapPropagator()
_ROOT = Context()


def _version() -> str:
    from .. import __version__

    return __version__


class Tracing:
    """The tracer, the span attributes and the stamping of one producer."""

    def __init__(self, attributes: Mapping[str, Any], client_id: str) -> None:
        self._tracer = trace.get_tracer("anyio_eventhubs", _version(), schema_url=SCHEMA_URL)
        self._span_name = f"send {attributes['messaging.destination.name']}"
        self._attributes = {**attributes, "messaging.client.id": client_id}
        self._last_context: SpanContext = INVALID_SPAN_CONTEXT
        self._last_stamp: tuple[dict[str, str], bytes] = ({}, b"")

    # -- queue_for_send ----------------------------------------------------------------

    def _stamp_of(self, context: SpanContext) -> tuple[dict[str, str], bytes]:
        """The properties for *context*, and their encoded section (kept for the next event:
        the events of one span share them)."""
        if context is not self._last_context:
            state = context.trace_state.to_header()
            properties = trace_properties(
                context.trace_id, context.span_id, context.trace_flags, state
            )
            self._last_stamp = properties, application_properties_section(properties)
            self._last_context = context
        return self._last_stamp

    def encode_event(self, event: object, partition_key: str | None) -> bytes:
        """Encode *event*, stamped with the caller's trace context if it has one.

        Raises what :func:`~anyio_eventhubs._events.encode_event` raises, for the same
        inputs (a bad event goes through that function for its error).
        """
        context = trace.get_current_span().get_span_context()
        if not context.is_valid:
            return encode_event(event, partition_key)
        properties, section = self._stamp_of(context)
        if isinstance(event, bytes):
            return encode_body_with_properties(event, partition_key, section)
        if isinstance(event, str):
            try:
                body = event.encode("utf-8")
            except UnicodeEncodeError:
                return encode_event(event, partition_key)  # raises the producer's error
            return encode_body_with_properties(body, partition_key, section)
        if not isinstance(event, EventData):
            return encode_event(event, partition_key)  # raises the producer's TypeError
        plain = body_only(event)
        if plain is not None:
            return encode_body_with_properties(plain, partition_key, section)
        if carries_trace_context(event.properties):
            return encode_event(event, partition_key)  # its own creation context is kept
        try:
            return encode_event_data(event, partition_key, properties)
        except Exception:
            return encode_event(event, partition_key)  # raises the producer's ValueError

    # -- the sender --------------------------------------------------------------------

    def start_send(self, partition_id: str, messages: Sequence[bytes]) -> Span:
        """Start the span of one batch publish (its attempts, not its handler calls)."""
        links: list[Link] = []
        seen: set[tuple[str, str | None]] = set()
        sections: dict[bytes, dict[str, str] | None] = {}
        for encoded in messages:
            carrier = read_trace_context(encoded, sections)
            if carrier is None:
                continue
            key = (carrier["traceparent"], carrier.get("tracestate"))
            if key in seen:
                continue
            seen.add(key)
            context = trace.get_current_span(_W3C.extract(carrier)).get_span_context()
            if context.is_valid:
                links.append(Link(context))
        attributes = {
            **self._attributes,
            "messaging.destination.partition.id": partition_id,
            "messaging.batch.message_count": len(messages),
        }
        return self._tracer.start_span(
            self._span_name,
            context=_ROOT,
            kind=SpanKind.CLIENT,
            attributes=attributes,
            links=links,
            record_exception=False,
            set_status_on_exception=False,
        )
