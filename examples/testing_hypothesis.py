"""Property-based tests of your publishing code with what ``anyio_eventhubs.testing`` ships.

- ``anyio_eventhubs.testing.strategies``: events, bodies, properties, partition keys
  (ASCII and not, lengths around the service's 12-byte hash blocks), retry options.
- ``anyio_eventhubs.testing.stateful.StreamingProducerStateMachine``: a Hypothesis state
  machine that drives a real producer on an ``InMemoryEventHub`` (queue, flush, clear,
  close, faults, held sends, cancellations) and checks it against a model after every
  step. Override its ``publish`` hook and it drives *your* code instead.

Run: ``python examples/testing_hypothesis.py`` (or ``pytest examples/testing_hypothesis.py``).
Needs Hypothesis (a test dependency of yours; anyio-eventhubs does not require it).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable, Sequence
from typing import cast

import anyio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anyio_eventhubs import EventData, StreamingProducer, open_streaming_producer
from anyio_eventhubs import partition_for_key as service_partition
from anyio_eventhubs.testing import InMemoryEventHub
from anyio_eventhubs.testing.stateful import StreamingProducerStateMachine
from anyio_eventhubs.testing.strategies import events, partition_keys

Event = EventData | bytes | str

# -- the code under test: your application's publishing code ---------------------------

SCHEMA = "reading/v1"


async def publish_reading(
    producer: StreamingProducer,
    event: Event,
    *,
    device: str | None = None,
    partition_id: str | None = None,
) -> None:
    """Stamp the schema on ``EventData`` events and publish, keyed by device."""
    if isinstance(event, EventData):
        event.properties = {**(event.properties or {}), "schema": SCHEMA}
    await producer.queue_for_send(event, partition_key=device, partition_id=partition_id)


# -- a property, with the strategies ---------------------------------------------------------


def body_of(event: Event) -> bytes:
    if isinstance(event, EventData):  # a data body: a sequence of bytes sections
        return b"".join(cast("Iterable[bytes]", event.body))
    return event.encode() if isinstance(event, str) else event


async def publish_all(readings: Sequence[tuple[str, Event]]) -> InMemoryEventHub:
    hub = InMemoryEventHub(partition_count=4)
    async with open_streaming_producer(transport=hub, max_wait_time=None) as producer:
        for device, event in readings:
            await publish_reading(producer, event, device=device)
    return hub


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(readings=st.lists(st.tuples(partition_keys(max_size=16), events()), max_size=30))
def test_each_reading_lands_on_its_devices_partition_in_order(
    readings: list[tuple[str, Event]],
) -> None:
    hub = anyio.run(publish_all, readings)
    for partition in hub.partition_ids:
        mine = [(d, e) for d, e in readings if service_partition(d, hub.partition_ids) == partition]
        stored = hub.published_events(partition)
        for (device, event), got in zip(mine, stored, strict=True):  # in queue order
            assert got.partition_key == device.encode()
            assert body_of(got) == body_of(event)
            if isinstance(event, EventData):
                assert got.properties[b"schema"] == SCHEMA.encode()


# -- the state machine, driving your code ----------------------------------------------------


class ReadingPublisherMachine(StreamingProducerStateMachine):
    """The shipped machine, with ``publish_reading`` as the code that publishes."""

    async def publish(
        self,
        producer: StreamingProducer,
        event: Event,
        *,
        partition_id: str | None,
        partition_key: str | None,
    ) -> None:
        await publish_reading(producer, event, device=partition_key, partition_id=partition_id)


class TrioReadingPublisherMachine(ReadingPublisherMachine):
    backend = "trio"


_MACHINE_SETTINGS = settings(max_examples=15, stateful_step_count=15, deadline=None, database=None)
TestReadingPublisherOnAsyncio = ReadingPublisherMachine.TestCase
TestReadingPublisherOnAsyncio.settings = _MACHINE_SETTINGS
TestReadingPublisherOnTrio = TrioReadingPublisherMachine.TestCase
TestReadingPublisherOnTrio.settings = _MACHINE_SETTINGS


if __name__ == "__main__":  # run these tests with pytest, in a process of their own
    sys.exit(
        subprocess.call([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__])
    )
