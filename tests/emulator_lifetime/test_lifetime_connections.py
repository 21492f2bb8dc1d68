# mypy: disable-error-code="no-untyped-call,attr-defined"
"""Expiring tokens, the first-token rule and idle connections, as clients experience them.

azure-eventhub's clients and its low-level pyamqp connection talk to the emulator over a
socket with timings shortened from the service's (seconds instead of minutes). These
tests are synchronous: the emulator serves from its own thread whatever the client's
event loop, as in ``tests/emulator``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.eventhub import EventData, EventHubProducerClient
from azure.eventhub._pyamqp._connection import Connection, ConnectionState
from azure.eventhub._pyamqp.constants import LinkState
from azure.eventhub._pyamqp.sasl import SASLPlainCredential

from anyio_eventhubs.testing.emulator import ConnectionInfo, EventHubsEmulator

DETACH_FORCED = "amqp:link:detach-forced"
#: every rule off: each test turns on the one it checks
_OFF: dict[str, Any] = {
    "first_token_timeout": None,
    "idle_timeout": None,
    "first_link_timeout": None,
    "linkless_timeout": None,
    "link_idle_timeout": None,
}


class _ShortJwt:
    """A token credential whose tokens live ``lifetime`` seconds (azure puts them as jwt,
    with the expiry in the put-token's ``expiration`` property)."""

    def __init__(self, lifetime: float) -> None:
        self.lifetime = lifetime

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("header.payload.signature", int(time.time() + self.lifetime))


def _last(emulator: EventHubsEmulator) -> ConnectionInfo:
    return emulator.connection_info()[-1]


def _pump(connection: Connection, until: Callable[[], bool], seconds: float) -> bool:
    """Let the client read and write (and so send its heartbeats) until ``until()`` holds,
    for at most ``seconds``; returns ``until()``."""
    deadline = time.monotonic() + seconds
    while not until() and time.monotonic() < deadline:
        connection.listen(wait=0.02)
    return until()


@pytest.fixture
def raw_connection() -> Iterator[Callable[[EventHubsEmulator], Connection]]:
    """Open pyamqp connections (SASL PLAIN, no token put) that are closed after the test."""
    made: list[Connection] = []

    def open_to(emulator: EventHubsEmulator) -> Connection:
        connection = Connection(
            f"amqp://127.0.0.1:{emulator.port}",
            sasl_credential=SASLPlainCredential("emulator", "emulator-key"),
            use_tls=False,
        )
        made.append(connection)
        connection.open()
        assert _pump(connection, lambda: connection.state == ConnectionState.OPENED, 5)
        return connection

    yield open_to
    for connection in made:
        connection.close()


# --- tokens ------------------------------------------------------------------------------


def test_the_links_of_an_expired_token_are_detached_and_a_fresh_token_restores_them() -> None:
    with EventHubsEmulator({"eh1": 2}, max_token_lifetime=1.0, **_OFF) as emulator:
        client = EventHubProducerClient.from_connection_string(emulator.connection_string("eh1"))
        with client:
            client.send_event(EventData("before"), partition_id="0")
            assert emulator.wait_until(lambda: DETACH_FORCED in _last(emulator).detached, timeout=5)
            # azure-eventhub re-attaches after the detach and puts a fresh SAS token first
            client.send_event(EventData("after"), partition_id="0")
    assert [e.body for e in emulator.published_events("eh1", "0")] == [b"before", b"after"]


def test_a_jwt_expires_when_its_put_token_expiration_says() -> None:
    with EventHubsEmulator({"eh1": 2}, **_OFF) as emulator:
        client = EventHubProducerClient(
            f"127.0.0.1:{emulator.port}", "eh1", _ShortJwt(2), use_tls=False, retry_total=0
        )
        with client:
            client.send_event(EventData("x"), partition_id="1")
            began = time.monotonic()
            assert emulator.wait_until(lambda: DETACH_FORCED in _last(emulator).detached, timeout=6)
        assert time.monotonic() - began < 4  # at the token's expiry, not at some later check


def test_a_connection_that_puts_no_token_in_time_is_closed(
    raw_connection: Callable[[EventHubsEmulator], Connection],
) -> None:
    with EventHubsEmulator({"eh1": 1}, **{**_OFF, "first_token_timeout": 0.5}) as emulator:
        connection = raw_connection(emulator)
        assert _pump(connection, lambda: connection.state == ConnectionState.END, 5)
        assert _last(emulator).close_condition == "amqp:unauthorized-access"
        assert connection._error is not None
        assert "within 0.5 seconds of connecting" in str(connection._error)


def test_a_connection_that_put_a_token_is_not_closed_for_lack_of_one() -> None:
    with EventHubsEmulator({"eh1": 1}, **{**_OFF, "first_token_timeout": 0.5}) as emulator:
        client = EventHubProducerClient.from_connection_string(
            emulator.connection_string("eh1"), retry_total=0
        )
        with client:
            client.send_event(EventData("x"), partition_id="0")
            # three times the rule's time: the connection is not closed
            assert not emulator.wait_until(
                lambda: _last(emulator).close_condition is not None, timeout=1.5
            )
            assert _last(emulator).open


# --- idle connections --------------------------------------------------------------------


def test_the_open_frame_advertises_the_idle_timeout_the_emulator_enforces(
    raw_connection: Callable[[EventHubsEmulator], Connection],
) -> None:
    with EventHubsEmulator({"eh1": 1}, **{**_OFF, "idle_timeout": 0.5}) as emulator:
        connection = raw_connection(emulator)
        assert connection._remote_idle_timeout == 0.5
        began = time.monotonic()
        # the client stays silent (nothing calls listen): no heartbeat reaches the emulator
        assert emulator.wait_until(lambda: not _last(emulator).open, timeout=5)
        assert 0.4 < time.monotonic() - began < 3
        assert _last(emulator).close_condition == "amqp:resource-limit-exceeded"


def test_empty_frames_keep_an_idle_connection_open(
    raw_connection: Callable[[EventHubsEmulator], Connection],
) -> None:
    with EventHubsEmulator({"eh1": 1}, **{**_OFF, "idle_timeout": 0.5}) as emulator:
        connection = raw_connection(emulator)
        # pyamqp sends an empty frame at half the advertised timeout while it is pumped
        assert not _pump(connection, lambda: connection.state != ConnectionState.OPENED, 2.0)
        assert _last(emulator).open


def test_the_idle_timeout_is_off_when_none(
    raw_connection: Callable[[EventHubsEmulator], Connection],
) -> None:
    with EventHubsEmulator({"eh1": 1}, **_OFF) as emulator:
        connection = raw_connection(emulator)
        assert connection._remote_idle_timeout is None


def test_a_connection_with_no_link_is_closed_by_the_link_tracker(
    raw_connection: Callable[[EventHubsEmulator], Connection],
) -> None:
    with EventHubsEmulator({"eh1": 1}, **{**_OFF, "first_link_timeout": 0.5}) as emulator:
        connection = raw_connection(emulator)
        assert _pump(connection, lambda: connection.state == ConnectionState.END, 5)
        assert _last(emulator).close_condition == "amqp:connection:forced"
        assert "inactive for more than the allowed 500 milliseconds" in str(connection._error)


def test_a_connection_whose_links_closed_is_closed_by_the_link_tracker(
    raw_connection: Callable[[EventHubsEmulator], Connection],
) -> None:
    with EventHubsEmulator({"eh1": 1}, **{**_OFF, "linkless_timeout": 0.5}) as emulator:
        connection = raw_connection(emulator)
        session = connection.create_session()
        session.begin()
        link = session.create_sender_link("$cbs")
        link.attach()
        assert _pump(connection, lambda: link.state == LinkState.ATTACHED, 5)
        link.detach(close=True)
        began = time.monotonic()
        assert _pump(connection, lambda: connection.state == ConnectionState.END, 5)
        assert time.monotonic() - began > 0.4
        assert _last(emulator).close_condition == "amqp:connection:forced"


# --- idle links --------------------------------------------------------------------------


def test_a_link_that_carried_no_transfer_for_the_idle_time_is_detached() -> None:
    with EventHubsEmulator({"eh1": 1}, **{**_OFF, "link_idle_timeout": 0.5}) as emulator:
        client = EventHubProducerClient.from_connection_string(emulator.connection_string("eh1"))
        with client:
            client.send_event(EventData("before"), partition_id="0")
            began = time.monotonic()
            assert emulator.wait_until(lambda: DETACH_FORCED in _last(emulator).detached, timeout=5)
            assert time.monotonic() - began > 0.4
            client.send_event(EventData("after"), partition_id="0")  # azure re-attaches
        assert emulator.event_count("eh1") == 2
