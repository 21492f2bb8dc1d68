"""Fixtures for the idempotent-publishing tests: an emulator per test."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from anyio_eventhubs.testing.emulator import EventHubsEmulator

#: the hub with small messages: a few stamped events fill a batch
SMALL_MAX_MESSAGE_SIZE = 2048


@pytest.fixture(autouse=True)
def _collect_garbage_after_each_test() -> Iterator[None]:
    """Collect now, so that a socket or stream left open fails the test that left it."""
    yield
    gc.collect()


@pytest.fixture
def emulator() -> Iterator[EventHubsEmulator]:
    """Hubs ``eh1`` (2 partitions) and ``small`` (1 partition, 2 KiB messages)."""
    emulator = EventHubsEmulator({"eh1": 2})
    emulator.add_hub("small", 1, max_message_size=SMALL_MAX_MESSAGE_SIZE)
    with emulator:
        yield emulator
