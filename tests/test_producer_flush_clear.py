"""flush() is a barrier; clear() drops and reports; neither may be called from a handler."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from anyio_eventhubs import (
    EventClearedError,
    PublishFailedEventArgs,
    PublishSucceededEventArgs,
    open_streaming_producer,
)
from anyio_eventhubs.testing import InMemoryEventHub

from .helpers import Recorder, trio_autojump

pytestmark = pytest.mark.anyio


async def test_flush_waits_for_in_flight_batches() -> None:
    hub = InMemoryEventHub(2)
    hub.hold_sends()
    rec = Recorder()
    async with open_streaming_producer(
        transport=hub, max_wait_time=None, **rec.handlers()
    ) as producer:
        for i in range(10):
            await producer.queue_for_send(b"%d" % i)
        flushed = anyio.Event()

        async def flush() -> None:
            await producer.flush()
            flushed.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(flush)
            await hub.wait_sends_in_flight(2)
            await anyio.wait_all_tasks_blocked()
            assert not flushed.is_set()
            hub.release_sends()
        assert rec.outcomes() == 10
        assert producer.total_queued_event_count == 0


@trio_autojump()
async def test_flush_sends_partial_batches_at_once() -> None:
    hub = InMemoryEventHub(4)
    async with open_streaming_producer(transport=hub, max_wait_time=1000) as producer:
        await producer.queue_for_send(b"a")
        start = anyio.current_time()
        await producer.flush()
        assert anyio.current_time() == start
        assert hub.published_count() == 1


async def test_flush_does_not_wait_for_events_queued_after_it() -> None:
    hub = InMemoryEventHub(1)
    hub.hold_sends()
    async with open_streaming_producer(transport=hub, max_wait_time=None) as producer:
        await producer.queue_for_send(b"before")
        done = anyio.Event()

        async def flush() -> None:
            await producer.flush()
            done.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(flush)
            await hub.wait_sends_in_flight(1)
            await producer.queue_for_send(b"after")  # queueing goes on during a flush
            hub.release_sends()
            await done.wait()
            # "after" may still be queued: the flush only covered "before"
            assert hub.published_bodies("0")[0] == b"before"


async def test_flush_with_nothing_queued_returns() -> None:
    async with open_streaming_producer(transport=InMemoryEventHub(1)) as producer:
        await producer.flush()
        assert producer.total_queued_event_count == 0


async def test_clear_drops_queued_and_cancels_in_flight_events() -> None:
    hub = InMemoryEventHub(2, max_message_size=100)
    hub.hold_sends(["0"])
    rec = Recorder()
    async with open_streaming_producer(
        transport=hub, max_wait_time=None, **rec.handlers()
    ) as producer:
        for i in range(12):
            await producer.queue_for_send(b"%02d" % i, partition_id="0")
        await producer.queue_for_send(b"other", partition_id="1")
        # a full batch of partition 0 goes out and hangs; the rest stays queued
        await hub.wait_sends_in_flight(1)
        in_flight = producer.statistics().in_flight
        assert in_flight > 0
        dropped = await producer.clear()
        assert dropped == 13
        assert producer.total_queued_event_count == 0
        await producer.queue_for_send(b"fresh", partition_id="1")
    assert hub.published_bodies("0") == []
    assert hub.published_bodies("1") == [b"fresh"]
    assert len(rec.failed_events) == 13
    errors = [args.exception for args in rec.failed]
    assert all(isinstance(e, EventClearedError) for e in errors)
    maybe = [a for a in rec.failed if a.exception.may_have_been_published]  # type: ignore[attr-defined]
    assert [len(a.events) for a in maybe] == [in_flight]
    assert "may have reached the service" in str(maybe[0].exception)


async def test_clear_without_handler_raises_nothing_later() -> None:
    hub = InMemoryEventHub(1)
    async with open_streaming_producer(transport=hub, max_wait_time=None) as producer:
        await producer.queue_for_send(b"x")
        assert await producer.clear() == 1
        await producer.flush()
    assert hub.published_count() == 0


async def test_clear_with_nothing_queued_returns_zero() -> None:
    async with open_streaming_producer(transport=InMemoryEventHub(1)) as producer:
        assert await producer.clear() == 0


@pytest.mark.parametrize("method", ["flush", "clear", "aclose"])
async def test_flush_clear_and_close_from_a_handler_are_refused(method: str) -> None:
    seen: list[BaseException] = []

    async def handler(args: PublishSucceededEventArgs) -> None:
        try:
            await getattr(producer, method)()
        except RuntimeError as exc:
            seen.append(exc)

    async with open_streaming_producer(
        transport=InMemoryEventHub(1), on_publish_succeeded=handler
    ) as producer:
        await producer.queue_for_send(b"x")
        await producer.flush()
    assert len(seen) == 1
    assert f"{method}() was called from an on_publish_succeeded/on_publish_failed handler" in str(
        seen[0]
    )


async def test_force_resend_republishes_ahead_of_later_batches() -> None:
    from anyio_eventhubs import AuthenticationError

    hub = InMemoryEventHub(1, max_message_size=100)
    hub.fail_next_sends(1, error=AuthenticationError)  # permanent: no retry
    outcomes: list[tuple[str, list[Any]]] = []

    def failed(args: PublishFailedEventArgs) -> None:
        outcomes.append(("failed", list(args.events)))
        args.force_resend()

    def succeeded(args: PublishSucceededEventArgs) -> None:
        outcomes.append(("ok", list(args.events)))

    async with open_streaming_producer(
        transport=hub, max_wait_time=None, on_publish_failed=failed, on_publish_succeeded=succeeded
    ) as producer:
        for i in range(15):
            await producer.queue_for_send(b"%02d" % i)
    first = outcomes[0]
    assert first[0] == "failed"
    assert outcomes[1] == ("ok", first[1])
    bodies = hub.published_bodies("0")
    assert bodies == [b"%02d" % i for i in range(15)]


async def test_force_resend_after_the_handler_returned_is_an_error() -> None:
    from anyio_eventhubs import AuthenticationError

    hub = InMemoryEventHub(1)
    hub.fail_next_sends(1, error=AuthenticationError)
    rec = Recorder()
    async with open_streaming_producer(transport=hub, **rec.handlers()) as producer:
        await producer.queue_for_send(b"x")
        await producer.flush()
    with pytest.raises(RuntimeError, match="from within the on_publish_failed handler"):
        rec.failed[0].force_resend()


def test_force_resend_on_hand_made_arguments_is_an_error() -> None:
    args = PublishFailedEventArgs([b"x"], "0", ValueError("boom"))
    with pytest.raises(RuntimeError, match="force_resend"):
        args.force_resend()
    assert "1 events" in repr(args)
