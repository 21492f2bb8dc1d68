"""The producer's metrics (imported only with opentelemetry-api).

Per batch publish, as the messaging conventions define them:
``messaging.client.sent.messages`` (a counter of events the producer attempted to send)
and ``messaging.client.operation.duration`` (a histogram of each publish, in seconds,
the same duration as its span). Per partition, observed at collection time from
``statistics()``: ``anyio_eventhubs.producer.queued`` and
``anyio_eventhubs.producer.in_flight`` (events accepted and not yet in a send, and events
in a send), summed over the open producers of one hub.

The instruments are made once per meter provider; each open producer registers itself
with them and is dropped when it has closed and has nothing left.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

from .._statistics import ProducerStatistics
from ._tracing import SCHEMA_URL

__all__ = ["DURATION_BUCKETS", "Metrics"]

#: the conventions' advised bucket boundaries for messaging.client.operation.duration
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)

_Source = Callable[[], "ProducerStatistics | None"]


class _Instruments:
    """One meter provider's instruments, and the producers its gauges observe."""

    def __init__(self, provider: metrics.MeterProvider) -> None:
        from .. import __version__

        meter = provider.get_meter("anyio_eventhubs", __version__, schema_url=SCHEMA_URL)
        self.sent = meter.create_counter(
            "messaging.client.sent.messages",
            unit="{message}",
            description="Number of messages producer attempted to send to the broker.",
        )
        self.duration = meter.create_histogram(
            "messaging.client.operation.duration",
            unit="s",
            description="Duration of messaging operation initiated by a producer or consumer "
            "client.",
            explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS),
        )
        #: each open producer: its gauge attributes and how to read its statistics
        self.sources: dict[int, tuple[Mapping[str, Any], _Source]] = {}
        meter.create_observable_gauge(
            "anyio_eventhubs.producer.queued",
            [lambda options: self._observe(options, "queued")],
            unit="{event}",
            description="Events accepted by the producer and not yet being sent.",
        )
        meter.create_observable_gauge(
            "anyio_eventhubs.producer.in_flight",
            [lambda options: self._observe(options, "in_flight")],
            unit="{event}",
            description="Events in a batch that is being sent (retries included).",
        )

    def _observe(self, options: CallbackOptions, field: str) -> Iterable[Observation]:
        totals: dict[tuple[tuple[str, Any], ...], int] = {}
        for key, (attributes, source) in list(self.sources.items()):
            stats = source()
            if stats is None:
                self.sources.pop(key, None)
                continue
            for pid, partition in stats.partitions.items():
                labels = tuple(
                    sorted({**attributes, "messaging.destination.partition.id": pid}.items())
                )
                totals[labels] = totals.get(labels, 0) + getattr(partition, field)
        return [Observation(value, dict(labels)) for labels, value in totals.items()]


_by_provider: weakref.WeakKeyDictionary[Any, _Instruments] = weakref.WeakKeyDictionary()


def _instruments() -> _Instruments:
    provider = metrics.get_meter_provider()
    found = _by_provider.get(provider)
    if found is None:
        found = _by_provider[provider] = _Instruments(provider)
    return found


class Metrics:
    """One producer's measurements."""

    def __init__(self, attributes: Mapping[str, Any], statistics: _Source) -> None:
        self._instruments = _instruments()
        self._sent_attributes = {
            k: v for k, v in attributes.items() if k != "messaging.operation.type"
        }
        self._duration_attributes = dict(attributes)
        gauge_attributes = {
            k: attributes[k]
            for k in ("messaging.system", "messaging.destination.name", "server.address")
        }
        self._key = id(self)
        self._instruments.sources[self._key] = (gauge_attributes, statistics)

    def close(self) -> None:
        """Stop observing this producer."""
        self._instruments.sources.pop(self._key, None)

    def record(self, partition_id: str, count: int, seconds: float, error_type: str | None) -> None:
        """Record one batch publish: *count* events, *seconds* long, failed with *error_type*."""
        extra: dict[str, Any] = {"messaging.destination.partition.id": partition_id}
        if error_type is not None:
            extra["error.type"] = error_type
        self._instruments.sent.add(count, {**self._sent_attributes, **extra})
        self._instruments.duration.record(seconds, {**self._duration_attributes, **extra})
