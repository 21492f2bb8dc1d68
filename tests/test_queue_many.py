"""queue_many_for_send and try_queue_many_for_send: order, routing, the bound, partial
acceptance (always a prefix, and ``QueueManyProgress`` says how long), bad input,
cancellation and a closed producer."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import anyio
import pytest

from anyio_eventhubs import (
    EventData,
    EventTooLargeError,
    JournalOptions,
    JournalWriteError,
    ProducerClosedError,
    QueueManyProgress,
    open_streaming_producer,
    partition_for_key,
)
from anyio_eventhubs.testing import InMemoryEventHub

from .helpers import Recorder, one_event_batch_hub, padded
from .journal.helpers import segments
from .journal.test_producer_journal import crash_with_events

pytestmark = pytest.mark.anyio


async def test_events_go_in_order_and_round_robin_continues_across_calls() -> None:
    hub = InMemoryEventHub(4)
    async with open_streaming_producer(transport=hub) as producer:
        await producer.queue_for_send(b"0")
        await producer.queue_many_for_send([b"1", "2", EventData(b"3"), b"4"])
        assert producer.try_queue_many_for_send([b"5", b"6"]) == 2
        await producer.queue_for_send(b"7")
    assert [hub.published_bodies(p) for p in "0123"] == [
        [b"0", b"4"],
        [b"1", b"5"],
        [b"2", b"6"],
        [b"3", b"7"],
    ]


async def test_a_key_or_an_id_routes_every_event_of_the_call() -> None:
    hub = InMemoryEventHub(5)
    key = "device-7"
    async with open_streaming_producer(transport=hub) as producer:
        await producer.queue_many_for_send([b"k1", EventData(b"k2")], partition_key=key)
        assert producer.try_queue_many_for_send([b"k3"], partition_key=key) == 1
        await producer.queue_many_for_send([b"i1", b"i2"], partition_id="3")
    home = partition_for_key(key, hub.partition_ids)
    keyed = [e for e in hub.published_events(home) if e.partition_key == key.encode()]
    assert [e.body_as_str() for e in keyed] == ["k1", "k2", "k3"]
    assert [b for b in hub.published_bodies("3") if b.startswith(b"i")] == [b"i1", b"i2"]
    assert hub.published_count() == 5


async def test_a_full_partition_makes_the_call_wait_and_it_resumes_in_order() -> None:
    hub = one_event_batch_hub()
    hub.hold_sends()
    progress = QueueManyProgress()
    events = [padded(b"%d" % i) for i in range(7)]
    async with open_streaming_producer(
        transport=hub, max_wait_time=None, max_queued_events=3
    ) as producer:
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: producer.queue_many_for_send(events, progress=progress))
            await hub.wait_sends_in_flight(1)
            await anyio.wait_all_tasks_blocked()
            # one in flight (held), a full head batch, and three behind it
            assert progress.accepted == 5
            assert producer.get_partition_queued_event_count("0") == 5
            hub.release_sends()
        assert progress.accepted == 7
    assert hub.published_bodies("0") == events


async def test_try_accepts_the_prefix_that_has_room_and_stops_at_the_first_full_partition() -> None:
    hub = one_event_batch_hub(2)
    hub.hold_sends()
    rec = Recorder()
    pre, a, b, c, d = (padded(x) for x in (b"pre", b"a", b"b", b"c", b"d"))
    async with open_streaming_producer(
        transport=hub, max_wait_time=None, max_queued_events=1, **rec.handlers()
    ) as producer:
        await producer.queue_for_send(pre, partition_id="0")  # partition 0's head batch
        events = [a, b, c, d]  # round robin: 0 (behind pre), 1, 0 (full: stop), ...
        assert producer.try_queue_many_for_send(events) == 2
        assert producer.get_partition_queued_event_count("0") == 2
        assert producer.get_partition_queued_event_count("1") == 1
        await hub.wait_sends_in_flight(1)  # partition 0's full head batch is due
        hub.release_sends()
    assert sorted(rec.published_events) == sorted([a, b, pre])
    assert hub.published_bodies("0") == [pre, a]


async def test_try_on_a_full_partition_accepts_nothing() -> None:
    hub = one_event_batch_hub()
    hub.hold_sends()
    first = [padded(b"first"), padded(b"second")]
    async with open_streaming_producer(
        transport=hub, max_wait_time=None, max_queued_events=1
    ) as producer:
        for event in first:  # a full head batch and one event behind it
            await producer.queue_for_send(event)
        assert producer.try_queue_many_for_send([padded(b"x"), padded(b"y")]) == 0
        assert producer.total_queued_event_count == 2
        hub.release_sends()
    assert hub.published_bodies("0") == first


@pytest.mark.parametrize(
    ("events", "error", "match", "index"),
    [
        ([b"ok", b"ok", 7], TypeError, "event must be EventData, bytes or str, got int", 2),
        ([b"ok", bytearray(b"no")], TypeError, "got bytearray", 1),
        (["ok", "\ud800"], ValueError, "valid Unicode", 1),
        ([b"ok", b"x" * 2000], EventTooLargeError, "larger than", 1),
    ],
)
async def test_a_bad_event_anywhere_refuses_the_whole_call(
    events: list[object], error: type[Exception], match: str, index: int
) -> None:
    hub = InMemoryEventHub(2, max_message_size=1024)
    async with open_streaming_producer(transport=hub) as producer:
        with pytest.raises(error, match=match) as raised:
            await producer.queue_many_for_send(events)  # type: ignore[arg-type]
        notes = getattr(raised.value, "__notes__", [])
        assert notes == [
            f"raised for events[{index}] of the {len(events)} given; none of them was accepted"
        ]
        with pytest.raises(error, match=match):
            producer.try_queue_many_for_send(events)  # type: ignore[arg-type]
        assert producer.total_queued_event_count == 0
        # the round robin did not move: the next event goes to the first partition
        await producer.queue_for_send(b"next")
    assert hub.published_bodies("0") == [b"next"]


@pytest.mark.parametrize(
    ("events", "kwargs", "error", "match"),
    [
        (b"bytes", {}, TypeError, "events must be a sequence .* got bytes"),
        ("text", {}, TypeError, "events must be a sequence .* got str"),
        ((e for e in [b"a"]), {}, TypeError, "events must be a sequence .* got generator"),
        ([b"a"], {"partition_id": "0", "partition_key": "k"}, ValueError, "not both"),
        ([b"a"], {"partition_id": "9"}, ValueError, "no partition '9'"),
        ([], {"partition_key": ""}, ValueError, "must not be empty"),
        ([b"a"], {"partition_key": 5}, TypeError, "partition_key must be a str"),
    ],
)
async def test_bad_arguments_are_refused_before_anything_is_accepted(
    events: object, kwargs: dict[str, object], error: type[Exception], match: str
) -> None:
    async with open_streaming_producer(transport=InMemoryEventHub(2)) as producer:
        with pytest.raises(error, match=match):
            await producer.queue_many_for_send(events, **kwargs)  # type: ignore[arg-type]
        with pytest.raises(error, match=match):
            producer.try_queue_many_for_send(events, **kwargs)  # type: ignore[arg-type]
        assert producer.total_queued_event_count == 0


async def test_an_empty_list_accepts_nothing_and_is_still_a_checkpoint() -> None:
    async with open_streaming_producer(transport=InMemoryEventHub(2)) as producer:
        assert producer.try_queue_many_for_send([]) == 0
        await producer.queue_many_for_send(())
        with anyio.CancelScope() as scope:
            scope.cancel()
            await producer.queue_many_for_send([])
        assert scope.cancelled_caught
        assert producer.total_queued_event_count == 0


async def test_a_cancelled_call_accepted_exactly_the_prefix_progress_names() -> None:
    hub = one_event_batch_hub()
    hub.hold_sends()
    rec = Recorder()
    progress = QueueManyProgress()
    events = [padded(b"%d" % i) for i in range(6)]
    async with open_streaming_producer(
        transport=hub, max_wait_time=None, max_queued_events=2, **rec.handlers()
    ) as producer:
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(lambda: producer.queue_many_for_send(events, progress=progress))
                await hub.wait_sends_in_flight(1)
                await anyio.wait_all_tasks_blocked()
                scope.cancel()
        assert scope.cancelled_caught
        # one in flight (held), a full head batch, two behind it; the rest waited
        assert progress.accepted == 4
        assert producer.total_queued_event_count == 4
        hub.release_sends()
    # each accepted event got exactly one outcome; the others were never accepted
    assert rec.published_events == events[: progress.accepted]
    assert rec.failed_events == []


async def test_a_call_cancelled_before_it_starts_accepts_nothing() -> None:
    progress = QueueManyProgress()
    progress.accepted = 99  # reset by the call
    async with open_streaming_producer(transport=InMemoryEventHub(1)) as producer:
        with anyio.CancelScope() as scope:
            scope.cancel()
            await producer.queue_many_for_send([b"a", b"b"], progress=progress)
        assert scope.cancelled_caught
        assert progress.accepted == 0
        assert producer.total_queued_event_count == 0


async def test_a_long_call_lets_other_tasks_run_between_events() -> None:
    seen: list[int] = []
    progress = QueueManyProgress()
    count = 9000
    async with open_streaming_producer(
        transport=InMemoryEventHub(1), max_queued_events=count
    ) as producer:

        async def probe() -> None:
            while len(seen) < 3:
                seen.append(progress.accepted)
                await anyio.lowlevel.checkpoint()

        async with anyio.create_task_group() as tg:
            tg.start_soon(probe)
            await anyio.lowlevel.checkpoint()  # the probe saw 0 accepted
            await producer.queue_many_for_send([b"e"] * count, progress=progress)
        assert progress.accepted == count
    # the probe ran while the call was partway (at an event boundary)
    assert any(0 < n < count for n in seen), seen


async def test_a_closed_producer_refuses_the_call() -> None:
    async with open_streaming_producer(transport=InMemoryEventHub(1)) as producer:
        pass
    with pytest.raises(ProducerClosedError, match="is closed"):
        await producer.queue_many_for_send([b"a"])
    with pytest.raises(ProducerClosedError, match="is closed"):
        producer.try_queue_many_for_send([b"a"])


async def test_a_close_while_waiting_says_how_many_were_accepted() -> None:
    hub = one_event_batch_hub()
    hub.hold_sends()
    rec = Recorder()
    progress = QueueManyProgress()
    raised: list[BaseException] = []
    events = [padded(x) for x in (b"a", b"b", b"c", b"d")]
    async with open_streaming_producer(
        transport=hub, max_wait_time=None, max_queued_events=1, **rec.handlers()
    ) as producer:

        async def queue() -> None:
            try:
                await producer.queue_many_for_send(events, progress=progress)
            except ProducerClosedError as exc:
                raised.append(exc)

        async with anyio.create_task_group() as tg:
            tg.start_soon(queue)
            await hub.wait_sends_in_flight(1)
            await anyio.wait_all_tasks_blocked()
            tg.start_soon(producer.aclose)
            await anyio.wait_all_tasks_blocked()
            assert len(raised) == 1
            hub.release_sends()
    # in flight, the head batch, one behind it: the fourth waited
    assert "accepting 3 of the 4 events" in str(raised[0])
    assert progress.accepted == 3
    assert rec.published_events == events[:3]


# -- with a journal (open_streaming_producer(journal=...)) --------------------------------


async def test_with_a_journal_recovered_events_go_first_then_the_list_in_order(
    tmp_path: Path,
) -> None:
    await crash_with_events(tmp_path / "j", [(b"old0", {"partition_id": "0"}), (b"old1", {})])
    hub = InMemoryEventHub(2)
    async with open_streaming_producer(transport=hub, journal=tmp_path / "j") as producer:
        assert producer.try_queue_many_for_send([b"new"], partition_id="0") == 0  # recovering
        await producer.queue_many_for_send([b"a", b"b", b"c"], partition_id="0")
        await producer.flush()
        assert producer.statistics().recovered == 2
    assert hub.published_bodies("0") == [b"old0", b"old1", b"a", b"b", b"c"]
    assert segments(tmp_path / "j") == []


@pytest.mark.parametrize("mapped", [False, True], ids=["written", "mapped"])
async def test_with_a_journal_a_write_failure_ends_the_accepted_prefix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mapped: bool
) -> None:
    hub = InMemoryEventHub(2)
    progress = QueueManyProgress()
    events = [b"e%d" % i for i in range(40)]
    # the journal writes each record (format 1), or reserves space for it (format 2,
    # here one record at a time), until the disk is full
    monkeypatch.setattr("anyio_eventhubs._journal._store.mapping_available", lambda: mapped)
    monkeypatch.setattr("anyio_eventhubs._journal._mapped.STEP", 1)
    name = "posix_fallocate" if mapped else "write"
    real = getattr(os, name)
    writes = 0

    def fills_up(fd: int, *args: Any) -> int:
        nonlocal writes
        writes += 1
        if writes > 5:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd, *args)  # type: ignore[no-any-return]

    async with open_streaming_producer(
        transport=hub, journal=JournalOptions(tmp_path / "j"), max_wait_time=None
    ) as producer:
        monkeypatch.setattr(os, name, fills_up)
        with pytest.raises(JournalWriteError, match="not accepted") as raised:
            await producer.queue_many_for_send(events, progress=progress)
        monkeypatch.setattr(os, name, real)
        accepted = progress.accepted
        assert 0 < accepted < len(events)
        assert raised.value.__notes__ == [
            f"{accepted} of the 40 events of this call were accepted before it; the rest were not"
        ]
        assert producer.total_queued_event_count == accepted
    # round robin over two partitions: the prefix, each partition's share in order
    assert hub.published_bodies("0") + hub.published_bodies("1") == (
        events[:accepted:2] + events[1:accepted:2]
    )
