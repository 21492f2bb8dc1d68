"""A round-robin ``queue_for_send(EventData)`` whose event is its body alone joins a run,
as a ``bytes`` event does: no object of ours per event (one less for the garbage
collector to walk), yet every ``EventData`` is still held, counted against
``max_queued_events`` and handed back to the handlers until its outcome (a producer
with no handler does not hold them: ``test_event_data_unheld``)."""

from __future__ import annotations

import anyio
import pytest
from azure.eventhub import EventData

from anyio_eventhubs import EventTooLargeError, StreamingProducer, open_streaming_producer
from anyio_eventhubs._events import QueuedEvent, encode_event
from anyio_eventhubs._intake import Intake
from anyio_eventhubs._runs import QueuedRun, events_of
from anyio_eventhubs.testing import InMemoryEventHub

from .helpers import Recorder


def _body(i: int) -> bytes:
    return (b"%d." % i).ljust(40, b"e")


def _event_data(i: int) -> EventData:
    return EventData(_body(i))


async def _release_and_flush(hub: InMemoryEventHub, producer: StreamingProducer) -> None:
    hub.release_sends()
    with anyio.fail_after(5):
        await producer.flush()


@pytest.mark.parametrize("size", [0, 1, 250, 251, 255, 256, 300, 70_000])
def test_prepare_plain_event_data_encodes_as_prepare_does(size: int) -> None:
    event = EventData(b"b" * size)
    fast, slow = Intake("hub", ("0", "1"), 1 << 20), Intake("hub", ("0", "1"), 1 << 20)
    parts = fast.prepare_plain_event_data(event)
    pid, item = slow.prepare(event, None, None)
    assert parts == (pid, item.encoded, item.size)
    assert item.encoded == encode_event(event, None)
    assert fast.prepare_plain_event_data(event) is not None
    assert fast.prepare(b"x", None, None)[0] == "0"  # the turn moved twice


def test_prepare_plain_event_data_leaves_other_events_to_prepare() -> None:
    intake = Intake("hub", ("0", "1"), 1000)
    with_properties = EventData(b"body")
    with_properties.properties = {"k": "v"}
    with_id = EventData(b"body")
    with_id.message_id = "id-1"
    two_sections = EventData([b"a", b"b"])
    for event in (with_properties, with_id, two_sections):
        assert intake.prepare_plain_event_data(event) is None
    # encoded otherwise: a stamp for idempotent publishing, or telemetry's encoder
    stamped = Intake("hub", ("0",), 1000, reserved_per_event=20)
    traced = Intake("hub", ("0",), 1000, encode=encode_event)
    assert stamped.prepare_plain_event_data(EventData(b"x")) is None
    assert traced.prepare_plain_event_data(EventData(b"x")) is None
    assert intake.prepare(b"x", None, None)[0] == "0"  # nothing moved the turn


def test_prepare_plain_event_data_refuses_an_event_that_never_fits() -> None:
    intake = Intake("hub", ("0", "1"), 200)
    with pytest.raises(EventTooLargeError):
        intake.prepare_plain_event_data(EventData(b"x" * 200))
    assert intake.prepare(b"x", None, None)[0] == "0"  # the turn did not move


def test_a_split_run_counts_the_event_data_of_each_part() -> None:
    events: list[bytes | EventData] = [b"a", _event_data(1), b"b", _event_data(3), b"c"]
    run = QueuedRun(events, [b"m"] * 5, [6] * 5, event_data=2)
    head, rest = run.split(2)
    assert (head.event_data, rest.event_data) == (1, 1)
    head, rest = rest.split(2)  # [b"b", EventData], [b"c"]
    assert (head.event_data, rest.event_data) == (1, 0)
    only = QueuedRun([_event_data(i) for i in range(4)], [b"m"] * 4, [6] * 4, event_data=4)
    head, rest = only.split(3)
    assert (head.event_data, rest.event_data) == (3, 1)


@pytest.mark.anyio
async def test_round_robin_event_data_join_runs_and_are_held_until_their_outcome() -> None:
    hub = InMemoryEventHub(2)
    hub.hold_sends()
    rec = Recorder()
    events = [_event_data(i) for i in range(6)]
    async with open_streaming_producer(
        transport=hub, max_wait_time=None, max_queued_events=100, **rec.handlers()
    ) as producer:
        try:
            for event in events:
                await producer.queue_for_send(event)
            for pid in ("0", "1"):
                part = producer._parts[pid]
                (run,) = part.queue._pending  # one run, no QueuedEvent per event
                assert type(run) is QueuedRun
                assert run.event_data == 3
                assert events_of([run]) == events[int(pid) :: 2]
                assert part.held_event_data == 3
            await _release_and_flush(hub, producer)
        finally:
            hub.release_sends()
        assert [p.held_event_data for p in producer._parts.values()] == [0, 0]
    by_partition = rec.by_partition()
    for pid in ("0", "1"):  # the caller's very objects, in order
        assert all(a is b for a, b in zip(by_partition[pid], events[int(pid) :: 2], strict=True))
        assert hub.published_bodies(pid) == [_body(i) for i in range(int(pid), 6, 2)]


