"""Spans and trace context, on the in-memory hub, with the SDK's in-memory exporter."""

from __future__ import annotations

import anyio
import pytest
from azure.eventhub import EventData
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from anyio_eventhubs import NotFoundError, RetryOptions, ServerBusyError, open_streaming_producer
from anyio_eventhubs.testing import InMemoryEventHub

from ..helpers import Recorder
from .conftest import Telemetry, tracer_provider_with_exporter

pytestmark = pytest.mark.anyio

NO_WAIT = RetryOptions(delay=0, jitter=0, max_retries=3)


def traceparent_of(span: trace.Span) -> str:
    context = span.get_span_context()
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"


def _bytes(value: object) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


def app_properties(event: EventData) -> dict[bytes, bytes]:
    """An event's application properties, keys and values as bytes."""
    return {_bytes(k): _bytes(v) for k, v in (event.properties or {}).items()}


async def test_each_batch_publish_is_a_send_span_with_the_conventions_attributes(
    telemetry: Telemetry,
) -> None:
    hub = InMemoryEventHub(2, name="orders")
    async with open_streaming_producer(transport=hub, identifier="p-1") as producer:
        for i in range(5):
            await producer.queue_for_send(b"x%d" % i, partition_id="1")
    spans = telemetry.spans()
    assert len(spans) == hub.batch_count() == 1
    span = spans[0]
    assert span.name == "send orders"
    assert span.kind is SpanKind.CLIENT
    assert span.parent is None  # a trace of its own, linked to the events' contexts
    assert span.status.status_code is StatusCode.UNSET
    assert dict(span.attributes or {}) == {
        "messaging.system": "eventhubs",
        "messaging.operation.name": "send",
        "messaging.operation.type": "send",
        "messaging.destination.name": "orders",
        "messaging.destination.partition.id": "1",
        "messaging.batch.message_count": 5,
        "messaging.client.id": "p-1",
        "server.address": "orders.inmemory.localhost",
        "server.port": 5671,
    }
    assert span.instrumentation_scope is not None
    assert span.instrumentation_scope.name == "anyio_eventhubs"
    assert span.instrumentation_scope.schema_url == "https://opentelemetry.io/schemas/1.44.0"


async def test_events_queued_inside_a_span_carry_its_context_as_azure_eventhub_writes_it(
    telemetry: Telemetry,
) -> None:
    hub = InMemoryEventHub(1)
    tracer = telemetry.tracer_provider.get_tracer("app")
    async with open_streaming_producer(transport=hub) as producer:
        with tracer.start_as_current_span("handle request") as app_span:
            await producer.queue_for_send(b"bytes")
            await producer.queue_for_send("text", partition_key="k")
            await producer.queue_for_send(EventData(b"plain EventData"))
            rich = EventData(b"rich")
            rich.properties = {"colour": "blue"}
            await producer.queue_for_send(rich)
        await producer.queue_for_send(b"outside any span")
    expected = traceparent_of(app_span).encode()
    published = hub.published_events("0")
    for event in published[:4]:
        props = app_properties(event)
        assert props[b"traceparent"] == expected
        assert props[b"Diagnostic-Id"] == expected
        assert b"tracestate" not in props  # written only when the span has one
    assert [e.body_as_str() for e in published] == [
        "bytes",
        "text",
        "plain EventData",
        "rich",
        "outside any span",
    ]
    assert app_properties(published[3])[b"colour"] == b"blue"
    assert published[1].partition_key == b"k"
    assert not published[4].properties
    assert rich.properties == {"colour": "blue"}  # the caller's event is not changed
    [span] = telemetry.spans()
    assert [link.context.span_id for link in span.links] == [app_span.get_span_context().span_id]


