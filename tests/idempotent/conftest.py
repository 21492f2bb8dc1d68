"""Fixtures for the idempotent-publishing tests: an emulator per test."""

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
    """Hubs ``eh1`` (2 partitions) and ``small`` (1 partition, 2 KiB messages)."""
    with running_emulator({"eh1": 2}, small_partitions=1) as emulator:
        yield emulator
