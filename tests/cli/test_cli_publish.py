"""The engine of ``send`` and ``demo``: lines to events, outcomes, and Ctrl-C by phase."""

from __future__ import annotations

import io
import json
import signal
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager

import anyio
import click
import pytest

from anyio_eventhubs import ConnectionLostError, NotFoundError, partition_for_key
from anyio_eventhubs._cli._outcomes import FailedOut
from anyio_eventhubs._cli._publish import (
    Outcome,
    PublishSettings,
    partition_key_of,
    publish_lines,
)
from anyio_eventhubs._cli._signals import presses
from anyio_eventhubs._cli._summary import summary
from anyio_eventhubs.testing import InMemoryEventHub

from ..helpers import one_event_batch_hub, padded
from .helpers import RecordingView

pytestmark = pytest.mark.anyio


async def _lines(*batches: list[bytes]) -> AsyncGenerator[list[bytes], None]:
    for batch in batches:
        yield batch


def _readings(count: int, devices: int = 5) -> list[bytes]:
    return [json.dumps({"device": f"dev-{i % devices}", "seq": i}).encode() for i in range(count)]


async def test_every_non_empty_line_is_published_once() -> None:
    hub = InMemoryEventHub(3)
    view = RecordingView()
    outcome = await publish_lines(
        _lines([b"one", b"", b"two"], [b"  ", b"three"]),
        {"transport": hub},
        PublishSettings(max_wait_time=None),
        view,
    )
    assert outcome.exit_code == 0
    assert (outcome.counters.queued, outcome.counters.published) == (3, 3)
    bodies = sorted(b for pid in hub.partition_ids for b in hub.published_bodies(pid))
    assert bodies == [b"one", b"three", b"two"]
    assert view.started
    assert view.stopped
    assert view.updates[-1].published == 3


async def test_a_key_field_routes_each_line_where_the_service_hashes_its_key() -> None:
    hub = InMemoryEventHub(4)
    lines = _readings(200, devices=9)
    outcome = await publish_lines(
        _lines(lines[:120], lines[120:]),
        {"transport": hub},
        PublishSettings(partition_key_field="device", max_wait_time=None),
        RecordingView(),
    )
    assert outcome.counters.published == 200
    for pid in hub.partition_ids:
        for event in hub.published_events(pid):
            document = json.loads(b"".join(event.body))  # type: ignore[arg-type]
            assert partition_for_key(document["device"], hub.partition_ids) == pid
            assert event.partition_key == document["device"].encode()
    seqs = [json.loads(b) for b in hub.published_bodies("0")]
    for device in {d["device"] for d in seqs}:
        order = [d["seq"] for d in seqs if d["device"] == device]
        assert order == sorted(order)


async def test_lines_without_the_key_field_are_skipped_counted_and_fail_the_exit_code() -> None:
    hub = InMemoryEventHub(2)
    view = RecordingView()
    outcome = await publish_lines(
        _lines([b'{"k": "a"}', b"not json", b'{"other": 1}', b'["k"]', b'{"k": ""}']),
        {"transport": hub},
        PublishSettings(partition_key_field="k", max_wait_time=None),
        view,
    )
    assert (outcome.counters.published, outcome.counters.invalid) == (1, 4)
    assert outcome.exit_code == 1
    assert view.messages[0].startswith("line 2: not JSON")
    assert view.messages[1] == "line 3: no field 'k'; skipped"
    assert "not a JSON object" in view.messages[2]
    assert "not a non-empty string or number" in view.messages[3]


def test_a_key_is_a_string_field_or_a_number_as_json() -> None:
    assert partition_key_of(b'{"id": "dev-1"}', "id") == "dev-1"
    assert partition_key_of(b'{"id": 42}', "id") == "42"
    assert partition_key_of(b'{"id": 2.5}', "id") == "2.5"
    for bad in (b'{"id": true}', b'{"id": null}', b'{"id": {}}', b"\xff"):
        with pytest.raises(ValueError, match=r"id|JSON"):
            partition_key_of(bad, "id")


async def test_a_partition_id_sends_everything_there() -> None:
    hub = InMemoryEventHub(4)
    outcome = await publish_lines(
        _lines([b"a", b"b", b"c"]),
        {"transport": hub},
        PublishSettings(partition_id="2", max_wait_time=None),
        RecordingView(),
    )
    assert outcome.counters.published == 3
    assert hub.published_bodies("2") == [b"a", b"b", b"c"]


