"""Publishing through the azure-eventhub transport to the emulator: routing, batches, outcomes."""

from __future__ import annotations

import threading
from typing import Any

import anyio
import pytest

from anyio_eventhubs import (
    EventData,
    EventTooLargeError,
    ProducerClosedError,
    PublishFailedEventArgs,
    PublishSucceededEventArgs,
    open_streaming_producer,
    partition_for_key,
)
from anyio_eventhubs._azure import _bridge
from anyio_eventhubs.testing.emulator import EventHubsEmulator

from ..emulator_fixtures import SMALL_MAX_MESSAGE_SIZE
from ..helpers import Recorder
from .conftest import read_back, wait_until

pytestmark = pytest.mark.anyio


def bodies(emulator: EventHubsEmulator, hub: str, partition_id: str) -> list[bytes]:
    return [e.body for e in emulator.published_events(hub, partition_id)]


async def test_round_robin_spreads_events_evenly(
    emulator: EventHubsEmulator, connection_string: str
) -> None:
    async with open_streaming_producer(connection_string, max_wait_time=None) as producer:
        assert await producer.get_partition_ids() == ["0", "1", "2", "3"]
        assert producer.eventhub_name == "eh1"
        assert producer.fully_qualified_namespace == f"127.0.0.1:{emulator.port}"
        for i in range(40):
            await producer.queue_for_send(b"%d" % i)
        await producer.flush()
        assert producer.statistics().published == 40
    for index, pid in enumerate("0123"):
        assert bodies(emulator, "eh1", pid) == [b"%d" % i for i in range(index, 40, 4)]


async def test_explicit_partition_keeps_queue_order(
    emulator: EventHubsEmulator, connection_string: str
) -> None:
    async with open_streaming_producer(connection_string, max_wait_time=0.01) as producer:
        for i in range(30):
            await producer.queue_for_send(f"event {i}", partition_id="2")
    assert bodies(emulator, "eh1", "2") == [b"event %d" % i for i in range(30)]
    assert emulator.event_count("eh1") == 30


async def test_partition_keys_land_where_the_service_hashes_them(
    emulator: EventHubsEmulator, connection_string: str
) -> None:
    keys = [f"device-{i}" for i in range(24)]
    async with open_streaming_producer(connection_string, max_wait_time=None) as producer:
        ids = await producer.get_partition_ids()
        for round_ in range(2):
            for key in keys:
                await producer.queue_for_send(f"{key}/{round_}", partition_key=key)
    expected: dict[str, list[tuple[str, bytes]]] = {pid: [] for pid in ids}
    for round_ in range(2):
        for key in keys:
            expected[partition_for_key(key, ids)].append((key, f"{key}/{round_}".encode()))
    for pid in ids:
        stored = emulator.published_events("eh1", pid)
        assert [(e.partition_key, e.body) for e in stored] == expected[pid]
        assert all(e.annotations.get("x-opt-partition-key") == e.partition_key for e in stored)
    assert len({pid for pid in ids if expected[pid]}) > 1


async def test_event_data_keeps_its_properties(emulator: EventHubsEmulator) -> None:
    event = EventData(b"rich")
    event.properties = {"colour": "blue"}
    event.content_type = "text/plain"
    async with open_streaming_producer(emulator.connection_string(), "eh2") as producer:
        await producer.queue_for_send(event, partition_id="1")
    (stored,) = emulator.published_events("eh2", "1")
    assert stored.body == b"rich"
    assert stored.application_properties == {"colour": "blue"}
    assert stored.properties["content_type"] == "text/plain"


async def test_batches_are_cut_at_the_links_max_message_size(
    emulator: EventHubsEmulator,
) -> None:
    async with open_streaming_producer(
        emulator.connection_string("small"), max_wait_time=None
    ) as producer:
        for i in range(60):
            await producer.queue_for_send(b"%03d" % i + b"x" * 97, partition_id="0")
        await producer.flush()
        with pytest.raises(EventTooLargeError) as too_large:
            await producer.queue_for_send(b"x" * SMALL_MAX_MESSAGE_SIZE, partition_id="0")
        assert too_large.value.max_size == SMALL_MAX_MESSAGE_SIZE
    stored = emulator.published_events("small", "0")
    assert [e.body[:3] for e in stored] == [b"%03d" % i for i in range(60)]
    transfers: dict[int, int] = {}
    for event in stored:
        assert event.in_batch
        transfers[event.transfer_id] = transfers.get(event.transfer_id, 0) + len(event.raw) + 5
    assert len(transfers) >= 60 * 105 // SMALL_MAX_MESSAGE_SIZE
    assert max(transfers.values()) <= SMALL_MAX_MESSAGE_SIZE


