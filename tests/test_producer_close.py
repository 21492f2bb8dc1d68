"""Closing, and what leaves the ``async with`` block (the exception-group policy)."""

from __future__ import annotations

import logging

import anyio
import pytest

from anyio_eventhubs import (
    AuthenticationError,
    EventClearedError,
    ProducerClosedError,
    PublishError,
    PublishSucceededEventArgs,
    RetryOptions,
    ServerBusyError,
    open_streaming_producer,
)
from anyio_eventhubs.testing import InMemoryEventHub

from .helpers import Recorder, one_event_batch_hub, padded, trio_autojump

pytestmark = pytest.mark.anyio


async def test_normal_exit_publishes_everything_then_closes() -> None:
    hub = InMemoryEventHub(3)
    async with open_streaming_producer(transport=hub, max_wait_time=None) as producer:
        for i in range(100):
            await producer.queue_for_send(b"%d" % i)
    assert hub.published_count() == 100
    assert producer.is_closed
    assert producer.total_queued_event_count == 0


async def test_queueing_after_close_is_a_clear_error() -> None:
    async with open_streaming_producer(transport=InMemoryEventHub(1)) as producer:
        await producer.aclose()
        assert producer.is_closed
        with pytest.raises(ProducerClosedError, match="is closed"):
            await producer.queue_for_send(b"x")
        with pytest.raises(ProducerClosedError):
            producer.try_queue_for_send(b"x")
    with pytest.raises(ProducerClosedError):
        await producer.queue_for_send(b"x")


async def test_aclose_is_idempotent() -> None:
    hub = InMemoryEventHub(1)
    async with open_streaming_producer(transport=hub) as producer:
        await producer.queue_for_send(b"x")
        await producer.aclose()
        await producer.aclose()
        assert hub.published_count() == 1
    await producer.aclose()


async def test_a_waiting_queue_for_send_fails_when_the_producer_closes() -> None:
    hub = one_event_batch_hub()
    hub.hold_sends()
    errors: list[BaseException] = []
    # the held events are dropped by the close (close_timeout=0): with no failure handler,
    # that is raised from the exit (one error per batch: three batches of one event)
    with pytest.raises(ExceptionGroup) as raised:
        async with open_streaming_producer(
            transport=hub, max_queued_events=1, close_timeout=0
        ) as producer:
            await producer.queue_for_send(padded(b"first"))
            await hub.wait_sends_in_flight(1)
            await producer.queue_for_send(padded(b"head batch"))
            await producer.queue_for_send(padded(b"behind it: full"))

            async def blocked() -> None:
                try:
                    await producer.queue_for_send(padded(b"second"))
                except ProducerClosedError as exc:
                    errors.append(exc)

            async with anyio.create_task_group() as tg:
                tg.start_soon(blocked)
                await hub.wait_sends_in_flight(1)
                await anyio.wait_all_tasks_blocked()
                with anyio.CancelScope() as scope:  # cancel aclose's flush: the rest is dropped
                    tg.start_soon(hub_release_later, scope)
                    await producer.aclose()
    assert len(errors) == 1
    assert all(isinstance(e, PublishError) for e in raised.value.exceptions)


async def hub_release_later(scope: anyio.CancelScope) -> None:
    await anyio.wait_all_tasks_blocked()
    scope.cancel()


async def test_body_error_propagates_unchanged_after_publishing_what_was_queued() -> None:
    hub = InMemoryEventHub(2)
    with pytest.raises(KeyError, match="boom"):
        async with open_streaming_producer(transport=hub, max_wait_time=None) as producer:
            await producer.queue_for_send(b"x")
            raise KeyError("boom")
    assert hub.published_count() == 1


@trio_autojump()
async def test_body_error_with_a_hung_hub_reports_the_rest_after_close_timeout() -> None:
    hub = InMemoryEventHub(1)
    hub.hold_sends()
    rec = Recorder()
    start = anyio.current_time()
    with pytest.raises(KeyError):
        async with open_streaming_producer(
            transport=hub, max_wait_time=0, close_timeout=5, **rec.handlers()
        ) as producer:
            await producer.queue_for_send(b"x")
            await hub.wait_sends_in_flight(1)
            raise KeyError("boom")
    assert anyio.current_time() - start == pytest.approx(5)
    assert len(rec.failed) == 1
    error = rec.failed[0].exception
    assert isinstance(error, EventClearedError)
    assert error.may_have_been_published
    assert "closed before" in str(error)


