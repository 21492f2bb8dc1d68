"""Against a live Azure Event Hub: runs only when EVENTHUB_CONNECTION_STRING is set.

The hub named by EVENTHUB_NAME (or the connection string's EntityPath) receives a few
events per test; each test reads back only what it published (by a unique run id).
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import anyio
import pytest
from azure.eventhub import EventHubConsumerClient

from anyio_eventhubs import EventData, open_streaming_producer, partition_for_key

from ..helpers import Recorder

CONNECTION_STRING = os.environ.get("EVENTHUB_CONNECTION_STRING")
EVENTHUB_NAME = os.environ.get("EVENTHUB_NAME")

pytestmark = [
    pytest.mark.live,
    pytest.mark.anyio,
    pytest.mark.skipif(
        not CONNECTION_STRING,
        reason="needs a live Azure Event Hub: set EVENTHUB_CONNECTION_STRING (and EVENTHUB_NAME)",
    ),
]


def _read_back(run_id: str, expected: int, timeout: float = 60.0) -> list[tuple[str, Any]]:
    """Read events tagged with *run_id* from every partition, from the start, with a deadline."""
    assert CONNECTION_STRING is not None
    found: list[tuple[str, Any]] = []
    consumer = EventHubConsumerClient.from_connection_string(
        CONNECTION_STRING, consumer_group="$Default", eventhub_name=EVENTHUB_NAME
    )

    def on_event(context: Any, event: Any) -> None:
        if event is not None and (event.properties or {}).get(b"run") == run_id.encode():
            found.append((context.partition_id, event))
        if len(found) >= expected:
            consumer.close()

    import threading

    timer = threading.Timer(timeout, consumer.close)
    timer.start()
    try:
        with consumer:
            consumer.receive(on_event=on_event, starting_position="-1", max_wait_time=5)
    finally:
        timer.cancel()
    return found


async def test_publishes_keyed_and_round_robin_events_to_a_live_hub() -> None:
    assert CONNECTION_STRING is not None
    run_id = uuid.uuid4().hex
    rec = Recorder()
    keys = [f"device-{i}" for i in range(5)]
    async with open_streaming_producer(
        CONNECTION_STRING, EVENTHUB_NAME, max_wait_time=0.2, **rec.handlers()
    ) as producer:
        partition_ids = await producer.get_partition_ids()
        for i in range(20):
            event = EventData(f"event {i}")
            event.properties = {"run": run_id, "i": i}
            await producer.queue_for_send(event, partition_key=keys[i % len(keys)])
        for i in range(8):
            event = EventData(f"rr {i}")
            event.properties = {"run": run_id, "i": 100 + i}
            await producer.queue_for_send(event)
    assert rec.failed == []
    assert len(rec.published_events) == 28
    found = await anyio.to_thread.run_sync(_read_back, run_id, 28)
    assert len(found) == 28
    for partition_id, event in found:
        if event.partition_key:
            key = event.partition_key.decode()
            assert partition_id == partition_for_key(key, partition_ids)


async def test_a_wrong_key_is_a_clear_authentication_error_against_a_live_hub() -> None:
    from anyio_eventhubs import AuthenticationError

    assert CONNECTION_STRING is not None
    parts = dict(p.split("=", 1) for p in CONNECTION_STRING.split(";") if "=" in p)
    parts["SharedAccessKey"] = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXk="
    wrong = ";".join(f"{k}={v}" for k, v in parts.items())
    with anyio.fail_after(120):
        with pytest.raises(AuthenticationError) as info:
            async with open_streaming_producer(wrong, EVENTHUB_NAME):
                pass
    assert parts["SharedAccessKey"] not in str(info.value)
