"""Fixtures for the reliability tests: an emulator per test, collected garbage after it."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from anyio_eventhubs.testing.emulator import EventHubsEmulator

from .helpers import SMALL_MAX_MESSAGE_SIZE


@pytest.fixture(autouse=True)
def _collect_garbage_after_each_test() -> Iterator[None]:
    """Collect now, so that a socket or stream left open fails the test that left it."""
    yield
    gc.collect()


@pytest.fixture
def emulator() -> Iterator[EventHubsEmulator]:
    """Hubs ``eh1`` (4 partitions) and ``small`` (2 partitions, 2 KiB messages)."""
    emulator = EventHubsEmulator({"eh1": 4})
    emulator.add_hub("small", 2, max_message_size=SMALL_MAX_MESSAGE_SIZE)
    with emulator:
        yield emulator
