"""The blocking producer from one thread: publishing, handlers, bad input, backpressure."""

from __future__ import annotations

import inspect
import math
import threading

import pytest

from anyio_eventhubs import (
    EventClearedError,
    EventData,
    EventTooLargeError,
    NotFoundError,
    ProducerClosedError,
    PublishError,
    partition_for_key,
)
from anyio_eventhubs.sync import StreamingProducer, open_streaming_producer
from anyio_eventhubs.testing import InMemoryEventHub

from ..helpers import ONE_EVENT_BATCH_SIZE, padded
from .helpers import PATIENCE, GatedHub, ThreadRecorder, producer_threads


def test_events_are_published_and_the_thread_joined_on_leaving_the_block(backend: str) -> None:
    hub = InMemoryEventHub(partition_count=1)
    with open_streaming_producer(transport=hub, backend=backend) as producer:
        assert isinstance(producer, StreamingProducer)
        assert producer.get_partition_ids() == ["0"]
        producer.queue_for_send(b"bytes")
        producer.queue_for_send("text")
        producer.queue_for_send(EventData(b"event data"))
        assert producer.try_queue_for_send(b"tried")
        name = f"anyio-eventhubs producer {producer.identifier}"
        assert name in producer_threads()
    assert hub.published_bodies("0") == [b"bytes", b"text", b"event data", b"tried"]
    assert name not in producer_threads()
    assert producer.is_closed
    assert producer.statistics().published == 4


def test_handlers_run_on_the_producers_thread_never_the_callers(backend: str) -> None:
    recorder = ThreadRecorder()
    hub = GatedHub(partition_count=2)
    hub.hub.fail_next_sends(1, error=NotFoundError, partition_id="1")
    with open_streaming_producer(transport=hub, backend=backend, **recorder.handlers) as producer:
        producer.queue_for_send(b"ok", partition_id="0")
        producer.queue_for_send(b"fails", partition_id="1")
        producer.flush()
    assert recorder.published_events() == [b"ok"]
    assert recorder.failed_events() == [b"fails"]
    assert recorder.threads == {f"anyio-eventhubs producer {producer.identifier}"}
    assert threading.current_thread().name not in recorder.threads


def test_queueing_needs_no_round_trip_to_the_producers_thread(backend: str) -> None:
    """With the producer's thread stuck in a handler, threads still queue (and fail fast)."""
    in_handler, leave = threading.Event(), threading.Event()

    def on_succeeded(args: object) -> None:
        in_handler.set()
        assert leave.wait(PATIENCE)  # blocks the producer's whole event loop

    hub = InMemoryEventHub(partition_count=2)
    with open_streaming_producer(
        transport=hub, backend=backend, max_wait_time=0, on_publish_succeeded=on_succeeded
    ) as producer:
        try:
            producer.queue_for_send(b"first")
            assert in_handler.wait(PATIENCE)  # from here on, the loop waits in the handler
            for n in range(500):
                producer.queue_for_send(str(n), partition_key=f"key-{n % 7}")
            assert producer.try_queue_for_send(b"tried")
            with pytest.raises(TypeError, match="got float"):
                producer.queue_for_send(1.5)  # type: ignore[arg-type]
            assert producer.total_queued_event_count == 502  # "first" is reported, not released
        finally:
            leave.set()
    assert hub.published_count() == 502


def test_a_keys_events_stay_in_order_on_the_services_partition(backend: str) -> None:
    hub = InMemoryEventHub(partition_count=4)
    with open_streaming_producer(transport=hub, backend=backend, max_queued_events=7) as producer:
        for n in range(100):
            producer.queue_for_send(f"{n % 3}:{n}", partition_key=f"key-{n % 3}")
    for k in range(3):
        partition = partition_for_key(f"key-{k}", hub.partition_ids)
        bodies = [b.decode() for b in hub.published_bodies(partition)]
        assert [b for b in bodies if b.startswith(f"{k}:")] == [
            f"{k}:{n}" for n in range(100) if n % 3 == k
        ]
    assert hub.published_count() == 100


def test_round_robin_spreads_events_over_every_partition(backend: str) -> None:
    hub = InMemoryEventHub(partition_count=4)
    with open_streaming_producer(transport=hub, backend=backend) as producer:
        for _ in range(40):
            producer.queue_for_send(b"x")
    assert [hub.published_count(p) for p in hub.partition_ids] == [10, 10, 10, 10]


