"""A producer whose tokens expire while it runs (issue #12), with lifetimes of seconds.

The emulator enforces each token's own expiry (a SAS token's ``se=``, a JWT's put-token
``expiration``) as the service does: when it passes, the links of that hub are detached
and new ones refused (``docs/service-lifetime.md``). The token lifetimes *are* the
scenario here, so the tests wait through them; they publish before and after, and check
that no event failed and every one is stored, or, for an ``AzureSasCredential`` nobody
updates, that the failure says why.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import anyio
import pytest
from azure.core.credentials import AccessToken, AzureSasCredential
from azure.eventhub.aio import _client_base_async

from anyio_eventhubs import (
    AuthenticationError,
    RetryOptions,
    _azure_amqp_link,
    open_streaming_producer,
)
from anyio_eventhubs._azure._one_connection import OneConnection
from anyio_eventhubs._azure_amqp_link import PartitionLink
from anyio_eventhubs._azure_amqp_token import refresh_at
from anyio_eventhubs.testing.emulator import EventHubsEmulator

from ..azure.conftest import namespace, sas_token
from ..emulator_fixtures import _collect_garbage_after_each_test  # noqa: F401
from ..helpers import Recorder
from .conftest import publish_across, start

pytestmark = pytest.mark.anyio

#: seconds a token lives in these tests (azure-eventhub's SAS tokens: 3600)
LIFETIME = 3


def expired_detaches(emulator: EventHubsEmulator) -> list[str]:
    return [condition for info in emulator.connection_info() for condition in info.detached]


@pytest.fixture
def short_sas_tokens(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Connection strings' SAS tokens live :data:`LIFETIME` s; the expiries made, in order."""
    made: list[int] = []
    generate = _client_base_async._generate_sas_token  # type: ignore[attr-defined]

    def short(uri: str, policy: str, key: str, expiry: timedelta | None = None) -> AccessToken:
        token = generate(uri, policy, key, timedelta(seconds=LIFETIME))
        made.append(token.expires_on)
        return token

    monkeypatch.setattr(_client_base_async, "_generate_sas_token", short)
    return made


async def test_connection_string_tokens_are_renewed_before_they_expire(
    stop_after: list[EventHubsEmulator], short_sas_tokens: list[int]
) -> None:
    emulator = start()
    stop_after.append(emulator)
    rec = Recorder()
    await publish_across(emulator, LIFETIME + 1, rec)
    assert not rec.failed
    assert emulator.event_count("eh1") == 8
    assert len(set(short_sas_tokens)) >= 2  # renewed: tokens of later expiries were made
    assert expired_detaches(emulator) == []  # and put before the first one expired
    assert emulator.connections_accepted == 1


class ShortLived:
    """A token credential (as azure-identity's) whose tokens live :data:`LIFETIME` s."""

    def __init__(self) -> None:
        self.calls = 0

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.calls += 1
        return AccessToken(f"header.payload.{self.calls}", int(time.time()) + LIFETIME)


async def test_token_credential_tokens_are_renewed_before_they_expire(
    stop_after: list[EventHubsEmulator],
) -> None:
    emulator = start(key=None)  # JWTs are not checked; their put-token expiration is
    stop_after.append(emulator)
    credential = ShortLived()
    rec = Recorder()
    await publish_across(
        emulator,
        LIFETIME + 1,
        rec,
        fully_qualified_namespace=namespace(emulator),
        eventhub_name="eh1",
        credential=credential,
    )
    assert not rec.failed
    assert emulator.event_count("eh1") == 8
    assert credential.calls >= 3  # the open's two, and at least one renewal
    assert expired_detaches(emulator) == []


async def test_a_token_the_service_drops_early_is_replaced_when_a_link_is_refused(
    stop_after: list[EventHubsEmulator],
) -> None:
    """The service drops the hub's 1-hour token after 1 s: the links are detached, and the
    refused re-attach gets a fresh token put, on the same connection."""
    emulator = start(max_token_lifetime=1.0)
    stop_after.append(emulator)
    rec = Recorder()
    await publish_across(emulator, 1.5, rec)
    assert not rec.failed
    assert emulator.event_count("eh1") == 8
    assert "amqp:link:detach-forced" in expired_detaches(emulator)  # it did happen
    assert emulator.connections_accepted == 1