@pytest.mark.anyio
async def test_queue_for_send_of_event_data_keeps_the_bound_and_early_send() -> None:
    hub = InMemoryEventHub(1)
    hub.hold_sends()
    rec = Recorder()  # (a handler: the producer holds the EventData for it)
    async with open_streaming_producer(
        transport=hub, max_wait_time=None, max_queued_events=4, **rec.handlers()
    ) as producer:
        try:
            await producer.queue_for_send(_event_data(0))
            await anyio.wait_all_tasks_blocked()
            assert hub.sends_in_flight == 0  # below half the bound: it waits
            await producer.queue_for_send(_event_data(1))  # half the bound: sent
            with anyio.fail_after(5):
                await hub.wait_sends_in_flight(1)
            await producer.queue_for_send(_event_data(2))
            await producer.queue_for_send(_event_data(3))
            # four held without an outcome (two in flight): no room for a fifth
            assert producer._parts["0"].held_event_data == 4
            assert not producer.try_queue_for_send(_event_data(4))
        finally:
            hub.release_sends()
    assert hub.published_bodies("0") == [_body(i) for i in range(4)]


@pytest.mark.anyio
async def test_mixed_runs_of_bytes_and_event_data_split_publish_and_clear_once() -> None:
    hub = InMemoryEventHub(2, max_message_size=600)  # about twelve events a batch
    hub.hold_sends()
    rec = Recorder()
    events: list[bytes | EventData] = [
        _event_data(i) if i % 3 else (b"%d." % i).ljust(40, b"b") for i in range(120)
    ]
    rich = EventData(b"with properties")
    rich.properties = {"k": "v"}
    events[50] = rich  # queued on its own, between runs
    async with open_streaming_producer(
        transport=hub, max_wait_time=None, max_queued_events=1000, **rec.handlers()
    ) as producer:
        try:
            for event in events:
                await producer.queue_for_send(event)
            with anyio.fail_after(5):
                await hub.wait_sends_in_flight(2)
            hub.release_sends()
            with anyio.fail_after(5):
                await producer.flush()
            assert [p.held_event_data for p in producer._parts.values()] == [0, 0]
            hub.hold_sends()
            for event in events:
                await producer.queue_for_send(event)
            with anyio.fail_after(5):
                await hub.wait_sends_in_flight(2)
            # rich has more than a body: prepare encoded it, and it joined a run too
            pending = producer._parts["0"].queue._pending
            assert not [i for i in pending if type(i) is QueuedEvent]
            assert [e for i in pending for e in events_of([i]) if e is rich] == [rich]
            assert await producer.clear() == 120
            assert [p.held_event_data for p in producer._parts.values()] == [0, 0]
        finally:
            hub.release_sends()
    by_partition = rec.by_partition()
    for pid in ("0", "1"):
        assert all(a is b for a, b in zip(by_partition[pid], events[int(pid) :: 2], strict=True))
    assert sorted(map(id, rec.failed_events)) == sorted(map(id, events))
    (published_rich,) = [e for e in hub.published_events("0") if e.properties]
    assert published_rich.properties == {b"k": b"v"}


class _MyEventData(EventData):
    """A subclass: a run counts the ``EventData`` it holds by exact type."""


@pytest.mark.anyio
async def test_keyed_and_routed_events_join_runs_and_are_held_until_their_outcome() -> None:
    hub = InMemoryEventHub(2)
    hub.hold_sends()
    rec = Recorder()
    rich = EventData(b"rich")
    rich.properties = {"k": "v"}
    sub = _MyEventData(b"sub")
    calls: list[tuple[bytes | str | EventData, dict[str, str]]] = [
        (b"keyed bytes", {"partition_key": "a"}),
        (_event_data(1), {"partition_key": "a"}),
        ("keyed str", {"partition_key": "a"}),
        (rich, {"partition_id": "0"}),
        (sub, {"partition_id": "0"}),
        (_event_data(2), {"partition_id": "0"}),
    ]
    async with open_streaming_producer(
        transport=hub, max_wait_time=None, max_queued_events=100, **rec.handlers()
    ) as producer:
        try:
            for event, route in calls:
                await producer.queue_for_send(event, **route)
            pending = {pid: list(p.queue._pending) for pid, p in producer._parts.items()}
            queued = {pid: events_of(items) for pid, items in pending.items()}
            singles = [
                i.event for items in pending.values() for i in items if type(i) is QueuedEvent
            ]
            assert singles == [sub]  # the subclass alone keeps an object of ours
            held = {pid: p.held_event_data for pid, p in producer._parts.items()}
            assert sum(held.values()) == 4  # every EventData is held, the subclass too
            await _release_and_flush(hub, producer)
        finally:
            hub.release_sends()
        assert [p.held_event_data for p in producer._parts.values()] == [0, 0]
    keyed = [e for e, route in calls if "partition_key" in route]
    routed = [e for e, route in calls if "partition_id" in route]
    by_partition = rec.by_partition()
    assert [e for e in by_partition["0"] if any(e is r for r in routed)] == routed
    all_reported = [e for pid in ("0", "1") for e in by_partition[pid]]
    assert sorted(map(id, all_reported)) == sorted(map(id, keyed + routed))
    # the same partition for every event of a key, in order
    (key_pid,) = {pid for pid in ("0", "1") if any(e is keyed[0] for e in by_partition[pid])}
    assert [e for e in by_partition[key_pid] if any(e is k for k in keyed)] == keyed
    assert [q for q in queued[key_pid] if any(q is k for k in keyed)] == keyed
    published = hub.published_events("0") + hub.published_events("1")
    (published_rich,) = [e for e in published if e.properties]
    assert published_rich.properties == {b"k": b"v"}
    assert {e.partition_key for e in published if e.partition_key} == {b"a"}