def test_bad_input_raises_in_the_calling_thread_and_queues_nothing(backend: str) -> None:
    hub = InMemoryEventHub(partition_count=2, max_message_size=1024)
    with open_streaming_producer(transport=hub, backend=backend) as producer:
        with pytest.raises(TypeError, match="event must be EventData, bytes or str, got int"):
            producer.queue_for_send(7)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="convert it with bytes"):
            producer.try_queue_for_send(bytearray(b"x"))  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=r"has no partition '9'; its partition ids are"):
            producer.queue_for_send(b"x", partition_id="9")
        with pytest.raises(ValueError, match="give partition_id or partition_key, not both"):
            producer.queue_for_send(b"x", partition_id="0", partition_key="k")
        with pytest.raises(ValueError, match="partition_key must not be empty"):
            producer.queue_for_send(b"x", partition_key="")
        with pytest.raises(EventTooLargeError):
            producer.queue_for_send(b"x" * 2048)
        with pytest.raises(TypeError, match="timeout must be a number of seconds or None"):
            producer.queue_for_send(b"x", timeout="1")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="timeout must be >= 0 seconds, got nan"):
            producer.queue_for_send(b"x", timeout=math.nan)
        with pytest.raises(ValueError, match="timeout must be >= 0 seconds, got -1"):
            producer.flush(timeout=-1)
        assert producer.total_queued_event_count == 0
    assert hub.published_count() == 0
    assert producer.statistics().published == 0


def test_bad_options_raise_from_open_and_leave_no_thread(backend: str) -> None:
    hub = InMemoryEventHub()
    with pytest.raises(ValueError, match=r"backend must be one of \['asyncio', 'trio'\]"):
        open_streaming_producer(transport=hub, backend="curio")
    with pytest.raises(ValueError, match="max_queued_events must be >= 1, got 0"):
        open_streaming_producer(transport=hub, backend=backend, max_queued_events=0)
    with pytest.raises(TypeError, match="unexpected keyword argument 'max_wait'"):
        open_streaming_producer(transport=hub, backend=backend, max_wait=1)
    with pytest.raises(ValueError, match="give a connection string"):
        open_streaming_producer(backend=backend)
    assert producer_threads() == []


def test_the_options_and_defaults_are_the_async_producers() -> None:
    import anyio_eventhubs

    ours = inspect.signature(open_streaming_producer).parameters
    theirs = inspect.signature(anyio_eventhubs.open_streaming_producer).parameters
    for name, parameter in ours.items():
        if name in ("backend", "backend_options", "more"):
            continue
        assert name in theirs, name
        assert parameter.default == theirs[name].default, name
        assert parameter.kind == theirs[name].kind, name


def test_a_full_partitions_head_batch_is_sent_when_try_queue_refuses(backend: str) -> None:
    hub = GatedHub(partition_count=1, max_message_size=ONE_EVENT_BATCH_SIZE)
    hub.hold()
    bodies = [padded(b"%d" % n) for n in range(20)]
    with open_streaming_producer(
        transport=hub,
        backend=backend,
        max_queued_events=3,
        max_wait_time=None,  # only a full batch goes out by itself
    ) as producer:
        accepted = 0
        while accepted < len(bodies) and producer.try_queue_for_send(bodies[accepted]):
            accepted += 1
        # at least max_queued_events fit (events on their way to the loop count as
        # behind the head batch); at most one in flight, the head batch, three behind it
        assert 3 <= accepted <= 5
        hub.wait_sends_started(1)  # no flush: the head batch was full
        hub.release()
    assert hub.hub.published_bodies("0") == bodies[:accepted]


def test_queue_for_send_waits_while_the_partition_is_full(backend: str) -> None:
    hub = GatedHub(partition_count=1, max_message_size=ONE_EVENT_BATCH_SIZE)
    hub.hold()
    bodies = [padded(b"%d" % n) for n in range(5)]
    with open_streaming_producer(
        transport=hub, backend=backend, max_queued_events=2, max_wait_time=None
    ) as producer:
        for body in bodies[:4]:  # one in flight (held), the head batch, two behind it
            producer.queue_for_send(body)
        waiter = threading.Thread(target=producer.queue_for_send, args=(bodies[4],))
        waiter.start()
        hub.wait_sends_started(1)
        assert waiter.is_alive()
        assert producer.total_queued_event_count == 4
        hub.release()
        waiter.join(PATIENCE)
        assert not waiter.is_alive()
    assert hub.hub.published_bodies("0") == bodies


def test_queue_for_send_times_out_and_queues_nothing(backend: str) -> None:
    hub = GatedHub(partition_count=1, max_message_size=ONE_EVENT_BATCH_SIZE)
    hub.hold()
    bodies = [padded(b"%d" % n) for n in range(3)]
    with open_streaming_producer(
        transport=hub, backend=backend, max_queued_events=1, max_wait_time=None
    ) as producer:
        for body in bodies:  # one in flight (held), the head batch, one behind it
            producer.queue_for_send(body)
        with pytest.raises(TimeoutError, match=r"partition '0' still held max_queued_events=1"):
            producer.queue_for_send(padded(b"late"), timeout=0.05)
        assert producer.get_partition_queued_event_count("0") == 3
        hub.release()
    assert hub.hub.published_bodies("0") == bodies


