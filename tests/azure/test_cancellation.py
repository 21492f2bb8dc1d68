"""Cancellation across the bridge: waiting callers, sends in flight, and no thread left over."""

from __future__ import annotations

import threading

import anyio
import pytest

from anyio_eventhubs import EventClearedError, open_streaming_producer
from anyio_eventhubs.testing.emulator import EventHubsEmulator, black_hole_listener

from ..helpers import Recorder
from .conftest import wait_for_events, wait_until

pytestmark = pytest.mark.anyio

#: long enough that a test only ends early if cancellation works
ACK_DELAY = 30.0

#: threads of the test's own tools (worker threads of anyio.to_thread), not ours
_TOOL_THREADS = ("AnyIO worker thread", "Trio thread")


def own_threads() -> set[threading.Thread]:
    """The live threads, without the worker threads the tests themselves start."""
    return {t for t in threading.enumerate() if not t.name.startswith(_TOOL_THREADS)}


async def test_cancelling_a_queue_for_send_that_waits_for_room(
    emulator: EventHubsEmulator,
) -> None:
    emulator.faults.delay_acks(ACK_DELAY)
    rec = Recorder()
    # 2 KiB messages: one event of 1100 bytes per batch
    held = [b"%d" % n + b"." * 1099 for n in range(4)]
    with anyio.fail_after(15):
        async with open_streaming_producer(
            emulator.connection_string("small"),
            max_queued_events=2,
            max_wait_time=0.01,
            **rec.handlers(),
        ) as producer:
            await producer.queue_for_send(held[0], partition_id="0")
            await producer.queue_for_send(held[1], partition_id="0")
            await wait_for_events(emulator, "small", 1)  # the first send waits for its ack
            # the full head batch (held[1]) and two behind it: the partition is full
            await producer.queue_for_send(held[2], partition_id="0")
            await producer.queue_for_send(held[3], partition_id="0")
            with anyio.CancelScope() as scope:
                async with anyio.create_task_group() as task_group:

                    async def queue_one_more() -> None:
                        await producer.queue_for_send(b"cancelled", partition_id="0")
                        pytest.fail("queued without room")  # pragma: no cover

                    task_group.start_soon(queue_one_more)
                    await anyio.wait_all_tasks_blocked()
                    scope.cancel()
            assert scope.cancelled_caught
            assert producer.get_partition_queued_event_count("0") == 4
            assert await producer.clear() >= 1  # abandons the send waiting for its ack
    assert set(rec.failed_events) == set(held)
    first_failure = rec.failed[0].exception
    assert isinstance(first_failure, EventClearedError)
    assert b"cancelled" not in [e.body for e in emulator.published_events("small", "0")]


async def test_cancelling_the_producer_mid_send_abandons_the_send(
    emulator: EventHubsEmulator,
) -> None:
    emulator.faults.delay_acks(ACK_DELAY)
    before = own_threads()
    rec = Recorder()
    with anyio.fail_after(15), anyio.CancelScope() as scope:
        async with open_streaming_producer(
            emulator.connection_string("eh1"),
            max_wait_time=0.01,
            close_timeout=0.2,
            **rec.handlers(),
        ) as producer:
            await producer.queue_for_send(b"in flight", partition_id="3")
            await wait_for_events(emulator, "eh1", 1)
            assert producer.statistics().in_flight == 1
            scope.cancel()
            await anyio.sleep_forever()
    assert scope.cancelled_caught
    (failed,) = rec.failed
    assert isinstance(failed.exception, EventClearedError)
    assert failed.exception.may_have_been_published
    await wait_until(emulator, lambda: emulator.connections_open == 0, "connections closed")
    assert own_threads() <= before


async def test_no_thread_outlives_the_producer(emulator: EventHubsEmulator) -> None:
    before = own_threads()
    async with open_streaming_producer(emulator.connection_string("eh1")) as producer:
        await producer.queue_for_send(b"x")
        await producer.flush()
        during = {t.name for t in own_threads() - before}
    assert own_threads() <= before
    assert during == set()  # under Trio too: the client's loop is stepped on Trio's thread


async def test_an_open_cancelled_from_outside_leaves_nothing_behind() -> None:
    before = own_threads()
    with black_hole_listener() as (host, port):
        connection_string = (
            f"Endpoint=sb://{host}:{port};SharedAccessKeyName=k;SharedAccessKey=s;"
            "EntityPath=eh1;UseDevelopmentEmulator=true"
        )
        with anyio.move_on_after(0.3) as scope:
            async with open_streaming_producer(connection_string, open_timeout=30):
                pytest.fail("opened a black hole")  # pragma: no cover
        assert scope.cancelled_caught
    assert own_threads() <= before
