"""Publishing to the emulator with the official azure-eventhub producer, over a socket."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from azure.eventhub import EventData, EventHubProducerClient
from azure.eventhub.exceptions import EventDataSendError

from anyio_eventhubs._partitioning import partition_for_key
from anyio_eventhubs.testing.emulator import EventHubsEmulator

#: the ``producer`` fixture of conftest.py (which is not importable)
ProducerFactory = Callable[..., EventHubProducerClient]

PARTITIONS = ["0", "1", "2", "3"]


def test_start_and_stop_take_milliseconds() -> None:
    began = time.perf_counter()
    emulator = EventHubsEmulator()
    emulator.start()
    emulator.start()  # idempotent
    emulator.stop()
    emulator.stop()
    assert time.perf_counter() - began < 0.5
    assert emulator.port != 0


def test_connection_string_names_the_endpoint_and_emulator_mode(
    emulator: EventHubsEmulator,
) -> None:
    assert emulator.connection_string("eh1") == (
        f"Endpoint=sb://127.0.0.1:{emulator.port};SharedAccessKeyName=emulator;"
        "SharedAccessKey=emulator-key;EntityPath=eh1;UseDevelopmentEmulator=true"
    )
    assert "EntityPath" not in emulator.connection_string()
    assert emulator.hubs == {"eh1": 4, "eh2": 2}


def test_sends_to_the_hub_go_round_robin_one_batch_each(
    emulator: EventHubsEmulator, producer: ProducerFactory
) -> None:
    client = producer()
    for i in range(4):
        client.send_batch([EventData(f"batch {i}"), EventData(f"batch {i} again")])
    assert emulator.wait_for_events("eh1", 8, timeout=5)  # already true: sends are acked
    assert not emulator.wait_for_events("eh1", 9, timeout=0.01)
    assert [emulator.event_count("eh1", p) for p in PARTITIONS] == [2, 2, 2, 2]
    assert len(emulator.all_events("eh1")) == 8
    for partition_id in PARTITIONS:
        first, second = emulator.published_events("eh1", partition_id)
        assert first.transfer_id == second.transfer_id
        assert second.body == first.body + b" again"


def test_a_partition_keeps_order_sequence_numbers_offsets_and_metadata(
    emulator: EventHubsEmulator, producer: ProducerFactory
) -> None:
    client = producer()
    batch = client.create_batch(partition_id="2")
    for i in range(3):
        event = EventData(f"event {i}")
        event.properties = {"i": i, "kind": "test"}
        event.content_type = "text/plain"
        batch.add(event)
    client.send_batch(batch)
    client.send_event(EventData(b"single"), partition_id="2")

    events = emulator.published_events("eh1", "2")
    assert [e.body for e in events] == [b"event 0", b"event 1", b"event 2", b"single"]
    assert [e.sequence_number for e in events] == [0, 1, 2, 3]
    offsets = [int(e.offset) for e in events]
    assert offsets[0] == 0
    assert offsets == sorted(set(offsets))
    assert [e.in_batch for e in events] == [True, True, True, False]
    assert events[0].application_properties == {"i": 0, "kind": "test"}
    assert events[0].properties == {"content_type": "text/plain"}
    now = datetime.now(UTC)
    assert all(now - timedelta(seconds=30) < e.enqueued_time <= now for e in events)
    assert all(e.partition_key is None for e in events)
    (sender,) = [
        i for i in emulator.connection_info() if i.connection_id == events[0].connection_id
    ]
    assert sender.links[-1].endswith("/eh1/Partitions/2")
    assert (sender.transfers, sender.events) == (2, 4)  # the single event used it too
    assert [emulator.event_count("eh1", p) for p in PARTITIONS] == [0, 0, 4, 0]


def test_keyed_events_land_where_the_service_routes_them(
    emulator: EventHubsEmulator, producer: ProducerFactory
) -> None:
    client = producer()
    keys = ["alphabet", "7", "FWfAT", "région-été", "twelve bytes", "a-much-longer-key-0123456789"]
    for key in keys:
        client.send_batch([EventData(key), EventData(key)], partition_key=key)
    client.send_event(EventData("single keyed"), partition_key="alphabet")
    for key in keys:
        expected = partition_for_key(key, PARTITIONS)
        stored = [e for e in emulator.published_events("eh1", expected) if e.partition_key == key]
        assert [e.body for e in stored[:2]] == [key.encode(), key.encode()]
        assert stored[0].annotations["x-opt-partition-key"] == key
    single = emulator.published_events("eh1", partition_for_key("alphabet", PARTITIONS))[-1]
    assert (single.body, single.partition_key, single.in_batch) == (
        b"single keyed",
        "alphabet",
        False,
    )
    assert emulator.event_count("eh1") == 2 * len(keys) + 1


def test_a_batch_can_fill_the_advertised_max_message_size(
    emulator: EventHubsEmulator, producer: ProducerFactory
) -> None:
    client = producer("eh2")  # 4 KiB messages
    batch = client.create_batch(partition_id="0")
    assert batch.max_size_in_bytes == 4096
    added = 0
    with pytest.raises(ValueError, match="EventDataBatch has reached its size limit"):
        while True:
            batch.add(EventData(b"x" * 100))
            added += 1
    assert batch.size_in_bytes > 4096 - 150
    client.send_batch(batch)
    assert emulator.event_count("eh2", "0") == added > 30


def test_a_message_over_the_limit_is_rejected_as_message_size_exceeded(
    emulator: EventHubsEmulator, producer: ProducerFactory
) -> None:
    client = producer("eh2")
    with pytest.raises(EventDataSendError, match="exceeds the limit") as raised:
        client.send_event(EventData(b"x" * 5000), partition_id="1")
    assert "LinkMessageSizeExceeded" in str(raised.value)
    assert emulator.event_count("eh2") == 0


def test_connections_are_counted_and_described(
    emulator: EventHubsEmulator, producer: ProducerFactory
) -> None:
    assert (emulator.connections_accepted, emulator.connections_open) == (0, 0)
    client = producer()
    client.send_event(EventData("a"), partition_id="0")
    client.send_event(EventData("b"), partition_id="0")
    assert emulator.connections_open >= 1
    client.close()
    assert emulator.wait_until(lambda: emulator.connections_open == 0, timeout=10)
    infos = emulator.connection_info()
    assert len(infos) == emulator.connections_accepted
    assert not any(info.open for info in infos)
    assert all(info.sasl_mechanism == "ANONYMOUS" for info in infos)
    (sender,) = [info for info in infos if info.events]
    assert (sender.transfers, sender.events) == (2, 2)


# azure-eventhub does not close the socket of a connection the server dropped
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_restart_keeps_the_port_and_the_events(
    emulator: EventHubsEmulator, producer: ProducerFactory
) -> None:
    client = producer()
    client.send_event(EventData("before"), partition_id="1")
    port = emulator.port
    emulator.stop()
    assert not emulator.running
    assert emulator.connections_open == 0
    emulator.start()
    assert emulator.port == port
    # the client's connection died with the old server; it reconnects on the next send
    client.send_event(EventData("after"), partition_id="1")
    events = emulator.published_events("eh1", "1")
    assert [(e.sequence_number, e.body) for e in events] == [(0, b"before"), (1, b"after")]
    assert emulator.connections_accepted >= 2
    client.close()
    gc.collect()  # let the leaked socket's warning fire here, under this test's filter


def test_unknown_hubs_and_partitions_are_not_found(
    emulator: EventHubsEmulator, producer: ProducerFactory
) -> None:
    from azure.eventhub.exceptions import ConnectError

    with pytest.raises(ConnectError, match="could not be found"):
        producer("nope").send_event(EventData("x"))
    with pytest.raises(ConnectError, match="Invalid partition"):
        producer().send_event(EventData("x"), partition_id="9")
    with pytest.raises(KeyError, match="nope"):
        emulator.published_events("nope", "0")
    assert emulator.event_count("eh1") == 0
