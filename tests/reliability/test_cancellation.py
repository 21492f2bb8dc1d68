"""Cancellation leaves the producer's accounting consistent and reports what was not published.

On the emulator, under asyncio and Trio: a ``queue_for_send`` cancelled while it waits
for room, a cancelled ``flush()``, the task group that holds the producer cancelled
while sends are in flight. ``KeyboardInterrupt`` is delivered for real (``SIGINT``) to a
producer in a child process: see ``_interrupted_child.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from anyio_eventhubs import (
    EventClearedError,
    RetryOptions,
    StreamingProducer,
    open_streaming_producer,
)
from anyio_eventhubs._azure import azure_transport
from anyio_eventhubs.testing.emulator import EventHubsEmulator

from .helpers import Ledger, SpyTransport, body, in_thread

pytestmark = pytest.mark.anyio

TEST_TIMEOUT = 20
RETRY = RetryOptions(max_retries=2, delay=0.01, jitter=0)


def spy_on(emulator: EventHubsEmulator, hub: str = "eh1") -> SpyTransport:
    return SpyTransport(azure_transport(emulator.connection_string(hub)))


def assert_settled(producer: StreamingProducer, ledger: Ledger) -> None:
    """The producer's counts agree with the outcomes its handlers were given."""
    stats = producer.statistics()
    outstanding = len(ledger.seq) - ledger.outcome_count()
    assert producer.total_queued_event_count == outstanding
    assert stats.queued + stats.in_flight == outstanding
    assert stats.published == len(ledger.published)
    assert stats.failed == len(ledger.failed)


async def test_cancelling_a_queue_for_send_that_waits_for_room_changes_nothing(
    emulator: EventHubsEmulator,
) -> None:
    ledger = Ledger()
    spy = spy_on(emulator, "small")  # 2 KiB messages: one event of 1100 bytes each
    with anyio.fail_after(TEST_TIMEOUT):
        async with open_streaming_producer(
            transport=spy,
            max_queued_events=2,
            max_wait_time=None,
            retry_options=RETRY,
            **ledger.handlers(),
        ) as producer:
            spy.hold()
            # one batch in flight (held), the full head batch, two events behind it
            for i in range(4):
                await ledger.queue(producer, body("held", i, 1100), partition_id="0")
            waiting = body("cancelled", 0, 1100)
            with anyio.CancelScope() as scope:
                async with anyio.create_task_group() as tg:

                    async def queue_one_more() -> None:
                        await producer.queue_for_send(waiting, partition_id="0")
                        pytest.fail("queued without room")  # pragma: no cover

                    tg.start_soon(queue_one_more)
                    await spy.wait_held(1)
                    await anyio.wait_all_tasks_blocked()
                    scope.cancel()
            assert scope.cancelled_caught
            assert producer.get_partition_queued_event_count("0") == 4
            assert_settled(producer, ledger)
            # and the partition still takes events once there is room
            spy.release()
            await ledger.queue(producer, body("after", 0, 1100), partition_id="0")
            await producer.flush()
            assert_settled(producer, ledger)
    summary = ledger.check(emulator, "small")
    assert summary.published == 5
    stored = [e.body for e in emulator.published_events("small", "0")]
    assert waiting not in stored


async def test_a_cancelled_flush_stops_waiting_and_loses_nothing(
    emulator: EventHubsEmulator,
) -> None:
    ledger = Ledger()
    spy = spy_on(emulator)
    with anyio.fail_after(TEST_TIMEOUT):
        async with open_streaming_producer(
            transport=spy, max_wait_time=None, retry_options=RETRY, **ledger.handlers()
        ) as producer:
            spy.hold()
            for i in range(40):
                await ledger.queue(producer, body("flushed", i), partition_id=str(i % 4))
            with anyio.CancelScope() as scope:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(producer.flush)
                    await spy.wait_held(4)  # the flush sent every partition's batch
                    scope.cancel()
            assert scope.cancelled_caught
            assert_settled(producer, ledger)
            assert producer.statistics().in_flight == 40
            spy.release()
            # the batches still go out, without another flush
            await ledger.wait_outcomes(40)
            assert_settled(producer, ledger)
    summary = ledger.check(emulator, "eh1")
    assert summary.published == 40


