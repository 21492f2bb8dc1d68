"""Fixtures for the reliability tests: an emulator per test, collected garbage after it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from anyio_eventhubs.testing.emulator import EventHubsEmulator

from ..emulator_fixtures import (  # noqa: F401 - the autouse fixture
    _collect_garbage_after_each_test,
    running_emulator,
)


@pytest.fixture
def emulator() -> Iterator[EventHubsEmulator]:
    """Hubs ``eh1`` (4 partitions) and ``small`` (2 partitions, 2 KiB messages)."""
    with running_emulator({"eh1": 4}, small_partitions=2) as emulator:
        yield emulator