async def test_tracestate_travels_with_the_context(telemetry: Telemetry) -> None:
    hub = InMemoryEventHub(1)
    parent = trace.SpanContext(
        trace_id=0x1234,
        span_id=0x5678,
        is_remote=True,
        trace_flags=trace.TraceFlags(1),
        trace_state=trace.TraceState([("vendor", "value")]),
    )
    async with open_streaming_producer(transport=hub) as producer:
        with trace.use_span(trace.NonRecordingSpan(parent)):
            await producer.queue_for_send(b"x")
    props = app_properties(hub.published_events("0")[0])
    assert props[b"traceparent"] == b"00-" + b"%032x" % 0x1234 + b"-" + b"%016x" % 0x5678 + b"-01"
    assert props[b"tracestate"] == b"vendor=value"
    [span] = telemetry.spans()
    assert span.links[0].context.trace_state == parent.trace_state


async def test_an_event_with_its_own_traceparent_keeps_it_and_is_linked(
    telemetry: Telemetry,
) -> None:
    hub = InMemoryEventHub(1)
    own = "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"
    event = EventData(b"forwarded")
    event.properties = {"traceparent": own}
    tracer = telemetry.tracer_provider.get_tracer("app")
    async with open_streaming_producer(transport=hub) as producer:
        with tracer.start_as_current_span("forwarding"):
            await producer.queue_for_send(event)
    props = app_properties(hub.published_events("0")[0])
    assert props[b"traceparent"] == own.encode()
    assert b"Diagnostic-Id" not in props
    [span] = telemetry.spans()
    [link] = span.links
    assert (link.context.trace_id, link.context.span_id) == (int("ab" * 16, 16), int("cd" * 8, 16))


async def test_the_send_span_links_each_distinct_creation_context_once(
    telemetry: Telemetry,
) -> None:
    hub = InMemoryEventHub(1)
    tracer = telemetry.tracer_provider.get_tracer("app")
    async with open_streaming_producer(transport=hub, max_wait_time=None) as producer:
        with tracer.start_as_current_span("first") as first:
            for _ in range(3):
                await producer.queue_for_send(b"a")
        with tracer.start_as_current_span("second") as second:
            await producer.queue_for_send(b"b")
        await producer.queue_for_send(b"no context")
    [span] = telemetry.spans()
    assert span.attributes is not None
    assert span.attributes["messaging.batch.message_count"] == 5
    assert [link.context.span_id for link in span.links] == [
        first.get_span_context().span_id,
        second.get_span_context().span_id,
    ]


async def test_a_failed_publish_has_error_type_and_an_error_status(telemetry: Telemetry) -> None:
    hub = InMemoryEventHub(1)
    hub.fail_next_sends(1, error=NotFoundError)
    rec = Recorder()
    async with open_streaming_producer(transport=hub, **rec.handlers()) as producer:
        await producer.queue_for_send(b"x")
    assert len(rec.failed) == 1
    [span] = telemetry.spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes is not None
    assert span.attributes["error.type"] == "NotFoundError"
    assert [e.name for e in span.events] == ["exception"]


async def test_retries_are_events_on_the_span_of_their_publish(telemetry: Telemetry) -> None:
    hub = InMemoryEventHub(1)
    hub.fail_next_sends(2, error=ServerBusyError)
    async with open_streaming_producer(transport=hub, retry_options=NO_WAIT) as producer:
        await producer.queue_for_send(b"x")
    [span] = telemetry.spans()
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes is not None
    assert "error.type" not in span.attributes
    assert span.attributes["anyio_eventhubs.retry.count"] == 2
    retries = [e for e in span.events if e.name == "retry"]
    assert [dict(e.attributes or {}) for e in retries] == [
        {
            "error.type": "ServerBusyError",
            "anyio_eventhubs.retry.attempt": n,
            "anyio_eventhubs.retry.delay": 0.0,
        }
        for n in (1, 2)
    ]


async def test_a_force_resend_is_a_publish_of_its_own(telemetry: Telemetry) -> None:
    hub = InMemoryEventHub(1)
    hub.fail_next_sends(1, error=NotFoundError)
    resent = anyio.Event()

    def on_failed(args: object) -> None:
        args.force_resend()  # type: ignore[attr-defined]
        resent.set()

    async with open_streaming_producer(transport=hub, on_publish_failed=on_failed) as producer:
        await producer.queue_for_send(b"x")
    assert resent.is_set()
    errors = [(s.attributes or {}).get("error.type") for s in telemetry.spans()]
    assert errors == ["NotFoundError", None]