async def test_cancellation_still_publishes_what_is_queued_and_propagates() -> None:
    hub = InMemoryEventHub(2)
    rec = Recorder()
    with anyio.CancelScope() as scope:
        async with open_streaming_producer(
            transport=hub, max_wait_time=None, **rec.handlers()
        ) as producer:
            for i in range(10):
                await producer.queue_for_send(b"%d" % i)
            scope.cancel()
            await anyio.sleep_forever()
    assert scope.cancelled_caught
    assert hub.published_count() == 10
    assert rec.outcomes() == 10


@trio_autojump()
async def test_cancellation_with_a_hung_hub_reports_in_flight_events_failed() -> None:
    hub = InMemoryEventHub(1)
    hub.hold_sends()
    rec = Recorder()
    with anyio.CancelScope() as scope:
        async with open_streaming_producer(
            transport=hub, max_wait_time=0, close_timeout=1, **rec.handlers()
        ) as producer:
            await producer.queue_for_send(b"x")
            await hub.wait_sends_in_flight(1)
            scope.cancel()
            await anyio.sleep_forever()
    assert scope.cancelled_caught
    assert [type(a.exception) for a in rec.failed] == [EventClearedError]
    assert producer.total_queued_event_count == 0


async def test_cancellation_logs_unhandled_failures_instead_of_raising(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hub = InMemoryEventHub(1)
    hub.fail_next_sends(1, error=AuthenticationError)
    with anyio.CancelScope() as scope:
        async with open_streaming_producer(transport=hub, max_wait_time=0) as producer:
            await producer.queue_for_send(b"x")
            await anyio.wait_all_tasks_blocked()
            scope.cancel()
            await anyio.sleep_forever()
    assert scope.cancelled_caught
    assert any("unpublished on cancellation" in r.message for r in caplog.records)


async def test_unhandled_failure_alone_leaves_as_a_bare_publish_error() -> None:
    hub = InMemoryEventHub(1)
    hub.fail_next_sends(1, error=AuthenticationError("bad key"))
    with pytest.raises(PublishError) as info:
        async with open_streaming_producer(transport=hub) as producer:
            await producer.queue_for_send(b"x", partition_id="0")
    error = info.value
    assert error.events == [b"x"]
    assert error.partition_id == "0"
    assert isinstance(error.__cause__, AuthenticationError)
    assert "bad key" in str(error)


async def test_body_error_and_unhandled_failure_leave_as_a_group() -> None:
    hub = InMemoryEventHub(1)
    hub.fail_next_sends(1, error=AuthenticationError)
    with pytest.RaisesGroup(KeyError, PublishError):
        async with open_streaming_producer(transport=hub, max_wait_time=0) as producer:
            await producer.queue_for_send(b"x")
            await producer_wait_failed(producer)
            raise KeyError("boom")


async def producer_wait_failed(producer: object) -> None:
    await anyio.wait_all_tasks_blocked()


async def test_several_unhandled_failures_leave_as_a_group() -> None:
    hub = InMemoryEventHub(2)
    hub.fail_next_sends(2, error=AuthenticationError)
    with pytest.RaisesGroup(PublishError, PublishError):
        async with open_streaming_producer(transport=hub) as producer:
            await producer.queue_for_send(b"x", partition_id="0")
            await producer.queue_for_send(b"y", partition_id="1")


async def test_flush_raises_unhandled_failures_once() -> None:
    hub = InMemoryEventHub(1)
    hub.fail_next_sends(1, error=AuthenticationError)
    async with open_streaming_producer(transport=hub) as producer:
        await producer.queue_for_send(b"x")
        with pytest.raises(PublishError):
            await producer.flush()
        await producer.queue_for_send(b"y")
        await producer.flush()
    assert hub.published_bodies("0") == [b"y"]


async def test_a_crashed_background_task_leaves_the_block(monkeypatch: pytest.MonkeyPatch) -> None:
    import anyio_eventhubs._tasks as producer_module

    async def broken_batcher(*args: object) -> None:
        raise ZeroDivisionError("batcher bug")

    monkeypatch.setattr(producer_module, "run_batcher", broken_batcher)
    with pytest.raises(ZeroDivisionError, match="batcher bug"):
        async with open_streaming_producer(transport=InMemoryEventHub(1)):
            await anyio.sleep_forever()


async def test_a_handler_that_raises_is_logged_and_the_producer_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hub = InMemoryEventHub(1)
    calls = []

    def handler(args: PublishSucceededEventArgs) -> None:
        calls.append(args)
        raise ValueError("handler bug")

    with caplog.at_level(logging.ERROR, logger="anyio_eventhubs"):
        async with open_streaming_producer(transport=hub, on_publish_succeeded=handler) as producer:
            await producer.queue_for_send(b"a")
            await producer.flush()
            await producer.queue_for_send(b"b")
    assert len(calls) == 2
    assert hub.published_count() == 2
    assert any("handler bug" in (r.exc_text or "") for r in caplog.records)


async def test_async_handlers_are_awaited() -> None:
    seen: list[object] = []

    async def handler(args: PublishSucceededEventArgs) -> None:
        await anyio.lowlevel.checkpoint()
        seen.extend(args.events)

    async with open_streaming_producer(
        transport=InMemoryEventHub(1), on_publish_succeeded=handler
    ) as producer:
        await producer.queue_for_send(b"a")
        await producer.flush()
        assert seen == [b"a"]


async def test_transient_errors_are_retried_and_published_once() -> None:
    hub = InMemoryEventHub(1)
    hub.fail_next_sends(2, error=ServerBusyError)
    rec = Recorder()
    async with open_streaming_producer(
        transport=hub, retry_options=RetryOptions(delay=0, jitter=0), **rec.handlers()
    ) as producer:
        await producer.queue_for_send(b"x")
    assert hub.published_bodies("0") == [b"x"]
    assert rec.failed == []


async def test_failure_is_reported_once_the_policy_gives_up() -> None:
    hub = InMemoryEventHub(1)
    hub.fail_next_sends(3, error=ServerBusyError("busy"))
    rec = Recorder()
    async with open_streaming_producer(
        transport=hub,
        retry_options=RetryOptions(max_retries=2, delay=0, jitter=0),
        **rec.handlers(),
    ) as producer:
        await producer.queue_for_send(b"x")
    assert len(rec.failed) == 1
    assert isinstance(rec.failed[0].exception, ServerBusyError)
    assert hub.published_count() == 0
    stats = producer.statistics()
    assert (stats.failed, stats.batches_failed, stats.published) == (1, 1, 0)


async def test_permanent_errors_are_not_retried() -> None:
    hub = InMemoryEventHub(1)
    hub.fail_next_sends(1, error=AuthenticationError)
    rec = Recorder()
    async with open_streaming_producer(
        transport=hub, retry_options=RetryOptions(delay=0), **rec.handlers()
    ) as producer:
        await producer.queue_for_send(b"x")
        await producer.flush()
        await producer.queue_for_send(b"y")
    assert [type(a.exception) for a in rec.failed] == [AuthenticationError]
    assert hub.published_bodies("0") == [b"y"]


@trio_autojump()
async def test_an_attempt_longer_than_try_timeout_is_abandoned_and_retried() -> None:
    hub = InMemoryEventHub(1)
    hub.set_send_latency(10)
    rec = Recorder()
    from anyio_eventhubs import OperationTimeoutError

    async with open_streaming_producer(
        transport=hub,
        retry_options=RetryOptions(max_retries=1, delay=1, jitter=0, try_timeout=2),
        **rec.handlers(),
    ) as producer:
        start = anyio.current_time()
        await producer.queue_for_send(b"x")
        await producer.flush()
        # flush sends at once: a 2 s attempt, 1 s back-off, a 2 s attempt
        assert anyio.current_time() - start == pytest.approx(5)
    assert isinstance(rec.failed[0].exception, OperationTimeoutError)
    assert "may have stored" in str(rec.failed[0].exception)


async def test_events_dropped_by_a_late_close_are_raised_without_a_handler() -> None:
    hub = InMemoryEventHub(1)
    hub.hold_sends()
    with pytest.RaisesGroup(KeyError, PublishError) as info:
        async with open_streaming_producer(
            transport=hub, max_wait_time=0, close_timeout=0
        ) as producer:
            await producer.queue_for_send(b"x")
            await hub.wait_sends_in_flight(1)
            raise KeyError("boom")
    publish_error = info.value.exceptions[1]
    assert isinstance(publish_error, PublishError)
    assert isinstance(publish_error.__cause__, EventClearedError)
    assert publish_error.events == [b"x"]


async def test_events_dropped_by_a_cancelled_exit_are_logged_without_a_handler(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hub = InMemoryEventHub(1)
    hub.hold_sends()
    with anyio.CancelScope() as scope:
        async with open_streaming_producer(
            transport=hub, max_wait_time=0, close_timeout=0
        ) as producer:
            await producer.queue_for_send(b"x")
            await hub.wait_sends_in_flight(1)
            scope.cancel()
            await anyio.sleep_forever()
    assert scope.cancelled_caught
    assert any("unpublished on cancellation" in r.message for r in caplog.records)