def test_counts_and_statistics_include_events_on_their_way_to_the_loop(backend: str) -> None:
    hub = GatedHub(partition_count=2)
    hub.hold()
    with open_streaming_producer(transport=hub, backend=backend, max_wait_time=None) as producer:
        for n in range(5):
            producer.queue_for_send(str(n), partition_id="1")
        assert producer.total_queued_event_count == 5
        assert producer.get_partition_queued_event_count("1") == 5
        assert producer.get_partition_queued_event_count("0") == 0
        stats = producer.statistics()
        assert (stats.queued, stats.in_flight, stats.published) == (5, 0, 0)
        assert "queued=5" in repr(producer)
        with pytest.raises(ValueError, match="has no partition '7'"):
            producer.get_partition_queued_event_count("7")
        hub.release()
        producer.flush()
        assert producer.statistics().published == 5
        assert producer.total_queued_event_count == 0


def test_flush_raises_failures_no_handler_took(backend: str) -> None:
    hub = InMemoryEventHub(partition_count=1)
    hub.fail_next_sends(1, error=NotFoundError)
    with open_streaming_producer(transport=hub, backend=backend) as producer:
        producer.queue_for_send(b"lost")
        with pytest.raises(PublishError) as caught:
            producer.flush()
        assert list(caught.value.events) == [b"lost"]
        producer.queue_for_send(b"kept")
    assert hub.published_bodies("0") == [b"kept"]


def test_flush_can_give_up_waiting_and_the_events_still_go_out(backend: str) -> None:
    hub = GatedHub(partition_count=1)
    hub.hold()
    with open_streaming_producer(transport=hub, backend=backend) as producer:
        producer.queue_for_send(b"slow")
        with pytest.raises(TimeoutError, match=r"flush\(\) did not finish within 0.05 seconds"):
            producer.flush(timeout=0.05)
        hub.release()
    assert hub.hub.published_bodies("0") == [b"slow"]


def test_clear_reports_every_dropped_event(backend: str) -> None:
    recorder = ThreadRecorder()
    hub = GatedHub(partition_count=1)
    hub.hold()
    with open_streaming_producer(
        transport=hub, backend=backend, max_queued_events=10, **recorder.handlers
    ) as producer:
        for n in range(4):
            producer.queue_for_send(str(n))
        producer.try_queue_for_send("x")
        assert producer.clear() == 5
        assert sorted(recorder.failed_events()) == ["0", "1", "2", "3", "x"]  # type: ignore[type-var]
        assert all(isinstance(a.exception, EventClearedError) for a in recorder.failed)
        hub.release()
    assert producer.clear() == 0


def test_a_closed_producer_refuses_events_and_close_is_idempotent(backend: str) -> None:
    hub = InMemoryEventHub()
    producer = open_streaming_producer(transport=hub, backend=backend)
    producer.queue_for_send(b"x")
    producer.close()
    producer.close()
    with pytest.raises(ProducerClosedError, match="is closed"):
        producer.queue_for_send(b"y")
    with pytest.raises(ProducerClosedError, match="is closed"):
        producer.try_queue_for_send(b"y")
    producer.flush()
    assert producer.statistics().published == 1
    assert "closed=True" in repr(producer)
    assert hub.published_count() == 1


def test_calls_that_would_wait_for_the_handlers_own_thread_are_refused(backend: str) -> None:
    seen: list[str] = []
    holder: list[StreamingProducer] = []

    def on_succeeded(args: object) -> None:
        producer = holder[0]
        for call in (producer.flush, producer.clear, producer.close, producer.statistics):
            try:
                call()
            except RuntimeError as exc:
                seen.append(str(exc))
        if len(holder) == 1:  # queueing without waiting is fine from a handler
            holder.append(producer)
            seen.append(f"requeued={producer.try_queue_for_send(b'again')}")

    hub = InMemoryEventHub(partition_count=1)
    with open_streaming_producer(
        transport=hub, backend=backend, on_publish_succeeded=on_succeeded
    ) as producer:
        holder.append(producer)
        producer.queue_for_send(b"first")
        producer.flush()
        producer.flush()
    assert len([s for s in seen if "from the producer's own thread" in s]) >= 4
    assert "requeued=True" in seen
    assert hub.published_bodies("0") == [b"first", b"again"]


def test_an_exit_by_exception_is_bounded_and_reports_what_is_left(backend: str) -> None:
    recorder = ThreadRecorder()
    hub = GatedHub(partition_count=1)
    hub.hold()
    with (
        pytest.raises(LookupError, match="the body failed"),
        open_streaming_producer(
            transport=hub, backend=backend, close_timeout=0.05, **recorder.handlers
        ) as producer,
    ):
        producer.queue_for_send(b"stuck")
        hub.wait_sends_started(1)
        raise LookupError("the body failed")
    assert recorder.failed_events() == [b"stuck"]
    assert isinstance(recorder.failed[0].exception, EventClearedError)
    assert producer_threads() == []


def test_an_exit_by_exception_with_unhandled_failures_raises_both(backend: str) -> None:
    hub = GatedHub(partition_count=1)
    hub.hold()
    with (
        pytest.raises(BaseExceptionGroup) as caught,
        open_streaming_producer(transport=hub, backend=backend, close_timeout=0) as producer,
    ):
        producer.queue_for_send(b"stuck")
        raise LookupError("the body failed")
    body, *rest = caught.value.exceptions
    assert isinstance(body, LookupError)
    assert [type(e) for e in rest] == [PublishError]
