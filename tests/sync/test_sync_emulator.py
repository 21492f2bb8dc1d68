"""The blocking producer over AMQP: the azure-eventhub transport on the producer's thread.

Under ``backend="trio"`` that transport runs azure-eventhub's asyncio client on a loop in
a thread of its own, started from the producer's thread: both threads are joined on exit.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from anyio_eventhubs import partition_for_key
from anyio_eventhubs.sync import open_streaming_producer
from anyio_eventhubs.testing.emulator import EventHubsEmulator

from .helpers import PATIENCE, ThreadRecorder, producer_threads


@pytest.fixture(scope="module")
def emulator() -> Iterator[EventHubsEmulator]:
    with EventHubsEmulator({"sync-a": 4, "sync-b": 4}) as emulator:
        yield emulator


def test_threads_publish_through_the_emulator(emulator: EventHubsEmulator, backend: str) -> None:
    hub = f"sync-{'a' if backend == 'asyncio' else 'b'}"
    recorder = ThreadRecorder()
    before = set(threading.enumerate())
    with open_streaming_producer(
        emulator.connection_string(hub), backend=backend, max_wait_time=0.05, **recorder.handlers
    ) as producer:
        ids = producer.get_partition_ids()

        def queue(t: int) -> None:
            for n in range(250):
                producer.queue_for_send(f"{t}:{n}", partition_key=f"device-{t}")

        threads = [threading.Thread(target=queue, args=(t,)) for t in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(PATIENCE)
        producer.flush()
        assert producer.statistics().published == 1000
    assert recorder.failed == []
    assert emulator.event_count(hub) == 1000
    for t in range(4):
        partition = partition_for_key(f"device-{t}", ids)
        bodies = [e.body.decode() for e in emulator.published_events(hub, partition)]
        assert [b for b in bodies if b.startswith(f"{t}:")] == [f"{t}:{n}" for n in range(250)]
    assert producer_threads() == []
    assert set(threading.enumerate()) <= before | {threading.current_thread()}
