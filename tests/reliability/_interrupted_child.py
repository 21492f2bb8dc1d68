"""A producer interrupted by a real ``SIGINT``; run by ``test_cancellation.py`` as a child.

``python _interrupted_child.py BACKEND WHERE`` starts an emulator in this process, opens
a producer on it under ``anyio.run(backend=BACKEND)``, and raises ``SIGINT`` with
``signal.raise_signal`` at a chosen point, so that the interrupt arrives exactly there
(the handler runs before the next bytecode):

- ``body``: in the ``async with`` body, while one batch per partition is on the wire
  (stored by the emulator, its acknowledgement held back);
- ``handler``: in an ``on_publish_succeeded`` handler, which runs in the producer's own
  sender task.

It prints one JSON line: what leaves ``anyio.run``, every event accepted, every outcome
reported, the producer's counters afterwards, what the emulator stored, and the threads
left running. The parent asserts on it.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from typing import Any

import anyio

from anyio_eventhubs import (
    PublishFailedEventArgs,
    PublishSucceededEventArgs,
    RetryOptions,
    StreamingProducer,
    open_streaming_producer,
)
from anyio_eventhubs.testing.emulator import EventHubsEmulator

EVENTS = 40
#: the idle worker threads of anyio.to_thread (used above to wait for the emulator)
_TOOL_THREADS = ("AnyIO worker thread", "Trio thread")


def leaves(exc: BaseException) -> list[str]:
    if isinstance(exc, BaseExceptionGroup):
        return [name for inner in exc.exceptions for name in leaves(inner)]
    return [type(exc).__name__]


def main(backend: str, where: str) -> dict[str, Any]:
    accepted: list[str] = []
    published: list[str] = []
    failed: list[str] = []
    failure_types: list[str] = []
    holder: list[StreamingProducer] = []
    interrupted = False

    def on_succeeded(args: PublishSucceededEventArgs) -> None:
        nonlocal interrupted
        published.extend(e.decode() for e in args.events if isinstance(e, bytes))
        if where == "handler" and not interrupted and len(published) > EVENTS // 2:
            interrupted = True
            signal.raise_signal(signal.SIGINT)

    def on_failed(args: PublishFailedEventArgs) -> None:
        failed.extend(e.decode() for e in args.events if isinstance(e, bytes))
        failure_types.append(type(args.exception).__name__)

    emulator = EventHubsEmulator({"eh1": 4})
    emulator.start()
    before = {t.ident for t in threading.enumerate()}

    async def queue(producer: StreamingProducer, first: int, count: int) -> None:
        for i in range(first, first + count):
            event = f"event-{i:03d}"
            await producer.queue_for_send(event.encode(), partition_id=str(i % 4))
            accepted.append(event)

    async def run() -> None:
        async with open_streaming_producer(
            emulator.connection_string("eh1"),
            max_wait_time=None,
            close_timeout=0.5,
            retry_options=RetryOptions(max_retries=1, delay=0.01, jitter=0),
            on_publish_succeeded=on_succeeded,
            on_publish_failed=on_failed,
        ) as producer:
            holder.append(producer)
            await queue(producer, 0, EVENTS // 2)
            await producer.flush()
            if where == "handler":
                await queue(producer, EVENTS // 2, EVENTS // 2)
                await producer.flush()
                # Trio may defer the handler's KeyboardInterrupt to the main task's next
                # checkpoint, which can come after flush() returned: wait for it, bounded
                with anyio.move_on_after(10):
                    await anyio.sleep_forever()
                raise AssertionError("the handler was not interrupted")
            emulator.faults.delay_acks(30)
            await queue(producer, EVENTS // 2, EVENTS // 2)
            async with anyio.create_task_group() as tg:
                tg.start_soon(producer.flush)
                stored = await anyio.to_thread.run_sync(
                    lambda: emulator.wait_for_events("eh1", EVENTS, timeout=10)
                )
                assert stored, "the emulator did not store the batches"
                signal.raise_signal(signal.SIGINT)
                # Trio raises KeyboardInterrupt right here; asyncio's runner cancels the
                # main task instead, which takes effect at the next await
                await anyio.sleep_forever()

    raised: list[str] = []
    try:
        anyio.run(run, backend=backend)
    except BaseException as exc:
        raised = leaves(exc)
    producer = holder[0]
    stats = producer.statistics()
    stored = [e.body.decode() for e in emulator.all_events("eh1")]
    emulator.stop()
    leftover = [
        t.name
        for t in threading.enumerate()
        if t.ident not in before and not t.name.startswith(_TOOL_THREADS)
    ]
    return {
        "raised": "|".join(raised),
        "accepted": accepted,
        "published": published,
        "failed": failed,
        "failure_types": failure_types,
        "statistics": {
            "queued": stats.queued,
            "in_flight": stats.in_flight,
            "published": stats.published,
            "failed": stats.failed,
        },
        "total_queued": producer.total_queued_event_count,
        "stored": stored,
        "leftover_threads": leftover,
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2])), flush=True)
