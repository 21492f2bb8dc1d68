"""The lifetime tests' emulators (each rule off unless a test turns it on), and their
publish-across-a-gap scenario."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import pytest

from anyio_eventhubs import open_streaming_producer
from anyio_eventhubs.testing.emulator import EventHubsEmulator

from ..helpers import Recorder

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


async def publish_across(
    emulator: EventHubsEmulator, gap: float, rec: Recorder, **options: Any
) -> None:
    """Publish a round, stay quiet for *gap* seconds (the scenario: an idle gap, a token's
    lifetime), publish again."""
    conn_str = None if "credential" in options else emulator.connection_string("eh1")
    async with open_streaming_producer(
        conn_str, max_wait_time=0.01, **rec.handlers(), **options
    ) as producer:
        for i in range(4):
            await producer.queue_for_send(b"before-%d" % i)
        await producer.flush()
        await anyio.sleep(gap)
        for i in range(4):
            await producer.queue_for_send(b"after-%d" % i)
        await producer.flush()