async def test_a_link_refused_for_an_expired_token_gets_a_fresh_token(
    stop_after: list[EventHubsEmulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A link with no detach of its own to go by (here: reset after the token was dropped)
    is refused at its attach; a fresh token is put and it attaches, on the same connection."""
    emulator = start(max_token_lifetime=1.0)
    stop_after.append(emulator)
    links: list[PartitionLink] = []
    make_link = OneConnection.link

    def recorded(one: OneConnection, producer: Any) -> PartitionLink:
        links.append(make_link(one, producer))
        return links[-1]

    monkeypatch.setattr(OneConnection, "link", recorded)
    puts: list[object] = []
    put = _azure_amqp_link.put_fresh_token  # type: ignore[attr-defined]

    async def counted(shared: Any, seen: int) -> None:
        puts.append(shared)
        await put(shared, seen)

    monkeypatch.setattr(_azure_amqp_link, "put_fresh_token", counted)
    rec = Recorder()
    async with open_streaming_producer(
        emulator.connection_string("eh1"), max_wait_time=0.01, **rec.handlers()
    ) as producer:
        await producer.queue_for_send(b"before", partition_id="0")
        await producer.flush()
        detached = await anyio.to_thread.run_sync(
            lambda: emulator.wait_until(lambda: bool(expired_detaches(emulator)), timeout=5)
        )
        assert detached
        link = next(link for link in links if link._handler.target.endswith("/0"))
        await link._holder._bridge.run(link.reset)  # forgets the detach it saw
        await producer.queue_for_send(b"after", partition_id="0")
        await producer.flush()
    assert not rec.failed
    assert emulator.event_count("eh1") == 2
    assert len(puts) == 1  # after the refusal: the link had no detach to go by
    assert emulator.connections_accepted == 1


class Unchanging:
    """A token credential whose one token is dropped early by the service: no fresh one."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("header.payload.only", int(time.time()) + 3600)


async def test_a_token_refused_again_fails_after_one_new_connection(
    stop_after: list[EventHubsEmulator],
) -> None:
    emulator = start(key=None, max_token_lifetime=1.0)
    stop_after.append(emulator)
    rec = Recorder()
    await publish_across(
        emulator,
        1.5,
        rec,
        fully_qualified_namespace=namespace(emulator),
        eventhub_name="eh1",
        credential=Unchanging(),
        retry_options=RetryOptions(max_retries=3, delay=0.01),
    )
    assert len(rec.published_events) == 4  # before the token was dropped
    assert len(rec.failed_events) == 4
    error = rec.failed[0].exception
    assert isinstance(error, AuthenticationError)
    assert not error.is_transient
    assert "ExpiredToken" in str(error)
    # a new connection for each partition's batch (2), not one for each retry
    assert emulator.connections_accepted <= 3


async def test_an_updated_sas_credential_is_put_before_the_old_signature_expires(
    stop_after: list[EventHubsEmulator],
) -> None:
    emulator = start()
    stop_after.append(emulator)
    credential = AzureSasCredential(sas_token(emulator, "eh1", lifetime=LIFETIME))
    rec = Recorder()
    async with open_streaming_producer(
        fully_qualified_namespace=namespace(emulator),
        eventhub_name="eh1",
        credential=credential,
        max_wait_time=0.01,
        **rec.handlers(),
    ) as producer:
        await producer.queue_for_send(b"before")
        await producer.flush()
        credential.update(sas_token(emulator, "eh1", lifetime=3600))  # as its owner must
        await anyio.sleep(LIFETIME + 1)
        await producer.queue_for_send(b"after")
        await producer.flush()
    assert not rec.failed
    assert emulator.event_count("eh1") == 2
    assert expired_detaches(emulator) == []


async def test_an_expired_sas_credential_fails_clearly(
    stop_after: list[EventHubsEmulator], caplog: pytest.LogCaptureFixture
) -> None:
    emulator = start()
    stop_after.append(emulator)
    credential = AzureSasCredential(sas_token(emulator, "eh1", lifetime=2))
    rec = Recorder()
    await publish_across(
        emulator,
        3,
        rec,
        fully_qualified_namespace=namespace(emulator),
        eventhub_name="eh1",
        credential=credential,
        retry_options=RetryOptions(max_retries=1, delay=0.01),
    )
    assert len(rec.published_events) == 4  # before the expiry
    assert len(rec.failed_events) == 4, "an expired signature cannot be published with"
    error = rec.failed[0].exception
    assert isinstance(error, AuthenticationError)
    assert not error.is_transient
    assert "AzureSasCredential" in str(error)
    assert "update()" in str(error)  # says how to give it a new signature
    assert any("update()" in r.getMessage() for r in caplog.records)  # warned before


async def test_opening_with_an_expired_sas_credential_says_why(
    stop_after: list[EventHubsEmulator],
) -> None:
    emulator = start()
    stop_after.append(emulator)
    credential = AzureSasCredential(sas_token(emulator, "eh1", lifetime=-60))
    with pytest.raises(AuthenticationError) as info:
        async with open_streaming_producer(
            fully_qualified_namespace=namespace(emulator),
            eventhub_name="eh1",
            credential=credential,
        ):
            pass  # pragma: no cover
    assert not info.value.is_transient
    assert "AzureSasCredential" in str(info.value)
    assert "update()" in str(info.value)
    assert "ExpiredToken" in str(info.value)  # and what the service said


@pytest.mark.parametrize(
    ("lifetime", "before_expiry"),
    [(3600, 360.0), (30, 3.0), (10, 2.0), (3, 1.5), (1, 0.5), (0, 0.0)],
)
def test_when_a_token_is_put_again(lifetime: float, before_expiry: float) -> None:
    """A tenth of the lifetime before the expiry, or 2 s if more, but not before half-way."""
    assert refresh_at(1000.0, lifetime) == pytest.approx(1000.0 - before_expiry)
