"""A producer with no handler does not hold the ``EventData`` it accepts (without a
journal): it has nothing to hand the very object back to, so its run keeps only the
event's encoded message, with :data:`~anyio_eventhubs._runs.UNHELD` in the event's
place. The caller's object can be freed as soon as ``queue_for_send`` returns, it is not
counted against ``max_queued_events`` as held, and a ``PublishError`` (the only report
left) gets each such event decoded from its message."""

from __future__ import annotations

import gc
import weakref

import anyio
import pytest
from azure.eventhub import EventData

from anyio_eventhubs import AuthenticationError, PublishError, open_streaming_producer
from anyio_eventhubs import _runs as runs_module
from anyio_eventhubs._events import encode_event
from anyio_eventhubs._runs import UNHELD, QueuedRun, events_of
from anyio_eventhubs.testing import InMemoryEventHub

from .helpers import Recorder


def _rich(body: bytes) -> EventData:
    event = EventData(body)
    event.properties = {"k": "v", "n": 7}
    return event


@pytest.mark.anyio
@pytest.mark.parametrize("with_handler", [False, True])
async def test_event_data_is_held_only_for_a_handler(with_handler: bool) -> None:
    hub = InMemoryEventHub(2)
    hub.hold_sends()
    rec = Recorder()
    handlers = rec.handlers() if with_handler else {}
    refs: list[weakref.ref[EventData]] = []
    # held: at most 4 per partition without an outcome (the sends are held), so 100
    limit = 100 if with_handler else 4
    async with open_streaming_producer(
        transport=hub, max_wait_time=None, max_queued_events=limit, **handlers
    ) as producer:
        try:
            with anyio.fail_after(5):  # (unheld: never waits for room here)
                for i in range(3):  # round robin, keyed, to a partition: all join runs
                    for route in ({}, {"partition_key": "key"}, {"partition_id": "1"}):
                        event = EventData(b"%d" % i)
                        refs.append(weakref.ref(event))
                        await producer.queue_for_send(event, **route)
                        del event
            gc.collect()
            alive = [r() is not None for r in refs]
            held = sum(p.held_event_data for p in producer._parts.values())
            items = [i for p in producer._parts.values() for i in p.queue._pending]
            runs = [i for i in items if type(i) is QueuedRun]
            assert runs == items
            unheld = sum(run.unheld for run in runs)
            if with_handler:
                assert all(alive)
                assert (held, unheld) == (9, 0)
            else:
                assert not any(alive)
                assert (held, unheld) == (0, 9)
                # not held, so not counted: room stays while the sends are held
                assert all(p.has_room(4) for p in producer._parts.values())
            hub.release_sends()
            with anyio.fail_after(5):
                await producer.flush()
        finally:
            hub.release_sends()
    assert hub.published_count() == 9
    assert len(rec.published_events) == (9 if with_handler else 0)


@pytest.mark.anyio
async def test_publish_error_without_handler_gets_events_decoded_from_their_messages() -> None:
    hub = InMemoryEventHub(1)
    hub.hold_sends()
    plain, keyed, rich = EventData(b"plain"), EventData(b"keyed"), _rich(b"rich")
    tried, many, rich_round_robin = _rich(b"tried"), EventData(b"many"), _rich(b"rr")
    with pytest.raises(PublishError) as info:
        async with open_streaming_producer(transport=hub, max_wait_time=None) as producer:
            await producer.queue_for_send(plain)
            await producer.queue_for_send(b"bytes")
            await producer.queue_for_send(keyed, partition_key="k")
            await producer.queue_for_send(rich, partition_id="0")
            await producer.queue_for_send(rich_round_robin)  # (not its body alone)
            # queued one by one as objects of the producer's (not in runs): not held either
            assert producer.try_queue_for_send(tried)
            await producer.queue_many_for_send([many, b"many bytes"])
            assert producer._parts["0"].held_event_data == 0
            hub.fail_next_sends(1, error=AuthenticationError("bad key"))
            hub.release_sends()
    events = info.value.events
    assert info.value.may_have_been_published is False
    assert events[1] == b"bytes"
    assert events[7] == b"many bytes"
    originals = (plain, keyed, rich, rich_round_robin, tried, many)
    decoded = [events[i] for i in (0, 2, 3, 4, 5, 6)]
    assert all(type(e) is EventData for e in decoded)
    assert not any(e is o for e, o in zip(decoded, originals, strict=True))
    bodies = [e.body_as_str() for e in decoded]
    assert bodies == ["plain", "keyed", "rich", "rr", "tried", "many"]
    assert decoded[1].partition_key == b"k"
    for rich_one in decoded[2:5]:
        assert rich_one.properties == {b"k": b"v", b"n": 7}
    assert UNHELD not in events


@pytest.mark.anyio
async def test_clear_without_handler_counts_unheld_event_data_without_decoding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_decoding(message: bytes) -> EventData:
        raise AssertionError("clear() without a handler decoded an event nobody reads")

    monkeypatch.setattr(runs_module, "decode_message", no_decoding)
    hub = InMemoryEventHub(2)
    hub.hold_sends()
    async with open_streaming_producer(transport=hub, max_wait_time=0) as producer:
        try:
            for i in range(40):  # a send in flight on each partition, the rest queued
                await producer.queue_for_send(EventData(b"%d" % i))
                if i == 1:
                    with anyio.fail_after(5):
                        await hub.wait_sends_in_flight(2)
            with anyio.fail_after(5):
                assert await producer.clear() == 40
        finally:
            hub.release_sends()
    assert hub.published_count() == 0


def test_a_split_run_counts_the_unheld_events_of_each_part() -> None:
    held = EventData(b"held")
    events: list[bytes | EventData] = [b"a", UNHELD, held, UNHELD, b"c"]
    messages = [b"m-%d" % i for i in range(5)]
    run = QueuedRun(events, messages, [6] * 5, event_data=1, unheld=2)
    head, rest = run.split(2)
    assert (head.unheld, rest.unheld) == (1, 1)
    assert (head.event_data, rest.event_data) == (0, 1)
    only = QueuedRun([UNHELD] * 4, messages[:4], [6] * 4, unheld=4)
    head, rest = only.split(3)
    assert (head.unheld, rest.unheld) == (3, 1)
    # a report decodes an unheld event from its message (the others are as queued)
    plain = EventData(b"x")
    message = encode_event(plain, None)
    mixed = QueuedRun([b"a", UNHELD, held], [b"-", message, b"-"], [6] * 3, 1, unheld=1)
    out = events_of([mixed])
    assert out[0] == b"a"
    assert out[2] is held
    assert isinstance(out[1], EventData)
    assert out[1].body_as_str() == "x"