@pytest.mark.parametrize("where", ["held", "on-the-wire"])
async def test_cancelling_the_task_group_of_the_producer_reports_what_was_not_published(
    emulator: EventHubsEmulator, where: str
) -> None:
    ledger = Ledger()
    spy = spy_on(emulator)
    producer: StreamingProducer | None = None
    with anyio.fail_after(TEST_TIMEOUT):
        async with anyio.create_task_group() as tg:
            started = anyio.Event()

            async def publisher() -> None:
                nonlocal producer
                async with open_streaming_producer(
                    transport=spy,
                    max_wait_time=None,
                    retry_options=RETRY,
                    close_timeout=0.2,
                    **ledger.handlers(),
                ) as producer:
                    for i in range(8):
                        await ledger.queue(producer, body("published", i), partition_id=str(i % 4))
                    await producer.flush()
                    if where == "held":  # the sends wait before they reach the client
                        spy.hold()
                    else:  # stored, but the acknowledgements do not come back in time
                        emulator.faults.delay_acks(30)
                    for i in range(20):
                        await ledger.queue(producer, body("flight", i), partition_id=str(i % 4))
                    tg.start_soon(producer.flush)  # sends them; cancelled with the rest
                    if where == "held":
                        await spy.wait_held(4)
                    else:
                        await in_thread(emulator, lambda: emulator.event_count("eh1") == 28, "sent")
                    for i in range(20):
                        await ledger.queue(producer, body("queued", i), partition_id=str(i % 4))
                    started.set()
                    await anyio.sleep_forever()

            tg.start_soon(publisher)
            await started.wait()
            assert producer is not None
            assert producer.statistics().in_flight == 20
            tg.cancel_scope.cancel()
    assert producer is not None
    assert producer.is_closed
    assert_settled(producer, ledger)
    assert producer.total_queued_event_count == 0
    summary = ledger.check(emulator, "eh1")
    assert summary.published == 8
    assert summary.failed == 40
    for event in ledger.failed:
        (outcome,) = ledger.outcomes[event]
        assert isinstance(outcome.exception, EventClearedError)
        assert "the producer closed before" in str(outcome.exception)
        # a send that had started may have reached the service; a queued event did not
        assert outcome.exception.may_have_been_published is event.startswith(b"flight")


# -- KeyboardInterrupt, delivered as SIGINT to a child process -----------------------------

CHILD = Path(__file__).with_name("_interrupted_child.py")


def run_child(backend: str, where: str) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, str(CHILD), backend, where],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONWARNINGS": "error"},
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert lines, f"the child printed no report:\n{result.stdout}\n{result.stderr}"
    report: dict[str, Any] = json.loads(lines[-1])
    report["stderr"] = result.stderr
    return report


@pytest.mark.parametrize("where", ["body", "handler"])
@pytest.mark.parametrize("backend", ["trio", "asyncio"])
def test_keyboard_interrupt_leaves_the_accounting_consistent(backend: str, where: str) -> None:
    report = run_child(backend, where)
    assert report["raised"] == "KeyboardInterrupt", report
    accepted = report["accepted"]
    published = report["published"]
    failed = report["failed"]
    # exactly one outcome for each accepted event
    assert sorted(published + failed) == sorted(accepted), report
    stats = report["statistics"]
    assert stats == {
        "queued": 0,
        "in_flight": 0,
        "published": len(published),
        "failed": len(failed),
    }, report
    assert report["total_queued"] == 0
    # what was reported published is stored, once; what failed was cleared by the close
    stored = report["stored"]
    assert len(stored) == len(set(stored))
    assert set(published) <= set(stored)
    assert set(report["failure_types"]) <= {"EventClearedError"}
    assert report["leftover_threads"] == []
    if where == "body":
        # the interrupt came while every partition's second batch waited for its ack
        assert len(published) == 20, report
        assert len(failed) == 20, report
