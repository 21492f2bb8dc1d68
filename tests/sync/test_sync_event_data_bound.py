"""The blocking producer counts an ``EventData`` from acceptance until its outcome when it
holds the caller's object (it has a handler), and ``bytes`` only while they wait behind
the head batch."""

from __future__ import annotations

import threading

from anyio_eventhubs import EventData
from anyio_eventhubs.sync import open_streaming_producer

from .helpers import PATIENCE, GatedHub


def test_event_data_without_outcome_fill_a_partition_with_an_empty_backlog(backend: str) -> None:
    hub = GatedHub(partition_count=1)
    hub.hold()
    with open_streaming_producer(  # (a handler: the producer holds the EventData for it)
        transport=hub,
        backend=backend,
        max_queued_events=2,
        max_wait_time=None,
        on_publish_succeeded=lambda args: None,
    ) as producer:
        producer.queue_for_send(EventData(b"0"))
        producer.queue_for_send(EventData(b"1"))
        # both fit the head batch (nothing behind it), yet the partition is full
        assert not producer.try_queue_for_send(EventData(b"refused"))
        assert not producer.try_queue_for_send(b"refused too")
        waiter = threading.Thread(target=producer.queue_for_send, args=(EventData(b"2"),))
        waiter.start()
        hub.wait_sends_started(1)  # waiting flushed the partial head batch
        assert waiter.is_alive()
        hub.release()
        waiter.join(PATIENCE)
        assert not waiter.is_alive()
    assert hub.hub.published_bodies("0") == [b"0", b"1", b"2"]


def test_bytes_fill_the_head_batch_past_max_queued_events(backend: str) -> None:
    hub = GatedHub(partition_count=1)
    hub.hold()
    bodies = [b"%d" % n for n in range(10)]
    with open_streaming_producer(
        transport=hub, backend=backend, max_queued_events=2, max_wait_time=None
    ) as producer:
        for body in bodies:  # all in the head batch: none waits behind it
            producer.queue_for_send(body)
        assert producer.get_partition_queued_event_count("0") == len(bodies)
        assert hub.sends_started == 0  # nothing was due: no flush
        hub.release()
    assert hub.hub.published_bodies("0") == bodies


def test_a_refused_try_sends_a_head_batch_its_event_data_fill(backend: str) -> None:
    # with max_wait_time=None only a flush sends a partial batch: a caller that only ever
    # tries must not be refused forever
    # (the sends are held until the refusal: the first EventData go out early, once half
    # the bound is held, and their outcome would otherwise make room before it)
    sent = threading.Event()
    hub = GatedHub(partition_count=1)
    hub.hold()
    with open_streaming_producer(
        transport=hub,
        backend=backend,
        max_queued_events=2,
        max_wait_time=None,
        on_publish_succeeded=lambda args: sent.set(),
    ) as producer:
        assert producer.try_queue_for_send(EventData(b"0"))
        assert producer.try_queue_for_send(EventData(b"1"))
        assert not producer.try_queue_for_send(EventData(b"refused"))
        hub.release()
        assert sent.wait(PATIENCE)  # nothing else was due: no deadline, no flush
    assert hub.hub.published_bodies("0") == [b"0", b"1"]


def test_without_handlers_event_data_are_not_held_or_counted(backend: str) -> None:
    hub = GatedHub(partition_count=1)
    hub.hold()
    with open_streaming_producer(
        transport=hub, backend=backend, max_queued_events=2, max_wait_time=None
    ) as producer:
        # only their messages are kept: they count as bytes do, behind the head batch,
        # so all five join it (held, the third would wait for an outcome that never comes)
        for i in range(5):
            producer.queue_for_send(EventData(b"%d" % i), timeout=PATIENCE)
        producer.queue_many_for_send([EventData(b"%d" % i) for i in range(5, 8)], timeout=PATIENCE)
        assert producer.statistics().partitions["0"].queued == 8
        assert hub.sends_started == 0
        hub.release()
    assert hub.hub.published_bodies("0") == [b"%d" % i for i in range(8)]
