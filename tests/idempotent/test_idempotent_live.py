"""Idempotent publishing against a live Azure Event Hub.

Runs only when ``EVENTHUB_IDEMPOTENT_CONNECTION_STRING`` is set (with ``EntityPath``, or
``EVENTHUB_IDEMPOTENT_NAME``): a hub in a namespace where the service enables idempotent
publishing. The test publishes through :class:`~.helpers.AckLosingTransport`, which
reports the acknowledgement of the first sends as lost after the service stored them, so
the producer retries batches the service has; reading the partition back shows each
event once. The same test runs on the emulator in ``test_idempotent_publish.py``.
"""

from __future__ import annotations

import os
import threading
import uuid
from typing import Any

import anyio
import pytest
from azure.eventhub import EventData, EventHubConsumerClient, EventHubProducerClient

from anyio_eventhubs import RetryOptions, open_streaming_producer
from anyio_eventhubs._azure import azure_transport

from ..helpers import Recorder
from .helpers import AckLosingTransport

CONNECTION_STRING = os.environ.get("EVENTHUB_IDEMPOTENT_CONNECTION_STRING")
EVENTHUB_NAME = os.environ.get("EVENTHUB_IDEMPOTENT_NAME")

pytestmark = [
    pytest.mark.live,
    pytest.mark.anyio,
    pytest.mark.skipif(
        not CONNECTION_STRING,
        reason="needs a live Azure Event Hub with idempotent publishing: set "
        "EVENTHUB_IDEMPOTENT_CONNECTION_STRING (and EVENTHUB_IDEMPOTENT_NAME)",
    ),
]


def _last_sequence_number(partition_id: str) -> int:
    assert CONNECTION_STRING is not None
    client = EventHubProducerClient.from_connection_string(
        CONNECTION_STRING, eventhub_name=EVENTHUB_NAME
    )
    with client:
        return int(client.get_partition_properties(partition_id)["last_enqueued_sequence_number"])


def _read_back(partition_id: str, after: int, run_id: str, expected: int) -> list[Any]:
    """Events of *run_id* stored in the partition after sequence number *after*."""
    assert CONNECTION_STRING is not None
    found: list[Any] = []
    consumer = EventHubConsumerClient.from_connection_string(
        CONNECTION_STRING, consumer_group="$Default", eventhub_name=EVENTHUB_NAME
    )

    def on_event(context: Any, event: Any) -> None:
        if event is not None and (event.properties or {}).get(b"run") == run_id.encode():
            found.append(event)
        if event is None or len(found) >= expected + 5:  # room to see duplicates
            consumer.close()

    timer = threading.Timer(60, consumer.close)
    timer.start()
    try:
        with consumer:
            consumer.receive(
                on_event=on_event,
                partition_id=partition_id,
                starting_position=after,
                max_wait_time=10,
            )
    finally:
        timer.cancel()
    return found


async def test_a_batch_whose_acknowledgement_was_lost_is_stored_once_on_a_live_hub() -> None:
    assert CONNECTION_STRING is not None
    run_id = uuid.uuid4().hex
    before = await anyio.to_thread.run_sync(_last_sequence_number, "0")
    transport = AckLosingTransport(azure_transport(CONNECTION_STRING, EVENTHUB_NAME), lose=2)
    rec = Recorder()
    async with open_streaming_producer(
        transport=transport,
        enable_idempotent_retries=True,
        max_wait_time=None,
        retry_options=RetryOptions(max_retries=3, delay=0.5),
        **rec.handlers(),
    ) as producer:
        opened = producer.statistics().partitions["0"]
        for batch in range(3):
            for i in range(5):
                event = EventData(f"{batch}-{i}")
                event.properties = {"run": run_id, "i": 5 * batch + i}
                await producer.queue_for_send(event, partition_id="0")
            await producer.flush()
        published = producer.statistics().partitions["0"]
    assert transport.lost == 2
    assert rec.failed == []
    assert opened.producer_id is not None
    assert published.producer_id == opened.producer_id
    assert opened.last_published_sequence_number is not None
    assert published.last_published_sequence_number == (opened.last_published_sequence_number + 15)
    found = await anyio.to_thread.run_sync(_read_back, "0", before, run_id, 15)
    assert sorted(e.properties[b"i"] for e in found) == list(range(15))  # each once
