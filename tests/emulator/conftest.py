"""Fixtures for the emulator tests: a running emulator and azure-eventhub clients on it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from azure.eventhub import EventHubProducerClient

from anyio_eventhubs.testing.emulator import EventHubsEmulator

#: the type of the ``producer`` fixture (test modules spell it out: conftest is not importable)
ProducerFactory = Callable[..., EventHubProducerClient]


@pytest.fixture
def emulator() -> Iterator[EventHubsEmulator]:
    """Hubs ``eh1`` (4 partitions) and ``eh2`` (2 partitions, 4 KiB messages)."""
    emulator = EventHubsEmulator({"eh1": 4})
    emulator.add_hub("eh2", 2, max_message_size=4096)
    with emulator:
        yield emulator


@pytest.fixture
def producer(emulator: EventHubsEmulator) -> Iterator[ProducerFactory]:
    """Make sync producers (``retry_total=0``) that are closed after the test."""
    made: list[EventHubProducerClient] = []

    def make(eventhub_name: str = "eh1", **kwargs: Any) -> EventHubProducerClient:
        kwargs.setdefault("retry_total", 0)
        client = EventHubProducerClient.from_connection_string(
            emulator.connection_string(eventhub_name), **kwargs
        )
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()