async def test_clear_drops_queued_events_unpublished(
    emulator: EventHubsEmulator, connection_string: str
) -> None:
    rec = Recorder()
    async with open_streaming_producer(
        connection_string, max_wait_time=None, **rec.handlers()
    ) as producer:
        for i in range(5):
            await producer.queue_for_send(b"%d" % i, partition_id="0")
        assert await producer.clear() == 5
        await producer.queue_for_send(b"after", partition_id="0")
    assert bodies(emulator, "eh1", "0") == [b"after"]
    assert len(rec.failed_events) == 5


async def test_close_publishes_what_is_queued_then_refuses_more(
    emulator: EventHubsEmulator, connection_string: str
) -> None:
    async with open_streaming_producer(connection_string, max_wait_time=None) as producer:
        for i in range(5):
            await producer.queue_for_send(b"%d" % i, partition_id="3")
        await producer.aclose()
        assert bodies(emulator, "eh1", "3") == [b"%d" % i for i in range(5)]
        assert producer.is_closed
        with pytest.raises(ProducerClosedError):
            await producer.queue_for_send(b"late")
        await producer.aclose()  # idempotent
    await wait_until(emulator, lambda: emulator.connections_open == 0, "connections closed")


async def test_handlers_run_on_the_callers_thread(connection_string: str) -> None:
    caller = threading.get_ident()
    threads: list[int] = []
    published: list[PublishSucceededEventArgs] = []
    done = anyio.Event()

    async def on_succeeded(args: PublishSucceededEventArgs) -> None:
        threads.append(threading.get_ident())
        published.append(args)
        if sum(len(a.events) for a in published) == 8:
            done.set()

    def on_failed(args: PublishFailedEventArgs) -> None:  # pragma: no cover - must not run
        threads.append(threading.get_ident())

    async with open_streaming_producer(
        connection_string,
        max_wait_time=0.01,
        on_publish_succeeded=on_succeeded,
        on_publish_failed=on_failed,
    ) as producer:
        for i in range(8):
            await producer.queue_for_send(b"%d" % i)
        with anyio.fail_after(10):
            await done.wait()
    assert threads
    assert set(threads) == {caller}


async def test_everything_published_reads_back_with_the_official_consumer(
    emulator: EventHubsEmulator, connection_string: str
) -> None:
    sent: dict[str, list[tuple[bytes, str | None]]] = {}
    async with open_streaming_producer(connection_string, max_wait_time=0.01) as producer:
        ids = await producer.get_partition_ids()
        for i in range(20):
            key = f"k{i % 5}" if i % 2 else None
            body = b"event-%d" % i
            if key is None:
                await producer.queue_for_send(body, partition_id=ids[i % 3])
                pid = ids[i % 3]
            else:
                await producer.queue_for_send(body, partition_key=key)
                pid = partition_for_key(key, ids)
            sent.setdefault(pid, []).append((body, key))
    received = await read_back(connection_string, "eh1", 20)
    got: dict[str, list[tuple[bytes, Any]]] = {
        pid: [(e.body_as_str().encode(), e.partition_key) for e in events]
        for pid, events in received.items()
        if events
    }
    want = {
        pid: [(body, None if key is None else key.encode()) for body, key in events]
        for pid, events in sent.items()
    }
    assert got == want


async def test_event_data_go_out_early_on_both_backends(connection_string: str) -> None:
    # the client's loop runs on the caller's thread under Trio too (stepped), so no
    # batch sent while the caller queues contends with it for the GIL
    async with open_streaming_producer(connection_string, max_queued_events=10) as producer:
        due_at = {part.event_data_due_at for part in producer._parts.values()}
        for i in range(20):
            await producer.queue_for_send(EventData(b"%d" % i))
    assert due_at == {5}
    assert producer.statistics().published == 20


async def test_event_data_keep_the_plain_bound_when_sends_run_in_a_thread(
    connection_string: str, backend_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # where the loop cannot be stepped, Trio's runs in a thread of ours: a batch sent
    # while the caller queues would contend with it for the GIL
    monkeypatch.setattr(_bridge, "can_step", lambda loop, selector: False)
    async with open_streaming_producer(connection_string, max_queued_events=10) as producer:
        due_at = {part.event_data_due_at for part in producer._parts.values()}
        for i in range(20):
            await producer.queue_for_send(EventData(b"%d" % i))
    assert due_at == ({None} if backend_name == "trio" else {5})
    assert producer.statistics().published == 20
