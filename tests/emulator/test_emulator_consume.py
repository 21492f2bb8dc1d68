"""Reading events back with the official EventHubConsumerClient (sync and aio)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import pytest
from azure.eventhub import EventData, EventHubConsumerClient, EventHubProducerClient
from azure.eventhub.aio import EventHubConsumerClient as AsyncConsumerClient
from azure.eventhub.aio import EventHubProducerClient as AsyncProducerClient

from anyio_eventhubs.testing.emulator import EventHubsEmulator

#: the ``producer`` fixture of conftest.py (which is not importable)
ProducerFactory = Callable[..., EventHubProducerClient]


@pytest.fixture
def anyio_backend() -> str:
    """azure-eventhub's aio clients need asyncio."""
    return "asyncio"


class _Received:
    """Collect events from ``on_event`` (any thread) and wait for a number of them."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self._changed = threading.Condition()

    def on_event(self, partition_context: Any, event: Any) -> None:
        with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float = 15) -> list[Any]:
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.events) >= count, timeout), (
                f"received {len(self.events)} of {count} events"
            )
            return list(self.events)


@pytest.fixture
def received(emulator: EventHubsEmulator) -> Iterator[tuple[_Received, Any]]:
    """A sync consumer on eh1 running in a thread; ``start(partition_id, position)``."""
    record = _Received()
    consumer = EventHubConsumerClient.from_connection_string(
        emulator.connection_string("eh1"), consumer_group="$default"
    )
    threads: list[threading.Thread] = []

    def start(partition_id: str, starting_position: Any) -> None:
        thread = threading.Thread(
            target=consumer.receive,
            kwargs={
                "on_event": record.on_event,
                "partition_id": partition_id,
                "starting_position": starting_position,
            },
        )
        thread.start()
        threads.append(thread)

    yield record, start
    consumer.close()
    for thread in threads:
        thread.join(10)


def test_the_consumer_reads_stored_then_new_events_with_service_annotations(
    emulator: EventHubsEmulator, producer: ProducerFactory, received: tuple[_Received, Any]
) -> None:
    record, start = received
    client = producer()
    batch = client.create_batch(partition_key="key-1")
    for i in range(3):
        event = EventData(f"stored {i}")
        event.properties = {"i": i}
        batch.add(event)
    client.send_batch(batch)
    (partition_id,) = [p for p in "0123" if emulator.event_count("eh1", p)]

    start(partition_id, "-1")
    first = record.wait_for(3)
    client.send_event(EventData("live"), partition_id=partition_id)
    events = record.wait_for(4)

    stored = emulator.published_events("eh1", partition_id)
    assert [e.body_as_str() for e in events] == ["stored 0", "stored 1", "stored 2", "live"]
    assert [e.sequence_number for e in events] == [0, 1, 2, 3]
    assert [e.offset for e in events] == [s.offset for s in stored]
    assert [e.enqueued_time for e in events] == [s.enqueued_time for s in stored]
    assert [e.partition_key for e in first] == [b"key-1"] * 3
    assert events[3].partition_key is None
    assert first[1].properties == {b"i": 1}


def test_the_consumer_starts_at_the_position_it_asks_for(
    emulator: EventHubsEmulator, producer: ProducerFactory, received: tuple[_Received, Any]
) -> None:
    record, start = received
    producer().send_batch([EventData(f"e{i}") for i in range(5)], partition_id="1")
    start("1", 2)  # an int is a sequence number, exclusive
    assert [e.body_as_str() for e in record.wait_for(2)] == ["e3", "e4"]


@pytest.mark.anyio
async def test_aio_producer_and_consumer_round_trip(emulator: EventHubsEmulator) -> None:
    connection_string = emulator.connection_string("eh1")
    async with AsyncProducerClient.from_connection_string(connection_string) as client:
        batch = await client.create_batch(partition_id="0")
        for i in range(3):
            batch.add(EventData(f"aio {i}"))
        await client.send_batch(batch)
    assert emulator.event_count("eh1", "0") == 3

    received: list[Any] = []
    all_in = anyio.Event()

    async def on_event(partition_context: Any, event: Any) -> None:
        received.append(event)
        if len(received) == 3:
            all_in.set()

    consumer = AsyncConsumerClient.from_connection_string(
        connection_string, consumer_group="$default"
    )
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: consumer.receive(on_event, partition_id="0", starting_position="-1"))
        with anyio.fail_after(15):
            await all_in.wait()
        await consumer.close()
        # receive() would still sleep out its 30 s load-balancing interval
        tg.cancel_scope.cancel()
    assert [e.body_as_str() for e in received] == ["aio 0", "aio 1", "aio 2"]
