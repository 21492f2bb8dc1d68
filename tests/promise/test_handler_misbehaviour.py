"""Handlers that misbehave cannot break the promise (issue #16, items 4, 5 and 7)."""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import pytest
from anyio.lowlevel import checkpoint

from anyio_eventhubs import (
    NotFoundError,
    PublishFailedEventArgs,
    PublishSucceededEventArgs,
    open_streaming_producer,
)
from anyio_eventhubs.testing import InMemoryEventHub

from ..helpers import Recorder

pytestmark = pytest.mark.anyio


@pytest.mark.timeout(20)
async def test_a_handler_that_always_resends_does_not_freeze_the_loop() -> None:
    # the transport fails without yielding and the handler resends forever: each
    # attempt must still let other tasks run, so the body goes on and can end it
    hub = InMemoryEventHub(1)
    resends = 0

    def on_failed(args: PublishFailedEventArgs) -> None:
        nonlocal resends
        resends += 1
        args.force_resend()

    async with open_streaming_producer(
        transport=hub, max_wait_time=0, on_publish_failed=on_failed
    ) as producer:
        hub.fail_next_sends(10**9, error=NotFoundError)
        await producer.queue_for_send(b"x")
        while resends < 50:
            await checkpoint()  # this returns only if the resend loop yields
        hub.clear_faults()
        await producer.flush()
    assert hub.published_bodies("0") == [b"x"]


async def test_a_handler_raising_a_stray_cancellation_does_not_cancel_the_caller(
    backend_name: str,
) -> None:
    # on asyncio an async handler that awaits a future cancelled elsewhere raises
    # CancelledError; nothing cancelled the producer, so it is a handler error
    calls = 0

    async def on_succeeded(args: PublishSucceededEventArgs) -> None:
        nonlocal calls
        calls += 1
        if backend_name == "asyncio":
            future = asyncio.get_running_loop().create_future()
            future.cancel()
            await future
        else:
            import trio

            raise trio.Cancelled._create()  # what the same bug would raise under Trio

    hub = InMemoryEventHub(1)
    with anyio.fail_after(10):
        async with open_streaming_producer(
            transport=hub, max_wait_time=0, on_publish_succeeded=on_succeeded
        ) as producer:
            for i in range(20):
                await producer.queue_for_send(b"%d" % i)
                await producer.flush()
            queued_all = True
    assert queued_all
    assert calls == 20
    assert hub.published_count() == 20


async def test_a_failure_handler_that_empties_its_events_then_resends_loses_none() -> None:
    hub = InMemoryEventHub(1)
    rec = Recorder()

    def on_failed(args: PublishFailedEventArgs) -> None:
        rec.on_failed(args)
        assert isinstance(args.events, list)
        args.events.clear()
        args.force_resend()

    async with open_streaming_producer(
        transport=hub,
        max_wait_time=None,
        on_publish_succeeded=rec.on_succeeded,
        on_publish_failed=on_failed,
    ) as producer:
        hub.fail_next_sends(1, error=NotFoundError)
        for i in range(5):
            await producer.queue_for_send(b"%d" % i)
    assert rec.published_events == [b"%d" % i for i in range(5)]
    assert hub.published_count() == 5


async def test_a_success_handler_that_mutates_its_events_does_not_change_counts() -> None:
    hub = InMemoryEventHub(1)
    seen: list[Any] = []

    def on_succeeded(args: PublishSucceededEventArgs) -> None:
        seen.extend(args.events)
        assert isinstance(args.events, list)
        args.events.append(b"bogus")

    async with open_streaming_producer(
        transport=hub, max_wait_time=None, on_publish_succeeded=on_succeeded
    ) as producer:
        for i in range(5):
            await producer.queue_for_send(b"%d" % i)
        await producer.flush()
        assert producer.statistics().published == 5
    assert seen == [b"%d" % i for i in range(5)]