async def test_an_unknown_partition_id_is_a_usage_error() -> None:
    with pytest.raises(click.UsageError, match=r"no partition '7'; its partitions are 0, 1"):
        await publish_lines(
            _lines([b"a"]),
            {"transport": InMemoryEventHub(2)},
            PublishSettings(partition_id="7"),
            RecordingView(),
        )


async def test_failed_events_are_counted_with_their_error() -> None:
    hub = InMemoryEventHub(1)
    hub.fail_next_sends(1, error=NotFoundError)
    outcome = await publish_lines(
        _lines([b"a", b"b"], [b"c"]),
        {"transport": hub},
        PublishSettings(max_wait_time=None, max_queued_events=2),
        RecordingView(),
    )
    counters = outcome.counters
    # the three lines went out in one batch (the partition never filled), which failed
    assert (counters.published, counters.failed, counters.not_published) == (0, 3, 3)
    assert counters.errors["failed"] == {"NotFoundError: fault injected by InMemoryEventHub": 3}
    assert outcome.exit_code == 1


async def test_an_event_too_large_for_the_hub_is_skipped() -> None:
    hub = InMemoryEventHub(1, max_message_size=200)
    view = RecordingView()
    outcome = await publish_lines(
        _lines([b"small", b"x" * 500]), {"transport": hub}, PublishSettings(), view
    )
    assert (outcome.counters.published, outcome.counters.invalid) == (1, 1)
    assert "larger than the hub's maximum message size" in view.messages[0]


async def test_only_the_first_invalid_lines_are_shown() -> None:
    outcome = await publish_lines(
        _lines([b"x"] * 9),
        {"transport": InMemoryEventHub(1)},
        PublishSettings(partition_key_field="k"),
        view := RecordingView(),
    )
    assert outcome.counters.invalid == 9
    assert len(view.messages) == 6
    assert view.messages[-1] == "further invalid lines are counted, not shown"


async def test_ctrl_c_while_reading_stops_reading_and_publishes_what_is_queued() -> None:
    send_interrupt, interrupts = anyio.create_memory_object_stream[int](4)

    async def lines() -> AsyncGenerator[list[bytes], None]:
        yield [b"a", b"b", b"c"]
        await send_interrupt.send(signal.SIGINT)  # "the user presses Ctrl-C" while input waits
        await anyio.sleep_forever()
        yield [b"never"]

    hub = InMemoryEventHub(2)
    view = RecordingView()
    with send_interrupt, interrupts:
        outcome = await publish_lines(
            lines(), {"transport": hub}, PublishSettings(max_wait_time=None), view, interrupts
        )
    assert outcome.interrupted
    assert outcome.exit_code == 130
    assert (outcome.counters.queued, outcome.counters.published) == (3, 3)
    assert hub.published_count() == 3
    assert outcome.position.lines == 3  # resume with --skip 3
    assert view.messages == [
        "interrupted: stopped reading; publishing the 3 events already queued "
        "(Ctrl-C again to drop them)"
    ]


async def test_a_second_ctrl_c_drops_what_is_still_queued() -> None:
    send_interrupt, interrupts = anyio.create_memory_object_stream[int](4)
    hub = InMemoryEventHub(2)
    hub.hold_sends()

    async def lines() -> AsyncGenerator[list[bytes], None]:
        yield [b"a", b"b", b"c"]
        await send_interrupt.send(signal.SIGINT)
        await anyio.sleep_forever()
        yield []

    async def second_ctrl_c_once_publishing_hangs() -> None:
        await hub.wait_sends_in_flight(2)
        await send_interrupt.send(signal.SIGINT)

    view = RecordingView()
    with send_interrupt, interrupts:
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(second_ctrl_c_once_publishing_hangs)
            outcome = await publish_lines(
                lines(), {"transport": hub}, PublishSettings(max_wait_time=None), view, interrupts
            )
    counters = outcome.counters
    assert outcome.interrupted
    # in flight when dropped: the service may have stored them
    assert (counters.queued, counters.published, counters.unknown) == (3, 0, 3)
    assert counters.not_published == 3
    assert view.messages[-1] == "interrupted again: dropping the 3 events still queued"


class _NeverConnects:
    """A transport whose connection never opens (a hub that does not answer)."""

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[InMemoryEventHub]:
        await anyio.sleep_forever()
        yield InMemoryEventHub(1)


