"""Where events go: explicit partitions, keys (where the service puts them), round robin."""

from __future__ import annotations

import pytest

from anyio_eventhubs import EventData, open_streaming_producer, partition_for_key
from anyio_eventhubs.testing import InMemoryEventHub

pytestmark = pytest.mark.anyio


async def test_explicit_partition_id_is_used() -> None:
    hub = InMemoryEventHub(4)
    async with open_streaming_producer(transport=hub) as producer:
        await producer.queue_for_send(b"a", partition_id="2")
        await producer.queue_for_send(EventData(b"b"), partition_id="2")
    assert hub.published_bodies("2") == [b"a", b"b"]
    assert hub.published_count() == 2


async def test_unknown_partition_id_lists_the_valid_ones() -> None:
    hub = InMemoryEventHub(3)
    async with open_streaming_producer(transport=hub) as producer:
        with pytest.raises(ValueError, match=r"no partition '7'.*\['0', '1', '2'\]"):
            await producer.queue_for_send(b"a", partition_id="7")
        assert producer.total_queued_event_count == 0


async def test_keys_land_where_the_service_puts_them_and_are_stamped() -> None:
    hub = InMemoryEventHub(5)
    keys = ["device-7", "7", "131", "alphabet", "ключ", "x" * 12, "FWfAT"]
    async with open_streaming_producer(transport=hub) as producer:
        for key in keys:
            await producer.queue_for_send(key.encode(), partition_key=key)
            await producer.queue_for_send(EventData(key), partition_key=key)
    for key in keys:
        pid = partition_for_key(key, hub.partition_ids)
        stored = [e for e in hub.published_events(pid) if e.body_as_str() == key]
        assert len(stored) == 2, key
        assert all(e.partition_key == key.encode() for e in stored)


async def test_without_id_or_key_events_go_round_robin() -> None:
    hub = InMemoryEventHub(4)
    async with open_streaming_producer(transport=hub) as producer:
        for i in range(10):
            await producer.queue_for_send(f"{i}")
    assert [hub.published_bodies(p) for p in "0123"] == [
        [b"0", b"4", b"8"],
        [b"1", b"5", b"9"],
        [b"2", b"6"],
        [b"3", b"7"],
    ]
    assert all(e.partition_key is None for e in hub.published_events("0"))


async def test_id_and_key_together_are_refused() -> None:
    async with open_streaming_producer(transport=InMemoryEventHub(2)) as producer:
        with pytest.raises(ValueError, match="not both"):
            await producer.queue_for_send(b"a", partition_id="0", partition_key="k")
        with pytest.raises(ValueError, match="not both"):
            producer.try_queue_for_send(b"a", partition_id="0", partition_key="k")


async def test_hub_facts_come_from_the_transport() -> None:
    hub = InMemoryEventHub(3, name="telemetry")
    async with open_streaming_producer(transport=hub, identifier="svc-1") as producer:
        assert await producer.get_partition_ids() == ["0", "1", "2"]
        assert producer.eventhub_name == "telemetry"
        assert producer.fully_qualified_namespace == hub.fully_qualified_namespace
        assert producer.identifier == "svc-1"
        assert "svc-1" in repr(producer)


async def test_default_identifier_is_unique() -> None:
    hub = InMemoryEventHub(1)
    async with (
        open_streaming_producer(transport=hub) as a,
        open_streaming_producer(transport=hub) as b,
    ):
        assert a.identifier
        assert a.identifier != b.identifier
