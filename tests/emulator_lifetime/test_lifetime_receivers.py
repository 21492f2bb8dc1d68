"""Owner-level (epoch) receivers and the receiver runtime metric, seen by azure-eventhub."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.eventhub import EventData, EventHubConsumerClient, EventHubProducerClient
from azure.eventhub._pyamqp._connection import Connection, ConnectionState
from azure.eventhub._pyamqp.constants import LinkState
from azure.eventhub._pyamqp.sasl import SASLPlainCredential

from anyio_eventhubs.testing.emulator import EventHubsEmulator

RUNTIME_METRIC = "com.microsoft:enable-receiver-runtime-metric"


class _Receiver:
    """One EventHubConsumerClient receiving one partition in a thread; what it saw."""

    def __init__(self, emulator: EventHubsEmulator, **receive: Any) -> None:
        self.client = EventHubConsumerClient.from_connection_string(
            emulator.connection_string("eh1"), consumer_group="$default"
        )
        self.events: list[Any] = []
        self.last_enqueued: list[dict[str, Any] | None] = []
        self.errors: list[Exception] = []
        self._changed = threading.Condition()
        receive.setdefault("partition_id", "0")
        receive.setdefault("starting_position", "-1")
        self._thread = threading.Thread(
            target=self.client.receive,
            kwargs={"on_event": self._on_event, "on_error": self._on_error, **receive},
            daemon=True,
        )
        self._thread.start()

    def _on_event(self, context: Any, event: Any) -> None:
        with self._changed:
            self.events.append(event)
            self.last_enqueued.append(context.last_enqueued_event_properties)
            self._changed.notify_all()

    def _on_error(self, context: Any, error: Exception) -> None:
        with self._changed:
            self.errors.append(error)
            self._changed.notify_all()

    def wait(self, predicate: Callable[[], bool], what: str, timeout: float = 15) -> None:
        with self._changed:
            assert self._changed.wait_for(predicate, timeout), (
                f"waited for {what}: {len(self.events)} events, errors {self.errors}"
            )

    def wait_for_events(self, count: int) -> list[Any]:
        self.wait(lambda: len(self.events) >= count, f"{count} events")
        return list(self.events)

    def wait_for_error(self, text: str) -> str:
        self.wait(lambda: any(text in str(e) for e in self.errors), f"an error with {text!r}")
        return next(str(e) for e in self.errors if text in str(e))

    def close(self) -> None:
        self.client.close()
        self._thread.join(10)


@pytest.fixture
def emulator() -> Iterator[EventHubsEmulator]:
    with EventHubsEmulator({"eh1": 2}) as emulator:
        yield emulator


@pytest.fixture
def receiver(emulator: EventHubsEmulator) -> Iterator[Callable[..., _Receiver]]:
    made: list[_Receiver] = []

    def start(**receive: Any) -> _Receiver:
        made.append(_Receiver(emulator, **receive))
        return made[-1]

    yield start
    for each in made:
        each.close()


@pytest.fixture
def send(emulator: EventHubsEmulator) -> Iterator[Callable[..., None]]:
    client = EventHubProducerClient.from_connection_string(
        emulator.connection_string("eh1"), retry_total=0
    )

    def send(*bodies: str, partition_id: str = "0") -> None:
        client.send_batch([EventData(b) for b in bodies], partition_id=partition_id)

    with client:
        yield send


# --- owner level -------------------------------------------------------------------------


def test_a_higher_or_equal_owner_level_takes_the_partition(
    receiver: Callable[..., _Receiver], send: Callable[..., None]
) -> None:
    send("a")
    first = receiver(owner_level=1)
    first.wait_for_events(1)
    second = receiver(owner_level=2)
    assert [e.body_as_str() for e in second.wait_for_events(1)] == ["a"]
    text = first.wait_for_error("higher epoch of '2' is created")
    assert "current receiver 'nil' with epoch '1' is getting disconnected" in text
    assert [e.body_as_str() for e in first.events] == ["a"]
    third = receiver(owner_level=2)  # equal: the newest receiver wins
    third.wait_for_events(1)
    second.wait_for_error("with epoch '2' is getting disconnected")
    send("b")
    assert [e.body_as_str() for e in third.wait_for_events(2)] == ["a", "b"]


def test_lower_and_missing_owner_levels_are_refused_and_the_owner_keeps_receiving(
    receiver: Callable[..., _Receiver], send: Callable[..., None]
) -> None:
    send("a")
    owner = receiver(owner_level=5)
    owner.wait_for_events(1)
    lower, plain = receiver(owner_level=4), receiver()
    lower.wait_for_error("with a higher epoch '5' already exists")
    plain.wait_for_error("created with epoch of '5', and so non-epoch receiver is not allowed")
    send("b")
    assert [e.body_as_str() for e in owner.wait_for_events(2)] == ["a", "b"]
    assert owner.errors == []
    assert lower.events == plain.events == []


def test_an_owner_disconnects_the_shared_receivers_of_its_partition_only(
    receiver: Callable[..., _Receiver], send: Callable[..., None]
) -> None:
    send("a")
    send("z", partition_id="1")
    one, two, elsewhere = receiver(), receiver(), receiver(partition_id="1")
    for each in (one, two, elsewhere):  # without owner levels, receivers share a partition
        each.wait_for_events(1)
    receiver(owner_level=7).wait_for_events(1)
    for each in (one, two):
        each.wait_for_error("epoch of '7', and so non-epoch receiver is not allowed")
    send("y", partition_id="1")
    elsewhere.wait_for_events(2)
    assert elsewhere.errors == []


# --- the runtime metric ------------------------------------------------------------------


def test_last_enqueued_event_properties_are_filled_in_only_when_tracked(
    emulator: EventHubsEmulator, receiver: Callable[..., _Receiver], send: Callable[..., None]
) -> None:
    send("a", "b", "c")
    began = datetime.now(UTC)
    tracking = receiver(track_last_enqueued_event_properties=True)
    plain = receiver()
    tracking.wait_for_events(3)
    last = emulator.published_events("eh1", "0")[-1]
    properties = tracking.last_enqueued[0]
    assert properties is not None
    assert properties["sequence_number"] == 2
    assert properties["offset"] == last.offset
    assert properties["enqueued_time"] == last.enqueued_time
    retrieved = properties["retrieval_time"]
    assert began - timedelta(seconds=1) <= retrieved <= datetime.now(UTC) + timedelta(seconds=1)
    send("d")
    tracking.wait_for_events(4)
    latest = tracking.last_enqueued[-1]
    assert latest is not None
    assert latest["sequence_number"] == 3
    assert plain.wait_for_events(4)
    assert plain.last_enqueued == [None] * 4


@pytest.mark.parametrize("desired", [True, False])
def test_the_runtime_metric_capability_is_offered_back_when_desired(
    desired: bool,
) -> None:
    with EventHubsEmulator({"eh1": 1}, key=None, first_token_timeout=None) as emulator:
        connection = Connection(
            f"amqp://127.0.0.1:{emulator.port}",
            sasl_credential=SASLPlainCredential("emulator", "any"),
            use_tls=False,
        )
        connection.open()
        try:
            session = connection.create_session()
            session.begin()
            link = session.create_receiver_link(
                "eh1/ConsumerGroups/$default/Partitions/0",
                desired_capabilities=[RUNTIME_METRIC.encode()] if desired else None,
                on_transfer=lambda *args: None,
            )
            link.attach()
            deadline = time.monotonic() + 5
            while link.state != LinkState.ATTACHED and time.monotonic() < deadline:
                connection.listen(wait=0.02)
            assert link.state == LinkState.ATTACHED
            offered = link.offered_capabilities
            if desired:
                assert offered in (RUNTIME_METRIC.encode(), [RUNTIME_METRIC.encode()])
            else:
                assert offered is None
        finally:
            connection.close()
            assert connection.state == ConnectionState.END