async def test_a_cleared_send_is_recorded_as_cleared(telemetry: Telemetry) -> None:
    hub = InMemoryEventHub(1)
    hub.hold_sends()
    rec = Recorder()
    async with open_streaming_producer(transport=hub, **rec.handlers()) as producer:
        await producer.queue_for_send(b"x")
        await producer.queue_for_send(b"y")
        await hub.wait_sends_in_flight(1)
        assert await producer.clear() == 2
    [span] = telemetry.spans()
    assert span.attributes is not None
    assert span.attributes["error.type"] == "EventClearedError"
    assert span.status.status_code is StatusCode.ERROR


async def test_enable_telemetry_false_turns_it_off_for_that_producer(telemetry: Telemetry) -> None:
    hub = InMemoryEventHub(1)
    tracer = telemetry.tracer_provider.get_tracer("app")
    async with open_streaming_producer(transport=hub, enable_telemetry=False) as producer:
        with tracer.start_as_current_span("request"):
            await producer.queue_for_send(b"x")
    assert telemetry.spans() == []
    assert not hub.published_events("0")[0].properties
    assert telemetry.metric_points("messaging.client.sent.messages") == []


async def test_without_a_provider_nothing_is_stamped_or_traced(no_providers: None) -> None:
    hub = InMemoryEventHub(1)
    remote = trace.SpanContext(0x1, 0x2, is_remote=True, trace_flags=trace.TraceFlags(1))
    async with open_streaming_producer(transport=hub) as producer:
        with trace.use_span(trace.NonRecordingSpan(remote)):
            await producer.queue_for_send(b"x")
    assert not hub.published_events("0")[0].properties


async def test_azure_core_tracing_setting_gets_our_spans_once_a_provider_appears(
    no_providers: None, azure_switch: None
) -> None:
    # the Azure SDK's switch is on when the producer opens; the OpenTelemetry provider
    # is configured only afterwards (as an exporter distro may do): spans still come
    hub = InMemoryEventHub(1)
    async with open_streaming_producer(transport=hub) as producer:
        provider, exporter = tracer_provider_with_exporter()
        trace.set_tracer_provider(provider)
        with provider.get_tracer("app").start_as_current_span("request") as app_span:
            await producer.queue_for_send(b"x")
    [span] = [s for s in exporter.get_finished_spans() if s.name.startswith("send ")]
    assert span.links[0].context.span_id == app_span.get_span_context().span_id
    assert app_properties(hub.published_events("0")[0])[b"traceparent"] == (
        traceparent_of(app_span).encode()
    )


async def test_without_the_azure_setting_a_later_provider_is_not_seen(no_providers: None) -> None:
    hub = InMemoryEventHub(1)
    async with open_streaming_producer(transport=hub) as producer:
        provider, exporter = tracer_provider_with_exporter()
        trace.set_tracer_provider(provider)
        with provider.get_tracer("app").start_as_current_span("request"):
            await producer.queue_for_send(b"x")
    assert exporter.get_finished_spans()[0].name == "request"
    assert len(exporter.get_finished_spans()) == 1
    assert not hub.published_events("0")[0].properties


async def test_bad_events_raise_the_producers_own_errors_inside_a_span(
    telemetry: Telemetry,
) -> None:
    hub = InMemoryEventHub(1)
    tracer = telemetry.tracer_provider.get_tracer("app")
    async with open_streaming_producer(transport=hub) as producer:
        with tracer.start_as_current_span("request"):
            with pytest.raises(TypeError, match="bytes\\(\\) first"):
                await producer.queue_for_send(bytearray(b"x"))  # type: ignore[arg-type]
            with pytest.raises(ValueError, match="valid Unicode"):
                await producer.queue_for_send("\ud800")
            bad = EventData(b"x")
            bad.properties = {"k": object()}
            with pytest.raises(ValueError, match="cannot be encoded as AMQP"):
                await producer.queue_for_send(bad)
            assert producer.try_queue_for_send(b"ok")
    assert app_properties(hub.published_events("0")[0])[b"traceparent"]
