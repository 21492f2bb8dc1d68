"""The lifetime tests' emulators: each rule off unless a test turns it on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from anyio_eventhubs.testing.emulator import EventHubsEmulator

#: every rule off unless a test turns it on, so that each test sees only its own
OFF: dict[str, Any] = {
    "first_token_timeout": None,
    "idle_timeout": None,
    "first_link_timeout": None,
    "linkless_timeout": None,
    "link_idle_timeout": None,
}


def start(**rules: Any) -> EventHubsEmulator:
    """A running emulator with hub ``eh1`` (2 partitions) and only *rules* on."""
    emulator = EventHubsEmulator({"eh1": 2}, **{**OFF, **rules})
    emulator.start()
    return emulator


@pytest.fixture
def stop_after() -> Iterator[list[EventHubsEmulator]]:
    """Emulators a test started, stopped after it."""
    started: list[EventHubsEmulator] = []
    yield started
    for emulator in started:
        emulator.stop()
