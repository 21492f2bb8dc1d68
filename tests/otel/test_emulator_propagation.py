"""End to end: the trace context reaches azure-eventhub's own consumer, from the emulator."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import anyio
import pytest
from azure.eventhub import EventData, EventHubConsumerClient
from opentelemetry.trace import SpanKind

from anyio_eventhubs import open_streaming_producer
from anyio_eventhubs.testing.emulator import EventHubsEmulator

from ..emulator_fixtures import (  # noqa: F401 - the autouse fixture
    _collect_garbage_after_each_test,
    running_emulator,
)
from .conftest import Telemetry

pytestmark = pytest.mark.anyio


@pytest.fixture
def emulator() -> Iterator[EventHubsEmulator]:
    with running_emulator({"traced": 2}, small_partitions=1) as emulator:
        yield emulator


def receive(connection_string: str, count: int) -> list[EventData]:
    """*count* events, received one by one with the sync consumer (run in a thread)."""
    received: list[EventData] = []
    done = threading.Event()

    def on_event(context: object, event: EventData | None) -> None:
        if event is not None:
            received.append(event)
            if len(received) >= count:
                done.set()

    consumer = EventHubConsumerClient.from_connection_string(
        connection_string, consumer_group="$Default"
    )
    thread = threading.Thread(
        target=consumer.receive,
        kwargs={"on_event": on_event, "starting_position": "-1", "max_wait_time": 0.5},
        daemon=True,
    )
    thread.start()
    try:
        done.wait(20)
    finally:
        consumer.close()
        thread.join(20)
    return received


async def test_the_consumer_processes_each_event_in_the_trace_that_queued_it(
    emulator: EventHubsEmulator, telemetry: Telemetry, azure_tracing: None
) -> None:
    conn_str = emulator.connection_string("traced")
    tracer = telemetry.tracer_provider.get_tracer("app")
    async with open_streaming_producer(conn_str) as producer:
        with tracer.start_as_current_span("handle request") as request:
            for i in range(3):
                await producer.queue_for_send(f"traced {i}", partition_key="k")
        await producer.queue_for_send("untraced", partition_key="k")
    events = await anyio.to_thread.run_sync(receive, conn_str, 4)
    context = request.get_span_context()
    expected = f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"
    expected_bytes = expected.encode()
    assert [e.body_as_str() for e in events] == [f"traced {i}" for i in range(3)] + ["untraced"]
    for event in events[:3]:
        assert event.properties[b"traceparent"] == expected_bytes
        assert event.properties[b"Diagnostic-Id"] == expected_bytes
    assert not events[3].properties
    # azure-eventhub's consumer made each traced event's process span a child of the request
    process = [s for s in telemetry.exporter.get_finished_spans() if s.kind is SpanKind.CONSUMER]
    assert len(process) == 4
    parents = [s.parent.span_id if s.parent else None for s in process]
    assert parents.count(context.span_id) == 3
    [send] = telemetry.spans()
    assert send.name == "send traced"
    assert send.attributes is not None
    assert send.attributes["server.address"] == "127.0.0.1"
    assert send.attributes["server.port"] == emulator.port
    assert [link.context.span_id for link in send.links] == [context.span_id]
