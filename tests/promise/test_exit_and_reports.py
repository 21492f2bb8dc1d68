"""What leaves the block, and what a failure report says (issue #16, items 3 and 11)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest

from anyio_eventhubs import (
    ConnectionLostError,
    PublishError,
    RetryOptions,
    ServerBusyError,
    open_streaming_producer,
)
from anyio_eventhubs.testing import InMemoryEventHub
from anyio_eventhubs.transport import TransportConnection

from ..helpers import Recorder

pytestmark = pytest.mark.anyio

FAST = RetryOptions(max_retries=3, delay=0, jitter=0)


class _CloseFails:
    """A custom transport whose connection's close raises ``OSError``."""

    def __init__(self) -> None:
        self.hub = InMemoryEventHub(2)

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[TransportConnection]:
        try:
            async with self.hub.connect() as connection:
                yield connection
        finally:
            raise OSError("the socket was already gone")


async def test_a_failing_transport_close_does_not_replace_a_cancellation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    transport = _CloseFails()
    with anyio.CancelScope() as scope:
        async with open_streaming_producer(transport=transport) as producer:
            await producer.queue_for_send(b"x")
            scope.cancel()
            await anyio.sleep_forever()
    assert scope.cancelled_caught
    assert "closing the transport failed on cancellation" in caplog.text
    assert any(r.levelno == logging.ERROR for r in caplog.records)


async def test_a_failing_transport_close_is_raised_on_a_normal_exit() -> None:
    with pytest.raises(OSError, match="already gone"):
        async with open_streaming_producer(transport=_CloseFails()) as producer:
            await producer.queue_for_send(b"x")


async def test_a_failure_after_an_ambiguous_attempt_says_it_may_have_been_published() -> None:
    # first attempt: the connection is lost (the service may have stored the batch);
    # the retries are refused plainly; the report carries the last refusal, and must
    # still say the events may have been stored
    hub = InMemoryEventHub(1)
    rec = Recorder()
    async with open_streaming_producer(
        transport=hub, max_wait_time=None, retry_options=FAST, **rec.handlers()
    ) as producer:
        hub.fail_next_sends(1, error=ConnectionLostError)
        hub.fail_next_sends(3, error=ServerBusyError)
        await producer.queue_for_send(b"a")
        await producer.flush()
        hub.fail_next_sends(4, error=ServerBusyError)  # refused every time: not stored
        await producer.queue_for_send(b"b")
    assert [(a.events, type(a.exception)) for a in rec.failed] == [
        ([b"a"], ServerBusyError),
        ([b"b"], ServerBusyError),
    ]
    assert [a.may_have_been_published for a in rec.failed] == [True, False]


async def test_an_unhandled_failure_says_whether_it_may_have_been_published() -> None:
    hub = InMemoryEventHub(1)
    async with open_streaming_producer(
        transport=hub, max_wait_time=None, retry_options=FAST
    ) as producer:
        hub.fail_next_sends(1, error=ConnectionLostError)
        hub.fail_next_sends(3, error=ServerBusyError)
        await producer.queue_for_send(b"a")
        with pytest.raises(PublishError) as caught:
            await producer.flush()
        assert caught.value.may_have_been_published
        assert "may have been stored" in str(caught.value)
        hub.fail_next_sends(4, error=ServerBusyError)
        await producer.queue_for_send(b"b")
        with pytest.raises(PublishError) as caught:
            await producer.flush()
        assert not caught.value.may_have_been_published
        assert "were not published" in str(caught.value)
