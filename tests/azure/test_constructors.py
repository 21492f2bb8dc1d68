"""Every way to reach a hub: connection string, each credential type, an existing client."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from azure.core.credentials import AccessToken, AzureNamedKeyCredential, AzureSasCredential
from azure.eventhub.aio import EventHubProducerClient

from anyio_eventhubs import AuthenticationError, open_streaming_producer
from anyio_eventhubs.testing.emulator import EventHubsEmulator

from .conftest import namespace, sas_token

pytestmark = pytest.mark.anyio

JWT_SCOPE = "https://eventhubs.azure.net//.default"


class SyncTokenCredential:
    """A token credential with azure-core's sync ``get_token`` protocol."""

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[str, ...], str]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.calls.append((scopes, threading.current_thread().name))
        return AccessToken("fake-jwt-sync", int(time.time()) + 3600)


class AsyncTokenCredential:
    """A token credential with azure-core's async ``get_token`` protocol."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.calls.append(scopes)
        return AccessToken("fake-jwt-async", int(time.time()) + 3600)


class RecordingClient(EventHubProducerClient):
    """The official aio client, counting ``close()`` calls."""

    closes = 0

    async def close(self, **kwargs: Any) -> None:
        self.closes += 1
        await super().close(**kwargs)


async def publish_one(emulator: EventHubsEmulator, **options: Any) -> None:
    async with open_streaming_producer(**options) as producer:
        await producer.queue_for_send(b"hello", partition_id="1")
    assert [e.body for e in emulator.published_events("eh1", "1")] == [b"hello"]


async def test_connection_string_with_entity_path(emulator: EventHubsEmulator) -> None:
    await publish_one(emulator, connection_string=emulator.connection_string("eh1"))


async def test_connection_string_without_entity_path(emulator: EventHubsEmulator) -> None:
    await publish_one(emulator, connection_string=emulator.connection_string(), eventhub_name="eh1")


async def test_named_key_credential(emulator: EventHubsEmulator) -> None:
    assert emulator.key is not None
    await publish_one(
        emulator,
        fully_qualified_namespace=namespace(emulator),
        eventhub_name="eh1",
        credential=AzureNamedKeyCredential(emulator.key_name, emulator.key),
    )


async def test_named_key_credential_with_a_wrong_key_is_refused(
    emulator: EventHubsEmulator,
) -> None:
    with pytest.raises(AuthenticationError):
        await publish_one(
            emulator,
            fully_qualified_namespace=namespace(emulator),
            eventhub_name="eh1",
            credential=AzureNamedKeyCredential(emulator.key_name, "wrong"),
            open_timeout=10,
        )


async def test_sas_credential(emulator: EventHubsEmulator) -> None:
    await publish_one(
        emulator,
        fully_qualified_namespace=namespace(emulator),
        eventhub_name="eh1",
        credential=AzureSasCredential(sas_token(emulator, "eh1")),
    )


async def test_sync_token_credential_runs_off_the_event_loop_thread(
    emulator: EventHubsEmulator,
) -> None:
    credential = SyncTokenCredential()
    await publish_one(
        emulator,
        fully_qualified_namespace=namespace(emulator),
        eventhub_name="eh1",
        credential=credential,
    )
    assert credential.calls
    loop_threads = {threading.current_thread().name, "anyio-eventhubs asyncio bridge"}
    for scopes, thread_name in credential.calls:
        assert scopes == (JWT_SCOPE,)
        assert thread_name not in loop_threads


async def test_async_token_credential(emulator: EventHubsEmulator) -> None:
    credential = AsyncTokenCredential()
    await publish_one(
        emulator,
        fully_qualified_namespace=namespace(emulator),
        eventhub_name="eh1",
        credential=credential,
    )
    assert credential.calls
    assert set(credential.calls) == {(JWT_SCOPE,)}


async def test_an_existing_client_is_used_and_left_open(emulator: EventHubsEmulator) -> None:
    client = RecordingClient.from_connection_string(emulator.connection_string("eh1"))
    assert isinstance(client, RecordingClient)
    try:
        await publish_one(emulator, client=client)
        assert client.closes == 0
        # still usable by its owner, here through a second producer
        async with open_streaming_producer(client=client, eventhub_name="eh1") as producer:
            await producer.queue_for_send(b"again", partition_id="1")
        assert client.closes == 0
        assert [e.body for e in emulator.published_events("eh1", "1")] == [b"hello", b"again"]
    finally:
        await client.close()