async def test_ctrl_c_while_connecting_stops_at_once() -> None:
    send_interrupt, interrupts = anyio.create_memory_object_stream[int](4)
    view = RecordingView()
    with send_interrupt, interrupts:
        await send_interrupt.send(signal.SIGINT)
        outcome = await publish_lines(
            _lines([b"a"]), {"transport": _NeverConnects()}, PublishSettings(), view, interrupts
        )
    assert outcome.interrupted
    assert not outcome.connected
    assert outcome.counters.queued == 0
    assert [u.connecting for u in view.updates] == ["the Event Hub"]  # never connected


async def test_bad_connection_options_raise_as_they_are() -> None:
    with pytest.raises(ValueError, match="give a connection string"):
        await publish_lines(_lines([b"a"]), {}, PublishSettings(), RecordingView())


async def test_ctrl_c_with_nothing_queued_says_so_in_words() -> None:
    send_interrupt, interrupts = anyio.create_memory_object_stream[int](4)

    async def lines() -> AsyncGenerator[list[bytes], None]:
        await send_interrupt.send(signal.SIGTERM)
        await anyio.sleep_forever()
        yield []

    view = RecordingView()
    with send_interrupt, interrupts:
        outcome = await publish_lines(
            lines(), {"transport": InMemoryEventHub(1)}, PublishSettings(), view, interrupts
        )
    assert outcome.exit_code == 143  # SIGTERM, handled like a first Ctrl-C
    assert view.messages == ["interrupted: stopped reading; nothing is left to publish"]


async def test_an_outcome_that_may_have_been_stored_exits_3_and_goes_to_failed_out() -> None:
    hub = InMemoryEventHub(1)
    hub.fail_next_sends(1, error=ConnectionLostError)  # the outcome of a lost link is unknown
    out = io.BytesIO()
    outcome = await publish_lines(
        _lines([b"a", b"b"], [b"c"]),
        {"transport": hub},
        PublishSettings(max_wait_time=None, max_queued_events=2, max_retries=0),
        RecordingView(),
        failed_out=FailedOut(out),
    )
    # the three lines went out in one batch, whose outcome is unknown
    assert (outcome.counters.published, outcome.counters.unknown) == (0, 3)
    assert outcome.exit_code == 3
    envelopes = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(e["anyio-eventhubs-failed"], e["line"], e["data"]) for e in envelopes] == [
        ("unknown", 1, "a"),
        ("unknown", 2, "b"),
        ("unknown", 3, "c"),
    ]


async def test_retries_follow_max_retries() -> None:
    hub = InMemoryEventHub(1)
    hub.fail_next_sends(1, error=ConnectionLostError)
    outcome = await publish_lines(
        _lines([b"a"]),
        {"transport": hub},
        PublishSettings(max_wait_time=None, max_retries=1),
        RecordingView(),
    )
    assert (outcome.counters.published, outcome.exit_code) == (1, 0)


async def test_skip_passes_over_the_first_lines_and_numbers_stay_those_of_the_input() -> None:
    hub = InMemoryEventHub(1)
    view = RecordingView()
    outcome = await publish_lines(
        _lines([b"1", b"", b"3"], [b"4", b"5"]),
        {"transport": hub},
        PublishSettings(max_wait_time=None, skip=3, partition_key_field="k"),
        view,
    )
    assert outcome.position.lines == 5
    assert outcome.counters.invalid == 2
    assert view.messages[0].startswith("line 4: not a JSON object")


async def test_envelopes_are_published_as_the_lines_they_hold() -> None:
    out = io.BytesIO()
    FailedOut(out).write([(4, b'{"k": "x"}'), (9, b"\xfe\xff")], "failed", "why")
    hub = InMemoryEventHub(1)
    outcome = await publish_lines(
        _lines(out.getvalue().splitlines()),
        {"transport": hub},
        PublishSettings(max_wait_time=None),
        RecordingView(),
    )
    assert outcome.exit_code == 0
    assert hub.published_bodies("0") == [b'{"k": "x"}', b"\xfe\xff"]


