"""Partitions added to a hub while clients run, as a premium or dedicated namespace allows."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from azure.eventhub import EventData, EventHubProducerClient

from anyio_eventhubs._partitioning import partition_for_key
from anyio_eventhubs.testing.emulator import DETACH_FORCED, EventHubsEmulator


@pytest.fixture
def emulator() -> Iterator[EventHubsEmulator]:
    with EventHubsEmulator({"eh1": 4}) as emulator:
        yield emulator


@pytest.fixture
def client(emulator: EventHubsEmulator) -> Iterator[EventHubProducerClient]:
    client = EventHubProducerClient.from_connection_string(
        emulator.connection_string("eh1"), retry_total=0
    )
    with client:
        yield client


def _key_that_moves() -> str:
    """A partition key whose partition differs between 4 and 6 partitions."""
    four, six = [str(i) for i in range(4)], [str(i) for i in range(6)]
    return next(
        key
        for key in (f"key-{i}" for i in range(1000))
        if partition_for_key(key, four) != partition_for_key(key, six)
    )


def test_the_management_read_reports_the_added_partitions(
    emulator: EventHubsEmulator, client: EventHubProducerClient
) -> None:
    assert client.get_partition_ids() == ["0", "1", "2", "3"]
    assert emulator.add_partitions("eh1", 2) == ["4", "5"]
    assert client.get_partition_ids() == ["0", "1", "2", "3", "4", "5"]
    assert emulator.hubs == {"eh1": 6}
    properties = client.get_partition_properties("5")
    assert (properties["id"], properties["is_empty"]) == ("5", True)


def test_links_to_an_added_partition_attach_and_store(
    emulator: EventHubsEmulator, client: EventHubProducerClient
) -> None:
    client.send_event(EventData("old"), partition_id="3")
    emulator.add_partitions("eh1")
    # azure-eventhub's producer reads the partition ids once: a new client sees the fifth
    fresh = EventHubProducerClient.from_connection_string(
        emulator.connection_string("eh1"), retry_total=0
    )
    with fresh:
        fresh.send_event(EventData("new"), partition_id="4")
    assert [e.body for e in emulator.published_events("eh1", "4")] == [b"new"]
    assert client.get_partition_properties("4")["last_enqueued_sequence_number"] == 0


def test_keys_hash_modulo_the_count_of_the_moment(emulator: EventHubsEmulator) -> None:
    key = _key_that_moves()
    # The service detaches the gateway link when the count changes; whether the client
    # reads that detach before or after its next transfer is a race, so the second send
    # may take one retry, as it does for any client with retries enabled.
    client = EventHubProducerClient.from_connection_string(
        emulator.connection_string("eh1"), retry_total=1, retry_backoff_factor=0.01
    )
    with client:
        client.send_event(EventData("before"), partition_key=key)
        emulator.add_partitions("eh1", 2)
        client.send_event(EventData("after"), partition_key=key)
    before = partition_for_key(key, [str(i) for i in range(4)])
    after = partition_for_key(key, [str(i) for i in range(6)])
    assert [e.body for e in emulator.published_events("eh1", before)] == [b"before"]
    assert [e.body for e in emulator.published_events("eh1", after)] == [b"after"]


def test_round_robin_reaches_the_added_partitions(
    emulator: EventHubsEmulator, client: EventHubProducerClient
) -> None:
    emulator.add_partitions("eh1", 2)
    for i in range(12):
        client.send_event(EventData(f"e{i}"))
    assert [emulator.event_count("eh1", p) for p in "012345"] == [2] * 6


def test_partitions_can_be_added_while_stopped_and_are_kept() -> None:
    emulator = EventHubsEmulator({"eh1": 2})
    emulator.add_partitions("eh1", 1)
    with emulator:
        assert emulator.hubs == {"eh1": 3}


def test_adding_partitions_is_checked(emulator: EventHubsEmulator) -> None:
    with pytest.raises(KeyError, match="no event hub 'nope'"):
        emulator.add_partitions("nope")
    with pytest.raises(ValueError, match="count must be a positive int, got 0"):
        emulator.add_partitions("eh1", 0)
    with pytest.raises(ValueError, match="would have 1025 partitions; the most allowed is 1024"):
        emulator.add_partitions("eh1", 1021)
    assert emulator.hubs == {"eh1": 4}


def _detached(emulator: EventHubsEmulator) -> list[str]:
    return [c for info in emulator.connection_info() for c in info.detached]


def test_adding_partitions_detaches_the_links_of_the_hub_and_clients_reattach(
    emulator: EventHubsEmulator,
) -> None:
    client = EventHubProducerClient.from_connection_string(emulator.connection_string("eh1"))
    with client:
        client.send_event(EventData("before"), partition_id="0")
        emulator.add_partitions("eh1")
        assert emulator.wait_until(lambda: DETACH_FORCED in _detached(emulator), timeout=5)
        client.send_event(EventData("after"), partition_id="0")  # azure re-attaches
    assert [e.body for e in emulator.published_events("eh1", "0")] == [b"before", b"after"]


def test_links_stay_attached_when_partitions_are_added_without_detaching(
    emulator: EventHubsEmulator, client: EventHubProducerClient
) -> None:
    client.send_event(EventData("before"), partition_id="0")
    emulator.add_partitions("eh1", detach_links=False)
    # the emulator serves this send after anything add_partitions queued for it
    client.send_event(EventData("after"), partition_id="0")
    assert _detached(emulator) == []
