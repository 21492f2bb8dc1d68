"""Pieces shared by the suites that run against the emulator (azure, idempotent, reliability)."""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from anyio_eventhubs.testing.emulator import EventHubsEmulator

#: the hub with small messages: batches are cut at this many bytes
SMALL_MAX_MESSAGE_SIZE = 2048


@pytest.fixture(autouse=True)
def _collect_garbage_after_each_test() -> Iterator[None]:
    """Collect now, so that a socket or stream left open fails the test that left it."""
    yield
    gc.collect()


@contextmanager
def running_emulator(
    hubs: Mapping[str, int], *, small_partitions: int
) -> Iterator[EventHubsEmulator]:
    """An emulator with *hubs* and a hub ``small`` whose messages are 2 KiB at most."""
    from anyio_eventhubs.testing.emulator import EventHubsEmulator

    emulator = EventHubsEmulator(dict(hubs))
    emulator.add_hub("small", small_partitions, max_message_size=SMALL_MAX_MESSAGE_SIZE)
    with emulator:
        yield emulator
