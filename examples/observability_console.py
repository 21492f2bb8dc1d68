"""Spans, trace context and metrics of a producer, exported to the console.

Each order is handled in a span of its own; the producer stamps that span's context on
the event, publishes the events in batches, each batch in a ``send orders`` span linked
to its events' contexts, and records the messaging metrics. See docs/observability.md.
"""

import asyncio

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

from anyio_eventhubs import open_streaming_producer
from anyio_eventhubs.testing.emulator import EventHubsEmulator

# configure the providers before opening the producer: it looks for them when it opens
resource = Resource.create({"service.name": "order-service"})
tracer_provider = TracerProvider(resource=resource)
tracer_provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
trace.set_tracer_provider(tracer_provider)
reader = PeriodicExportingMetricReader(ConsoleMetricExporter(), export_interval_millis=60_000)
meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
metrics.set_meter_provider(meter_provider)

tracer = trace.get_tracer("order-service")


async def main() -> None:
    with EventHubsEmulator({"orders": 2}) as emulator:  # or your namespace's connection string
        conn_str = emulator.connection_string("orders")
        async with open_streaming_producer(conn_str, max_wait_time=0.1) as producer:
            for order in range(3):
                with tracer.start_as_current_span("handle order"):
                    await producer.queue_for_send(f"order {order}", partition_key="customer-7")
        print(producer.statistics().published, "events published")
    tracer_provider.shutdown()  # flushes the spans
    meter_provider.shutdown()  # exports the metrics once more


asyncio.run(main())
