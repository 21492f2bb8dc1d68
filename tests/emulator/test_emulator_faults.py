"""Each injected fault, observed from the official client.

A fresh producer's first send to a partition surfaces errors as they are (the client only
hides one error by rebuilding a producer it already had), so every test sends that way,
with ``retry_total=0``.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

import pytest
from azure.eventhub import EventData, EventHubProducerClient
from azure.eventhub.exceptions import AuthenticationError, ConnectError, EventDataSendError

from anyio_eventhubs._partitioning import partition_for_key
from anyio_eventhubs.testing.emulator import (
    INTERNAL_ERROR,
    SERVER_BUSY,
    THROTTLED,
    EventHubsEmulator,
)

#: the ``producer`` fixture of conftest.py (which is not importable)
ProducerFactory = Callable[..., EventHubProducerClient]

# azure-eventhub does not close the socket of a connection the server dropped
_LEAKED_SOCKET = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@pytest.mark.parametrize(
    ("condition", "shown_as"),
    [
        (SERVER_BUSY, "com.microsoft:server-busy"),
        (THROTTLED, "ResourceLimitExceeded"),
        (INTERNAL_ERROR, "InternalError"),
        ("com.example:custom", "com.example:custom"),
    ],
)
def test_a_rejected_transfer_raises_the_condition_and_stores_nothing(
    emulator: EventHubsEmulator, producer: ProducerFactory, condition: str, shown_as: str
) -> None:
    emulator.faults.reject_next(condition=condition, description="told you so")
    client = producer()
    with pytest.raises(EventDataSendError, match="told you so") as raised:
        client.send_event(EventData("x"), partition_id="0")
    assert shown_as in str(raised.value)
    assert emulator.event_count("eh1") == 0
    client.send_event(EventData("y"), partition_id="0")  # the link is still good
    assert [e.body for e in emulator.published_events("eh1", "0")] == [b"y"]
    assert emulator.faults.fired() == {"reject": 1}


def test_rejections_can_target_one_partition(
    emulator: EventHubsEmulator, producer: ProducerFactory
) -> None:
    key_for = {partition_for_key(f"key-{i}", ["0", "1", "2", "3"]): f"key-{i}" for i in range(40)}
    emulator.faults.reject_next(2, eventhub_name="eh1", partition_id="1")
    client = producer()
    client.send_event(EventData("to 0"), partition_key=key_for["0"])  # not matched: stored
    with pytest.raises(EventDataSendError):
        client.send_event(EventData("to 1"), partition_key=key_for["1"])
    assert emulator.faults.armed() == 0  # the client re-sent once, using up the second
    assert [emulator.event_count("eh1", p) for p in "0123"] == [1, 0, 0, 0]


def test_delayed_acknowledgements_slow_each_send(
    emulator: EventHubsEmulator, producer: ProducerFactory
) -> None:
    client = producer()
    client.send_event(EventData("warm"), partition_id="0")
    emulator.faults.delay_acks(0.3)
    began = time.monotonic()
    client.send_event(EventData("slow"), partition_id="0")
    assert time.monotonic() - began >= 0.3
    emulator.faults.delay_acks(0)
    assert emulator.event_count("eh1", "0") == 2


def test_a_detached_link_fails_the_send_without_storing(
    emulator: EventHubsEmulator, producer: ProducerFactory
) -> None:
    emulator.faults.detach_next(eventhub_name="eh1")
    with pytest.raises(EventDataSendError):
        producer().send_event(EventData("x"), partition_id="2")
    assert emulator.event_count("eh1") == 0
    assert emulator.faults.fired() == {"detach": 1}


@_LEAKED_SOCKET
@pytest.mark.parametrize("events", [1, 200], ids=["one-frame", "many-frames"])
def test_a_dropped_connection_loses_the_transfer(
    emulator: EventHubsEmulator, producer: ProducerFactory, events: int
) -> None:
    emulator.faults.drop_connection_on_next_transfer(partition_id="3")
    client = producer()
    batch = client.create_batch(partition_id="3")
    for _ in range(events):
        batch.add(EventData(b"x" * 1000))  # 200 events: far over one 32 KiB frame
    # closed or reset: the client notices on its next read, or on a write still under way
    with pytest.raises(ConnectError, match=r"Can not (read|send) frame"):
        client.send_batch(batch)
    assert emulator.event_count("eh1") == 0
    assert emulator.faults.fired() == {"drop_connection": 1}
    client.close()
    gc.collect()


@_LEAKED_SOCKET
def test_a_lost_ack_stores_the_event_but_fails_the_send(
    emulator: EventHubsEmulator, producer: ProducerFactory
) -> None:
    emulator.faults.lose_next_ack()
    client = producer()
    with pytest.raises(ConnectError, match="closed connection"):
        client.send_event(EventData("stored anyway"), partition_id="1")
    assert [e.body for e in emulator.published_events("eh1", "1")] == [b"stored anyway"]
    assert emulator.wait_until(lambda: emulator.connections_open == 0, timeout=10)
    client.close()
    gc.collect()


def test_refused_authentication_raises_until_cleared(
    emulator: EventHubsEmulator, producer: ProducerFactory
) -> None:
    emulator.faults.refuse_auth()
    with pytest.raises(AuthenticationError, match="401"):
        producer().send_event(EventData("x"), partition_id="0")
    emulator.faults.clear()
    producer().send_event(EventData("y"), partition_id="0")
    assert emulator.event_count("eh1") == 1
    assert emulator.faults.fired()["auth"] >= 1


def test_hanging_connections_are_accepted_and_never_answered(
    emulator: EventHubsEmulator,
) -> None:
    import socket

    emulator.faults.hang_new_connections()
    with socket.create_connection(("127.0.0.1", emulator.port), timeout=5) as sock:
        sock.sendall(b"AMQP\x03\x01\x00\x00")
        assert emulator.wait_until(lambda: emulator.connections_accepted == 1, timeout=5)
        sock.settimeout(0.2)
        with pytest.raises(TimeoutError):
            sock.recv(8)
    assert emulator.connections_open == 1
    emulator.faults.clear()
