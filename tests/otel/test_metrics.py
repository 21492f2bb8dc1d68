"""The producer's metrics, with the SDK's in-memory metric reader."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from anyio_eventhubs import NotFoundError, open_streaming_producer
from anyio_eventhubs._telemetry._metrics import DURATION_BUCKETS
from anyio_eventhubs.testing import InMemoryEventHub

from ..helpers import Recorder
from .conftest import Telemetry

pytestmark = pytest.mark.anyio

COMMON = {
    "messaging.system": "eventhubs",
    "messaging.operation.name": "send",
    "messaging.destination.name": "hub",
    "server.address": "hub.inmemory.localhost",
    "server.port": 5671,
}


def by_partition(points: list[Any], attribute: str = "messaging.destination.partition.id") -> Any:
    return {p.attributes[attribute]: p for p in points}


async def test_sent_messages_and_operation_duration_per_publish(telemetry: Telemetry) -> None:
    hub = InMemoryEventHub(2, name="hub")
    async with open_streaming_producer(transport=hub) as producer:
        for i in range(7):
            await producer.queue_for_send(b"x", partition_id=str(i % 2))
    sent = by_partition(telemetry.metric_points("messaging.client.sent.messages"))
    assert {pid: p.value for pid, p in sent.items()} == {"0": 4, "1": 3}
    assert dict(sent["0"].attributes) == {**COMMON, "messaging.destination.partition.id": "0"}
    durations = by_partition(telemetry.metric_points("messaging.client.operation.duration"))
    assert {pid: p.count for pid, p in durations.items()} == {"0": 1, "1": 1}
    assert dict(durations["1"].attributes) == {
        **COMMON,
        "messaging.operation.type": "send",
        "messaging.destination.partition.id": "1",
    }
    assert tuple(durations["0"].explicit_bounds) == DURATION_BUCKETS


async def test_a_failed_publish_is_counted_with_its_error_type(telemetry: Telemetry) -> None:
    hub = InMemoryEventHub(1, name="hub")
    hub.fail_next_sends(1, error=NotFoundError)
    rec = Recorder()
    async with open_streaming_producer(transport=hub, **rec.handlers()) as producer:
        await producer.queue_for_send(b"x")
        await producer.flush()
        await producer.queue_for_send(b"y")
    points = telemetry.metric_points("messaging.client.sent.messages")
    assert sorted((p.attributes.get("error.type", ""), p.value) for p in points) == [
        ("", 1),
        ("NotFoundError", 1),
    ]


async def test_gauges_observe_queued_and_in_flight_events_until_the_producer_closes(
    telemetry: Telemetry,
) -> None:
    hub = InMemoryEventHub(2, name="hub")
    hub.hold_sends(["0"])
    async with open_streaming_producer(transport=hub, max_wait_time=None) as producer:
        for _ in range(3):
            await producer.queue_for_send(b"x", partition_id="0")
        await producer.queue_for_send(b"y", partition_id="1")
        queued = by_partition(telemetry.metric_points("anyio_eventhubs.producer.queued"))
        assert {pid: p.value for pid, p in queued.items()} == {"0": 3, "1": 1}
        assert dict(queued["1"].attributes) == {
            "messaging.system": "eventhubs",
            "messaging.destination.name": "hub",
            "server.address": "hub.inmemory.localhost",
            "messaging.destination.partition.id": "1",
        }
        assert telemetry.metric_points("anyio_eventhubs.producer.in_flight")[0].value == 0
        async with anyio.create_task_group() as group:
            group.start_soon(producer.flush)  # partition 0's batch goes out, and is held
            await hub.wait_sends_in_flight(1)
            in_flight = by_partition(telemetry.metric_points("anyio_eventhubs.producer.in_flight"))
            assert in_flight["0"].value == 3
            hub.release_sends()
    assert telemetry.metric_points("anyio_eventhubs.producer.queued") == []
