"""The blocking producer's queue_many_for_send and try_queue_many_for_send: the async
contract (a prefix, QueueManyProgress) with a timeout instead of cancellation."""

from __future__ import annotations

import threading

import pytest

from anyio_eventhubs import (
    EventTooLargeError,
    ProducerClosedError,
    QueueManyProgress,
    partition_for_key,
)
from anyio_eventhubs.sync import open_streaming_producer
from anyio_eventhubs.testing import InMemoryEventHub

from ..helpers import ONE_EVENT_BATCH_SIZE, padded
from .helpers import PATIENCE, GatedHub


def test_events_go_in_order_by_round_robin_key_or_id(backend: str) -> None:
    hub = InMemoryEventHub(partition_count=3)
    with open_streaming_producer(transport=hub, backend=backend) as producer:
        producer.queue_many_for_send([b"r0", b"r1", b"r2", b"r3"])
        producer.queue_many_for_send([b"k0", "k1"], partition_key="device-7")
        assert producer.try_queue_many_for_send([b"i0", b"i1"], partition_id="2") == 2
    round_robin = [[b for b in hub.published_bodies(p) if b.startswith(b"r")] for p in "012"]
    assert round_robin == [[b"r0", b"r3"], [b"r1"], [b"r2"]]
    home = partition_for_key("device-7", hub.partition_ids)
    assert [b for b in hub.published_bodies(home) if b.startswith(b"k")] == [b"k0", b"k1"]
    assert [b for b in hub.published_bodies("2") if b.startswith(b"i")] == [b"i0", b"i1"]
    assert hub.published_count() == 8


def test_a_call_waits_for_room_and_a_timeout_names_the_accepted_prefix(backend: str) -> None:
    hub = GatedHub(partition_count=1, max_message_size=ONE_EVENT_BATCH_SIZE)
    hub.hold()
    progress = QueueManyProgress()
    bodies = [padded(b"%d" % n) for n in range(6)]
    with open_streaming_producer(
        transport=hub, backend=backend, max_queued_events=2, max_wait_time=None
    ) as producer:
        # one in flight (held), the head batch and two behind it: 4 fit
        with pytest.raises(TimeoutError, match="4 of the 6 events were accepted"):
            producer.queue_many_for_send(bodies, timeout=0.2, progress=progress)
        assert progress.accepted == 4
        assert producer.get_partition_queued_event_count("0") == 4
        # waiting without a timeout: it resumes once the held batch is acknowledged
        waiter = threading.Thread(target=producer.queue_many_for_send, args=(bodies[4:],))
        waiter.start()
        hub.wait_sends_started(1)
        assert waiter.is_alive()
        hub.release()
        waiter.join(PATIENCE)
        assert not waiter.is_alive()
    assert hub.hub.published_bodies("0") == bodies


def test_try_accepts_the_prefix_with_room(backend: str) -> None:
    hub = GatedHub(partition_count=1, max_message_size=ONE_EVENT_BATCH_SIZE)
    hub.hold()
    pre = padded(b"pre")
    events = [padded(b"%d" % n) for n in range(8)]
    with open_streaming_producer(
        transport=hub, backend=backend, max_queued_events=3, max_wait_time=None
    ) as producer:
        producer.queue_for_send(pre)
        # events on their way to the loop count as behind the head batch: at least 2 fit,
        # at most 4 (one in flight, the head batch, three behind it)
        accepted = producer.try_queue_many_for_send(events)
        assert 2 <= accepted <= 4
        hub.wait_sends_started(1)
        hub.release()
    assert hub.hub.published_bodies("0") == [pre, *events[:accepted]]


def test_a_bad_event_refuses_the_whole_call(backend: str) -> None:
    hub = InMemoryEventHub(partition_count=1, max_message_size=1024)
    with open_streaming_producer(transport=hub, backend=backend) as producer:
        with pytest.raises(EventTooLargeError) as raised:
            producer.queue_many_for_send([b"ok", b"x" * 2000])
        assert raised.value.__notes__ == [
            "raised for events[1] of the 2 given; none of them was accepted"
        ]
        with pytest.raises(TypeError, match="got int"):
            producer.try_queue_many_for_send([b"ok", 7])  # type: ignore[list-item]
        assert producer.total_queued_event_count == 0
    assert hub.published_count() == 0


def test_a_closed_producer_refuses_the_call(backend: str) -> None:
    with open_streaming_producer(transport=InMemoryEventHub(1), backend=backend) as producer:
        pass
    with pytest.raises(ProducerClosedError):
        producer.queue_many_for_send([b"a"])
    with pytest.raises(ProducerClosedError):
        producer.try_queue_many_for_send([b"a"])
