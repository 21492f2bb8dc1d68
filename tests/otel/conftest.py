"""OpenTelemetry SDK providers for one test each, with in-memory exporter and reader.

The API lets a process set its global providers once; these fixtures set them for one
test and put the API back as it was after it (through its private "set once" guards:
the OpenTelemetry project's own test utilities do the same), so that no other test of
the suite runs with telemetry on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from azure.core.settings import settings
from opentelemetry import metrics, trace
from opentelemetry.metrics import _internal as metrics_internal
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util._once import Once


def reset_globals() -> None:
    """Put the API's global providers back to "not set"."""
    trace._TRACER_PROVIDER_SET_ONCE = Once()
    trace._TRACER_PROVIDER = None
    metrics_internal._METER_PROVIDER_SET_ONCE = Once()
    metrics_internal._METER_PROVIDER = None
    metrics_internal._PROXY_METER_PROVIDER = metrics_internal._ProxyMeterProvider()


@dataclass
class Telemetry:
    """What one test's providers recorded."""

    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader
    tracer_provider: TracerProvider

    def spans(self, name_prefix: str = "send ") -> list[ReadableSpan]:
        return [s for s in self.exporter.get_finished_spans() if s.name.startswith(name_prefix)]

    def metric_points(self, name: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        if data is None:
            return []
        return [
            point
            for resource in data.resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
            if metric.name == name
            for point in metric.data.data_points
        ]


def tracer_provider_with_exporter() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


@pytest.fixture
def no_providers() -> Iterator[None]:
    """No provider configured, before and after the test."""
    reset_globals()
    yield
    reset_globals()


@pytest.fixture
def telemetry(no_providers: None) -> Iterator[Telemetry]:
    """A tracer provider with an in-memory exporter and a meter provider with a reader."""
    provider, exporter = tracer_provider_with_exporter()
    reader = InMemoryMetricReader()
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    yield Telemetry(exporter, reader, provider)
    provider.shutdown()


@pytest.fixture
def azure_tracing() -> Iterator[None]:
    """Azure SDK tracing turned on as its docs say: ``settings.tracing_implementation``."""
    settings.tracing_implementation = "opentelemetry"
    yield
    settings.tracing_implementation.unset_value()


@pytest.fixture(params=["tracing_implementation", "tracing_enabled"])
def azure_switch(request: pytest.FixtureRequest) -> Iterator[None]:
    """Either of azure-core's switches: the plugin, or its native tracing."""
    setting = getattr(settings, request.param)
    setting.set_value("opentelemetry" if request.param == "tracing_implementation" else True)
    yield
    setting.unset_value()
