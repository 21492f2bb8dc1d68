"""CBS authentication and ``$management`` reads, as azure-eventhub experiences them."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.eventhub import EventData, EventHubProducerClient
from azure.eventhub.exceptions import AuthenticationError

from anyio_eventhubs.testing.emulator import EventHubsEmulator

#: the ``producer`` fixture of conftest.py (which is not importable)
ProducerFactory = Callable[..., EventHubProducerClient]


class _JwtCredential:
    """A token credential: azure-eventhub puts its token with type ``jwt``."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("header.payload.signature", int(time.time()) + 3600)


def test_a_wrong_key_fails_fast_with_an_authentication_error(emulator: EventHubsEmulator) -> None:
    wrong = emulator.connection_string("eh1").replace("emulator-key", "not-the-key")
    began = time.monotonic()
    with (
        EventHubProducerClient.from_connection_string(wrong, retry_total=0) as client,
        pytest.raises(AuthenticationError, match="401") as raised,
    ):
        client.send_event(EventData("x"), partition_id="0")
    assert time.monotonic() - began < 5
    assert "signature does not match" in str(raised.value)
    assert emulator.event_count("eh1") == 0


def test_without_a_key_any_sas_token_is_accepted(producer: ProducerFactory) -> None:
    with EventHubsEmulator({"open": 1}, key=None) as emulator:
        assert "SharedAccessKey=unused" in emulator.connection_string()
        any_key = emulator.connection_string("open").replace("unused", "whatever")
        with EventHubProducerClient.from_connection_string(any_key, retry_total=0) as client:
            client.send_event(EventData("x"), partition_id="0")
        assert emulator.event_count("open") == 1


def test_token_credentials_put_jwts_which_are_accepted(emulator: EventHubsEmulator) -> None:
    client = EventHubProducerClient(
        f"127.0.0.1:{emulator.port}", "eh1", _JwtCredential(), use_tls=False, retry_total=0
    )
    with client:
        client.send_event(EventData("by jwt"), partition_id="0")
    assert [e.body for e in emulator.published_events("eh1", "0")] == [b"by jwt"]


def test_management_reports_hub_and_partition_properties(
    emulator: EventHubsEmulator, producer: ProducerFactory
) -> None:
    client = producer()
    hub = client.get_eventhub_properties()
    assert hub["eventhub_name"] == "eh1"
    assert hub["partition_ids"] == ["0", "1", "2", "3"]
    assert hub["created_at"].tzinfo is not None
    client.send_batch([EventData("a"), EventData("b")], partition_id="3")

    last = emulator.published_events("eh1", "3")[-1]
    assert client.get_partition_properties("3") == {
        "eventhub_name": "eh1",
        "id": "3",
        "beginning_sequence_number": 0,
        "last_enqueued_sequence_number": 1,
        "last_enqueued_offset": last.offset,
        "is_empty": False,
        "last_enqueued_time_utc": last.enqueued_time,
    }
    empty = client.get_partition_properties("0")
    assert (empty["is_empty"], empty["last_enqueued_sequence_number"]) == (True, -1)
