"""The blocking producer from many threads at once: every accepted event, one outcome."""

from __future__ import annotations

import functools
import logging
import threading
from collections import Counter
from collections.abc import Callable

import pytest

from anyio_eventhubs import ProducerClosedError, PublishSucceededEventArgs, ServerBusyError
from anyio_eventhubs.sync import open_streaming_producer
from anyio_eventhubs.testing import InMemoryEventHub

from ..helpers import ONE_EVENT_BATCH_SIZE, padded
from .helpers import PATIENCE, GatedHub, ThreadRecorder, producer_threads


def run_threads(targets: list[Callable[[], None]]) -> list[BaseException]:
    """Run each target in a thread of its own; return what they raised."""
    errors: list[BaseException] = []

    def guarded(target: Callable[[], None]) -> None:
        try:
            target()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(PATIENCE * 3)
        assert not thread.is_alive(), "a thread hung"
    return errors


def test_many_threads_queue_while_others_flush(backend: str) -> None:
    """A flush covers what its own thread queued before it; nothing is lost or doubled."""
    recorder = ThreadRecorder()
    hub = InMemoryEventHub(partition_count=4)
    hub.fail_next_sends(3, error=ServerBusyError)  # retried: outcomes arrive late
    queuers, per_thread = 6, 600
    done = threading.Event()
    with open_streaming_producer(
        transport=hub, backend=backend, max_queued_events=40, **recorder.handlers
    ) as producer:

        def queue(t: int) -> None:
            for n in range(per_thread):
                body = f"{t}:{n}".encode()
                if n % 3:
                    producer.queue_for_send(body, partition_key=f"key-{t}")
                else:
                    producer.queue_for_send(body)
                if n % 150 == 149:
                    producer.flush()
                    published = set(recorder.published_events())
                    assert {f"{t}:{m}".encode() for m in range(n + 1)} <= published

        def flush_until_done() -> None:
            while not done.is_set():
                producer.flush()
                producer.statistics()
                assert producer.total_queued_event_count >= 0

        def queuers_then_done() -> None:
            errors = run_threads([functools.partial(queue, t) for t in range(queuers)])
            done.set()
            if errors:
                raise errors[0]

        assert run_threads([queuers_then_done, flush_until_done, flush_until_done]) == []
    published = recorder.published_events()
    counts = Counter(published)
    assert len(counts) == queuers * per_thread
    assert set(counts.values()) == {1}  # exactly one report per event
    assert recorder.failed == []
    assert hub.published_count() == queuers * per_thread
    stats = producer.statistics()
    assert (stats.published, stats.failed, stats.queued, stats.in_flight) == (3600, 0, 0, 0)


def test_closing_while_threads_wait_for_room_releases_them(backend: str) -> None:
    recorder = ThreadRecorder()
    hub = GatedHub(partition_count=1, max_message_size=ONE_EVENT_BATCH_SIZE)
    hub.hold()
    producer = open_streaming_producer(
        transport=hub, backend=backend, max_queued_events=2, **recorder.handlers
    )
    kept = [padded(x) for x in (b"a", b"b", b"c", b"d")]
    for body in kept:  # one in flight (held), the head batch, two behind it
        producer.queue_for_send(body)
    outcomes: list[str] = []

    def blocked() -> None:
        try:
            producer.queue_for_send(padded(b"never"))
            outcomes.append("accepted")
        except ProducerClosedError:
            outcomes.append("refused")

    waiters = [threading.Thread(target=blocked) for _ in range(4)]
    for waiter in waiters:
        waiter.start()
    hub.wait_sends_started(1)  # the first full batch went out
    closer = threading.Thread(target=producer.close)
    closer.start()
    for waiter in waiters:  # released by the close, while the sends are still held
        waiter.join(PATIENCE)
        assert not waiter.is_alive()
    assert outcomes == ["refused"] * 4
    assert closer.is_alive()  # the close waits for the held batch
    hub.release()
    closer.join(PATIENCE)
    assert not closer.is_alive()
    assert recorder.published_events() == kept
    assert hub.hub.published_bodies("0") == kept
    assert producer_threads() == []


def test_a_handler_that_raises_is_logged_and_the_producer_goes_on(
    backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    batches: list[int] = []

    def on_succeeded(args: PublishSucceededEventArgs) -> None:
        batches.append(len(args.events))
        if len(batches) == 1:
            raise RuntimeError("a handler bug")

    hub = InMemoryEventHub(partition_count=2)
    with (
        caplog.at_level(logging.ERROR, logger="anyio_eventhubs"),
        open_streaming_producer(
            transport=hub, backend=backend, on_publish_succeeded=on_succeeded
        ) as producer,
    ):
        producer.queue_for_send(b"first", partition_id="0")
        producer.flush()
        run_threads([lambda: producer.queue_for_send(b"next", partition_id="1")] * 3)
    assert sum(batches) == 4
    assert hub.published_count() == 4
    messages = [r.getMessage() for r in caplog.records]
    assert any("raised; the producer goes on" in m for m in messages), messages
    assert any(r.exc_info and "a handler bug" in str(r.exc_info[1]) for r in caplog.records)
