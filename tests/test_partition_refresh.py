"""Partitions added to a hub while the producer runs (issue #12): round robin, keys, ids."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest

from anyio_eventhubs import ServerBusyError, open_streaming_producer, partition_for_key
from anyio_eventhubs.testing import InMemoryEventHub

pytestmark = pytest.mark.anyio


class Watched:
    """An in-memory hub whose partition refreshes a test can wait for (or make fail)."""

    def __init__(self, hub: InMemoryEventHub, *, fail: bool = False) -> None:
        self.hub = hub
        self.fail = fail
        self.refreshed = anyio.Event()

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[Any]:
        async with self.hub.connect():
            yield self

    def __getattr__(self, name: str) -> Any:
        return getattr(self.hub, name)

    @property
    def partition_ids(self) -> tuple[str, ...]:
        return self.hub.partition_ids

    async def send(self, batch: Any) -> None:
        await self.hub.send(batch)

    async def refresh_partition_ids(self) -> Sequence[str]:
        try:
            if self.fail:
                raise ServerBusyError("busy")
            return await self.hub.refresh_partition_ids()
        finally:
            self.refreshed.set()


async def test_get_partition_ids_learns_of_new_partitions_and_routes_to_them() -> None:
    hub = InMemoryEventHub(2)
    async with open_streaming_producer(transport=hub, max_wait_time=None) as producer:
        assert await producer.get_partition_ids() == ["0", "1"]
        with pytest.raises(ValueError, match="no partition '2'"):
            await producer.queue_for_send(b"x", partition_id="2")
        hub.add_partitions(2)
        assert await producer.get_partition_ids() == ["0", "1", "2", "3"]
        await producer.queue_for_send(b"direct", partition_id="3")
        for i in range(8):
            await producer.queue_for_send(b"rr%d" % i)
        keys = [f"device-{i}" for i in range(40)]
        for key in keys:
            await producer.queue_for_send(key.encode(), partition_key=key)
        await producer.flush()
        assert set(producer.statistics().partitions) == {"0", "1", "2", "3"}
    assert hub.published_bodies("3")[0] == b"direct"
    for pid in "0123":  # the round robin covers the new partitions
        assert any(body.startswith(b"rr") for body in hub.published_bodies(pid))
    ids = ["0", "1", "2", "3"]
    for key in keys:  # keys map with the new count, as the service maps them
        assert key.encode() in hub.published_bodies(partition_for_key(key, ids))


async def test_the_producer_refreshes_on_its_own() -> None:
    watched = Watched(InMemoryEventHub(1))
    watched.hub.add_partitions(1)
    async with open_streaming_producer(
        transport=watched, refresh_partitions_every=0.01
    ) as producer:
        with anyio.fail_after(10):
            await watched.refreshed.wait()
        await producer.queue_for_send(b"new", partition_id="1")
    assert watched.hub.published_bodies("1") == [b"new"]


async def test_a_failed_refresh_is_logged_and_publishing_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    watched = Watched(InMemoryEventHub(1), fail=True)
    with caplog.at_level(logging.WARNING, logger="anyio_eventhubs"):
        async with open_streaming_producer(
            transport=watched, refresh_partitions_every=0.01
        ) as producer:
            with anyio.fail_after(10):
                await watched.refreshed.wait()
            await producer.queue_for_send(b"still")
    assert "could not refresh the partition ids" in caplog.text
    assert watched.hub.published_bodies("0") == [b"still"]


@pytest.mark.parametrize(
    ("every", "error"), [(0, ValueError), (-1.0, ValueError), ("60", TypeError)]
)
async def test_bad_refresh_intervals_are_refused(every: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="refresh_partitions_every"):
        async with open_streaming_producer(
            transport=InMemoryEventHub(1),
            refresh_partitions_every=every,  # type: ignore[arg-type]
        ):
            pass
