# mypy: disable-error-code="no-untyped-call,attr-defined"
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
EPOCH = "com.microsoft:epoch"


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


def test_a_higher_owner_level_takes_the_partition_from_azure_eventhubs_consumer(
    receiver: Callable[..., _Receiver], send: Callable[..., None]
) -> None:
    send("a")
    first = receiver(owner_level=1)
    first.wait_for_events(1)
    second = receiver(owner_level=2)
    assert [e.body_as_str() for e in second.wait_for_events(1)] == ["a"]
    text = first.wait_for_error("higher epoch of '2' is created")
    assert "current receiver 'nil' with epoch '1' is getting disconnected" in text
    send("b")
    assert [e.body_as_str() for e in second.wait_for_events(2)] == ["a", "b"]
    assert [e.body_as_str() for e in first.events] == ["a"]


class _Links:
    """Receiver links on one pyamqp connection (no token needed): cheap owner-level probes."""

    def __init__(self, emulator: EventHubsEmulator) -> None:
        self.connection = Connection(
            f"amqp://127.0.0.1:{emulator.port}",
            sasl_credential=SASLPlainCredential("emulator", "any"),
            use_tls=False,
        )
        self.connection.open()
        self.session = self.connection.create_session()
        self.session.begin()

    def attach(
        self, epoch: int | None = None, partition: str = "0", group: str = "$default"
    ) -> Any:
        link = self.session.create_receiver_link(
            f"eh1/ConsumerGroups/{group}/Partitions/{partition}",
            properties=None if epoch is None else {EPOCH: epoch},
            on_transfer=lambda *args: None,
        )
        link.attach()
        self.pump(lambda: link.state in (LinkState.ATTACHED, LinkState.ERROR))
        return link

    def pump(self, until: Callable[[], bool]) -> None:
        deadline = time.monotonic() + 5
        while not until() and time.monotonic() < deadline:
            self.connection.listen(wait=0.01)
        assert until()

    def stolen(self, link: Any, text: str) -> None:
        """Wait until the emulator detached ``link`` with ``amqp:link:stolen`` and ``text``."""
        self.pump(lambda: link.state == LinkState.ERROR)
        assert link._error.condition == b"amqp:link:stolen"
        assert text in str(link._error.description)


@pytest.fixture
def links() -> Iterator[_Links]:
    with EventHubsEmulator({"eh1": 2}, key=None, first_token_timeout=None) as emulator:
        made = _Links(emulator)
        try:
            yield made
        finally:
            made.connection.close()


def test_an_equal_owner_level_takes_the_partition_too(links: _Links) -> None:
    first = links.attach(epoch=3)
    second = links.attach(epoch=3)
    links.stolen(
        first, "higher epoch of '3' is created hence current receiver 'nil' with epoch '3'"
    )
    assert second.state == LinkState.ATTACHED


def test_a_lower_owner_level_is_refused_and_the_owner_keeps_the_partition(links: _Links) -> None:
    owner = links.attach(epoch=5)
    lower = links.attach(epoch=4)
    links.stolen(lower, "Receiver 'nil' with a higher epoch '5' already exists.")
    assert "Receiver 'nil' with epoch 4 cannot be created" in str(lower._error.description)
    assert owner.state == LinkState.ATTACHED


def test_a_receiver_without_owner_level_is_refused_while_an_owner_exists(links: _Links) -> None:
    owner = links.attach(epoch=0)
    plain = links.attach()
    links.stolen(plain, "created with epoch of '0', and so non-epoch receiver is not allowed")
    assert owner.state == LinkState.ATTACHED


def test_an_owner_disconnects_the_shared_receivers_of_its_partition_and_group_only(
    links: _Links,
) -> None:
    one, two = links.attach(), links.attach()  # without owner levels, receivers share
    elsewhere, other_group = links.attach(partition="1"), links.attach(group="other")
    assert {link.state for link in (one, two, elsewhere, other_group)} == {LinkState.ATTACHED}
    owner = links.attach(epoch=7)
    for link in (one, two):
        links.stolen(link, "epoch of '7', and so non-epoch receiver is not allowed")
    assert {link.state for link in (owner, elsewhere, other_group)} == {LinkState.ATTACHED}


def test_a_closed_owner_leaves_the_partition_free(links: _Links) -> None:
    owner = links.attach(epoch=9)
    owner.detach(close=True)
    links.pump(lambda: owner.state == LinkState.DETACHED)
    assert links.attach().state == LinkState.ATTACHED  # no epoch: allowed again
    assert links.attach(epoch=1).state == LinkState.ATTACHED  # a lower epoch too


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
