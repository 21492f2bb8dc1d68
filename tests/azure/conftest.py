"""Fixtures for the azure-eventhub transport tests: an emulator per test, and helpers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from collections.abc import Callable, Iterator
from urllib.parse import quote_plus

import anyio
import pytest
from azure.eventhub import EventData, EventHubConsumerClient

from anyio_eventhubs.testing.emulator import EventHubsEmulator

from ..emulator_fixtures import (  # noqa: F401 - the autouse fixture
    _collect_garbage_after_each_test,
    running_emulator,
)


@pytest.fixture
def emulator() -> Iterator[EventHubsEmulator]:
    """Hubs ``eh1`` (4 partitions), ``eh2`` (2) and ``small`` (2, 2 KiB messages)."""
    with running_emulator({"eh1": 4, "eh2": 2}, small_partitions=2) as emulator:
        yield emulator


@pytest.fixture
def connection_string(emulator: EventHubsEmulator) -> str:
    """A connection string to the emulator's ``eh1`` (with ``EntityPath``)."""
    return emulator.connection_string("eh1")


def namespace(emulator: EventHubsEmulator) -> str:
    """The emulator's "fully qualified namespace": host and port."""
    return f"127.0.0.1:{emulator.port}"


def sas_token(emulator: EventHubsEmulator, eventhub_name: str, *, lifetime: float = 3600) -> str:
    """A real SAS token for the emulator's key, as the service would check it."""
    assert emulator.key is not None
    audience = quote_plus(f"sb://{namespace(emulator)}/{eventhub_name}")
    expiry = int(time.time() + lifetime)
    digest = hmac.new(
        emulator.key.encode(), f"{audience}\n{expiry}".encode(), hashlib.sha256
    ).digest()
    signature = quote_plus(base64.b64encode(digest).decode())
    return (
        f"SharedAccessSignature sr={audience}&sig={signature}&se={expiry}&skn={emulator.key_name}"
    )


def _read_back_blocking(
    connection_string: str, eventhub_name: str, count: int, timeout: float
) -> dict[str, list[EventData]]:
    """Receive *count* events with the official sync consumer (blocks; run in a thread)."""
    received: dict[str, list[EventData]] = {}
    total = 0
    lock = threading.Lock()
    done = threading.Event()

    def on_event_batch(context: object, events: list[EventData]) -> None:
        nonlocal total
        with lock:
            partition_id = context.partition_id  # type: ignore[attr-defined]
            received.setdefault(partition_id, []).extend(events)
            total += len(events)
            if total >= count:
                done.set()

    consumer = EventHubConsumerClient.from_connection_string(
        connection_string, consumer_group="$Default", eventhub_name=eventhub_name
    )
    thread = threading.Thread(
        target=consumer.receive_batch,
        kwargs={
            "on_event_batch": on_event_batch,
            "starting_position": "-1",
            "max_wait_time": 0.5,
        },
        daemon=True,
    )
    thread.start()
    try:
        if count:
            done.wait(timeout)
    finally:
        consumer.close()
        thread.join(timeout)
    return received


async def read_back(
    connection_string: str, eventhub_name: str, count: int
) -> dict[str, list[EventData]]:
    """Every event of *eventhub_name* by partition, read with ``EventHubConsumerClient``."""
    return await anyio.to_thread.run_sync(
        _read_back_blocking, connection_string, eventhub_name, count, 20.0
    )


async def wait_for_events(emulator: EventHubsEmulator, eventhub_name: str, count: int) -> None:
    """Wait (in a worker thread, at most 10 s) until the emulator stored *count* events."""
    stored = await anyio.to_thread.run_sync(
        lambda: emulator.wait_for_events(eventhub_name, count, timeout=10)
    )
    assert stored, f"the emulator did not store {count} events of {eventhub_name!r}"


async def wait_until(emulator: EventHubsEmulator, predicate: Callable[[], bool], what: str) -> None:
    """Wait (in a worker thread) until *predicate* holds on the emulator's side."""
    held = await anyio.to_thread.run_sync(lambda: emulator.wait_until(predicate, timeout=10))
    assert held, f"timed out waiting until {what}"