async def test_a_second_signal_within_half_a_second_is_the_same_press() -> None:
    send_signal, signals = anyio.create_memory_object_stream[int](4)
    hub = InMemoryEventHub(2)
    hub.hold_sends()
    now = [0.0]

    async def lines() -> AsyncGenerator[list[bytes], None]:
        yield [b"a", b"b", b"c"]
        await send_signal.send(signal.SIGINT)
        await anyio.sleep_forever()
        yield []

    async def repeat_while_publishing_then_release() -> None:
        await hub.wait_sends_in_flight(2)
        now[0] = 0.4  # the same Ctrl-C, delivered again by a wrapper
        await send_signal.send(signal.SIGINT)
        await anyio.wait_all_tasks_blocked()
        hub.release_sends()

    view = RecordingView()
    with send_signal, signals:
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(repeat_while_publishing_then_release)
            outcome = await publish_lines(
                lines(),
                {"transport": hub},
                PublishSettings(max_wait_time=None),
                view,
                presses(signals, clock=lambda: now[0]),
            )
    assert (outcome.counters.published, outcome.counters.unknown) == (3, 0)
    assert not any("dropping" in m for m in view.messages)


def test_the_summary_of_an_interrupted_connect_says_nothing_was_sent() -> None:
    outcome = Outcome(interrupted_by=signal.SIGINT)
    assert summary(outcome) == ["interrupted (SIGINT) while connecting: nothing was sent"]
    assert outcome.exit_code == 130


async def test_ctrl_c_while_a_batch_of_lines_waits_for_room_resumes_after_the_last_queued() -> None:
    send_interrupt, interrupts = anyio.create_memory_object_stream[int](4)
    hub = one_event_batch_hub()
    hub.hold_sends()

    async def ctrl_c_once_the_partition_is_full() -> None:
        await hub.wait_sends_in_flight(1)
        await anyio.wait_all_tasks_blocked()  # the batch of lines waits for room
        await send_interrupt.send(signal.SIGINT)
        await anyio.wait_all_tasks_blocked()
        hub.release_sends()

    view = RecordingView()
    settings = PublishSettings(max_wait_time=None, max_queued_events=2)
    lines = [padded(x) for x in (b"a", b"b", b"c", b"d", b"e")]
    with send_interrupt, interrupts:
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(ctrl_c_once_the_partition_is_full)
            outcome = await publish_lines(
                _lines([b"", lines[0]], lines[1:3], lines[3:]),
                {"transport": hub},
                settings,
                view,
                interrupts,
            )
    assert outcome.interrupted
    # calls of 2 lines; lines 2-5 were queued (one batch in flight, held, the full head
    # batch, two lines behind it) and published; --skip 5 resumes with line 6
    assert (outcome.counters.queued, outcome.counters.published) == (4, 4)
    assert hub.published_bodies("0") == lines[:4]
    assert outcome.position.lines == 5
    assert outcome.position.bytes_read == len(b"\n" + b"".join(x + b"\n" for x in lines[:4]))


async def test_lines_after_an_interrupted_batch_are_as_if_never_read() -> None:
    send_interrupt, interrupts = anyio.create_memory_object_stream[int](4)
    hub = one_event_batch_hub()
    hub.hold_sends()
    failed = io.BytesIO()

    async def ctrl_c_once_the_partition_is_full() -> None:
        await hub.wait_sends_in_flight(1)
        await anyio.wait_all_tasks_blocked()
        await send_interrupt.send(signal.SIGINT)
        await anyio.wait_all_tasks_blocked()
        hub.release_sends()

    broken_envelope = b'{"anyio-eventhubs-failed": 1'
    settings = PublishSettings(max_wait_time=None, max_queued_events=3)
    lines = [padded(x) for x in (b"a", b"b", b"c", b"d", b"e", b"f", b"g")]
    with send_interrupt, interrupts:
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(ctrl_c_once_the_partition_is_full)
            outcome = await publish_lines(
                _lines([broken_envelope, *lines[:2]], lines[2:5], [*lines[5:], broken_envelope]),
                {"transport": hub},
                settings,
                RecordingView(),
                interrupts,
                failed_out=FailedOut(failed),
            )
    # calls of 3 lines: lines 1-3 (1 invalid, reported), then 4-6, then 7-9, of which
    # line 7 waited (one batch in flight, held, the full head batch and three lines
    # behind it); line 9 was read but not handled, so --skip 6 reports it exactly once,
    # in the next run
    assert outcome.position.lines == 6
    assert (outcome.counters.invalid, outcome.counters.queued) == (1, 5)
    assert [json.loads(line)["line"] for line in failed.getvalue().splitlines()] == [1]
