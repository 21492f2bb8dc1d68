"""open_streaming_producer(journal=...): journal on accept, reclaim on outcome, recover.

A crash is simulated in-process by letting go of the producer's store as a killed
process would (``helpers.crash``) before the producer is torn down: what is on disk is
then what a SIGKILL at that instant leaves. The crash test with real kills is
``tests/journal_crash``.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, cast

import anyio
import pytest
from azure.eventhub import EventData

from anyio_eventhubs import (
    JournalCorruptError,
    JournalLockedError,
    JournalMismatchError,
    JournalOptions,
    JournalWriteError,
    NotFoundError,
    PublishError,
    StreamingProducer,
    _recovering,
    open_streaming_producer,
    partition_for_key,
)
from anyio_eventhubs._encoding import batch_entry_size, encode_body
from anyio_eventhubs._journal import _format as fmt
from anyio_eventhubs._journal import _mapped
from anyio_eventhubs._journal._scan import SegmentScan
from anyio_eventhubs.testing import InMemoryEventHub

from ..helpers import Recorder
from .helpers import body_of, crash, segments

pytestmark = pytest.mark.anyio


def body(event: Any) -> bytes:
    if isinstance(event, EventData):
        return b"".join(cast("Iterable[bytes]", event.body))
    return event if isinstance(event, bytes) else str(event).encode()


def die(producer: StreamingProducer) -> None:
    """What a SIGKILL leaves on disk: the journal as it is now, nothing written after."""
    assert producer._journal is not None
    crash(producer._journal.store)
    for part in producer._parts.values():
        part.on_resolved = None


async def crash_with_events(
    path: Path, events: list[tuple[Any, dict[str, str]]], *, partitions: int = 2
) -> None:
    """Queue *events* with sends held, then die: nothing gets an outcome on disk."""
    hub = InMemoryEventHub(partitions)
    hub.hold_sends()
    with anyio.CancelScope() as scope:
        async with open_streaming_producer(
            transport=hub,
            journal=path,
            max_wait_time=None,
            close_timeout=0,
            on_publish_failed=lambda a: None,
        ) as producer:
            for event, where in events:
                await producer.queue_for_send(event, **where)
            die(producer)
            scope.cancel()


async def test_events_are_journaled_until_their_outcome_then_reclaimed(tmp_path: Path) -> None:
    hub = InMemoryEventHub(2)
    hub.hold_sends()
    async with open_streaming_producer(
        transport=hub, journal=tmp_path / "j", max_wait_time=None
    ) as producer:
        for i in range(50):
            await producer.queue_for_send(b"x%d" % i, partition_id=str(i % 2))
        held = sum(p.stat().st_size for p in segments(tmp_path / "j"))
        assert held > 50 * 3  # every accepted event is on disk before the outcome
        hub.release_sends()
        await producer.flush()
    assert hub.published_count() == 50
    assert segments(tmp_path / "j") == []  # all had their outcome: nothing kept


async def test_round_robin_bytes_are_journaled_from_their_parts_and_recovered(
    tmp_path: Path,
) -> None:
    # bytes for round robin take the path with no object per event (runs in the queue),
    # between them a str that is a QueuedEvent: on disk, one record per event, in order
    sent = [b"rr0", b"rr1", b"rr2", b"rr3", "text", b"rr4", b"rr5"]
    await crash_with_events(tmp_path / "j", [(e, {}) for e in sent])
    entries = []
    for seg in segments(tmp_path / "j"):
        scan = SegmentScan(seg)
        for _, record_type, record in scan:
            assert record_type == fmt.EVENTS
            entries += fmt.decode_entries(record)
        assert scan.tail is None
    assert [(e[2], e[3], body_of(e[4])) for e in entries] == [
        (fmt.KIND_STR if isinstance(e, str) else fmt.KIND_BYTES, None, body(e)) for e in sent
    ]
    for pid in ("0", "1"):  # numbered per partition from 0, no gap
        seqs = [e[1] for e in entries if e[0] == pid]
        assert seqs == list(range(len(seqs)))
        assert seqs

    hub = InMemoryEventHub(2)
    async with open_streaming_producer(transport=hub, journal=tmp_path / "j") as producer:
        await producer.queue_for_send(b"new")
        await producer.flush()
        assert producer.statistics().recovered == len(sent)
    published = {pid: hub.published_bodies(pid) for pid in ("0", "1")}
    assert sorted(published["0"] + published["1"]) == sorted([*map(body, sent), b"new"])
    for pid, bodies in published.items():  # recovered first, each partition in its order
        assert [b for b in bodies if b != b"new"] == [body_of(e[4]) for e in entries if e[0] == pid]
        assert b"new" not in bodies[:-1]
    assert segments(tmp_path / "j") == []  # every outcome reached the journal


async def test_recovery_publishes_first_in_order_with_handlers(tmp_path: Path) -> None:
    key_pid = partition_for_key("device-7", ["0", "1"])
    other = "1" if key_pid == "0" else "0"
    props = EventData(b"with-props")
    props.properties = {"kind": "reading"}
    events: list[tuple[Any, dict[str, str]]] = [
        (b"k0", {"partition_key": "device-7"}),
        ("text", {"partition_id": other}),
        (props, {"partition_id": other}),
        (b"k1", {"partition_key": "device-7"}),
    ]
    await crash_with_events(tmp_path / "j", events)

    hub = InMemoryEventHub(2)
    rec = Recorder()
    async with open_streaming_producer(
        transport=hub, journal=tmp_path / "j", **rec.handlers()
    ) as producer:
        assert not producer.try_queue_for_send(b"new", partition_id=other)  # recovery first
        await producer.queue_for_send(b"new", partition_id=other)
        await producer.queue_for_send(b"k2", partition_key="device-7")
        await producer.flush()
        assert producer.statistics().recovered == 4
    assert hub.published_bodies(key_pid) == [b"k0", b"k1", b"k2"]
    assert hub.published_bodies(other) == [b"text", b"with-props", b"new"]
    recovered = [e for e in rec.published_events if isinstance(e, EventData)]
    by_body = {body(e): e for e in recovered}
    assert set(by_body) == {b"k0", b"text", b"with-props", b"k1"}  # handed over as EventData
    assert by_body[b"k0"].partition_key == b"device-7"  # as a consumer reads it: bytes
    assert by_body[b"with-props"].properties == {b"kind": b"reading"}
    assert segments(tmp_path / "j") == []


async def test_a_recovered_event_that_fails_raises_without_a_handler(tmp_path: Path) -> None:
    await crash_with_events(tmp_path / "j", [(b"doomed", {"partition_id": "0"})])
    hub = InMemoryEventHub(2)
    hub.fail_next_sends(error=NotFoundError("gone"))
    with pytest.raises(PublishError) as caught:
        async with open_streaming_producer(transport=hub, journal=tmp_path / "j"):
            pass
    assert [body(e) for e in caught.value.events] == [b"doomed"]
    assert segments(tmp_path / "j") == []  # the failure is its outcome


async def test_recovery_streams_within_max_queued_events(tmp_path: Path) -> None:
    await crash_with_events(
        tmp_path / "j", [(b"%d" % i, {"partition_id": "0"}) for i in range(300)], partitions=1
    )
    hub = InMemoryEventHub(1, max_message_size=64)  # a batch: at most 64 // 11 events
    peak = 0
    producer_ref: list[StreamingProducer] = []

    def watch(_: object) -> None:
        nonlocal peak
        peak = max(peak, producer_ref[0].total_queued_event_count)

    async with open_streaming_producer(
        transport=hub,
        journal=tmp_path / "j",
        max_queued_events=10,
        max_wait_time=None,
        on_publish_succeeded=watch,
    ) as producer:
        producer_ref.append(producer)
    assert hub.published_bodies("0") == [b"%d" % i for i in range(300)]
    # max_queued_events behind the head batch, the head batch, one batch in flight
    smallest_entry = batch_entry_size(len(encode_body(b"0")))
    assert 0 < peak <= 10 + 2 * (64 // smallest_entry) < 300


async def test_closing_at_once_still_publishes_what_was_recovered(tmp_path: Path) -> None:
    await crash_with_events(tmp_path / "j", [(b"a", {"partition_id": "1"})])
    hub = InMemoryEventHub(2)
    async with open_streaming_producer(transport=hub, journal=tmp_path / "j") as producer:
        pass
    assert hub.published_bodies("1") == [b"a"]
    assert producer.statistics().recovered == 1


async def test_a_second_producer_on_the_journal_is_refused(tmp_path: Path) -> None:
    hub = InMemoryEventHub(2)
    async with open_streaming_producer(transport=hub, journal=tmp_path / "j"):
        with pytest.raises(JournalLockedError, match="j"):
            async with open_streaming_producer(transport=hub, journal=tmp_path / "j"):
                pass


async def test_a_journal_of_another_hub_is_refused(tmp_path: Path) -> None:
    await crash_with_events(tmp_path / "j", [(b"a", {"partition_id": "1"})])
    with pytest.raises(JournalMismatchError):
        async with open_streaming_producer(
            transport=InMemoryEventHub(2, name="other"), journal=tmp_path / "j"
        ):
            pass


async def test_a_full_disk_at_queue_time_means_not_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, segment_version: int
) -> None:
    hub = InMemoryEventHub(1)
    # version 1 writes each event; version 2 reserves space (here before each event)
    name = "write" if segment_version == 1 else "posix_fallocate"
    real = getattr(os, name)
    monkeypatch.setattr(_mapped, "STEP", 1)
    async with open_streaming_producer(
        transport=hub, journal=JournalOptions(tmp_path / "j"), max_wait_time=None
    ) as producer:
        await producer.queue_for_send(b"kept")

        def full(fd: int, *args: Any) -> int:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        monkeypatch.setattr(os, name, full)
        with pytest.raises(JournalWriteError, match=r"not accepted.*disk is full"):
            await producer.queue_for_send(b"lost?")
        with pytest.raises(JournalWriteError):
            producer.try_queue_for_send(b"lost?")
        assert producer.total_queued_event_count == 1
        monkeypatch.setattr(os, name, real)
    assert hub.published_bodies("0") == [b"kept"]


@pytest.mark.parametrize(
    ("journal", "error", "match"),
    [
        (123, TypeError, "journal must be a directory"),
        (["j"], TypeError, "got list"),
    ],
)
async def test_bad_journal_arguments(journal: object, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        async with open_streaming_producer(transport=InMemoryEventHub(1), journal=journal):  # type: ignore[arg-type]
            pass


def test_journal_options_are_checked() -> None:
    with pytest.raises(ValueError, match="durability must be one of"):
        JournalOptions("j", durability="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="fsync_interval"):
        JournalOptions("j", durability="interval", fsync_interval=0)
    with pytest.raises(TypeError, match="directory"):
        JournalOptions(5)  # type: ignore[arg-type]


def test_the_sync_producer_refuses_a_journal_rather_than_ignore_it(tmp_path: Path) -> None:
    from anyio_eventhubs.sync import open_streaming_producer as open_sync

    with pytest.raises(ValueError, match=r"journal= is not supported by anyio_eventhubs\.sync"):
        open_sync(transport=InMemoryEventHub(1), journal=tmp_path / "j")
    assert not (tmp_path / "j").exists()


async def test_damage_is_named_at_open_and_quarantine_carries_on(tmp_path: Path) -> None:
    events: list[tuple[Any, dict[str, str]]] = [
        (b"e%d" % i, {"partition_id": "0"}) for i in range(3)
    ]
    await crash_with_events(tmp_path / "j", events)
    await crash_with_events(tmp_path / "j", [(b"later", {"partition_id": "1"})])  # a 2nd file
    first = segments(tmp_path / "j")[0]
    data = bytearray(first.read_bytes())
    data[len(data) // 2] ^= 0xFF  # damage inside a record that is not the last
    first.write_bytes(bytes(data))
    with pytest.raises(JournalCorruptError) as caught:
        async with open_streaming_producer(transport=InMemoryEventHub(2), journal=tmp_path / "j"):
            pass
    assert caught.value.path == first
    assert str(first) in str(caught.value)
    hub = InMemoryEventHub(2)
    async with open_streaming_producer(
        transport=hub, journal=JournalOptions(tmp_path / "j", quarantine_damaged=True)
    ):
        pass
    assert (tmp_path / "j" / "quarantine").is_dir()
    assert b"later" in hub.published_bodies("1")  # what was sound is published


async def test_recovery_decodes_no_event_that_no_handler_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a recovered event is an AMQP message on disk; making it an EventData (several µs,
    # objects for the collector) is for handlers only: recovery ran 2.5x slower when the
    # queue's EventData count read every recovered event's .event
    sent = [(b"%d" % i, {"partition_id": str(i % 2)}) for i in range(40)]
    await crash_with_events(tmp_path / "j", sent)
    decoded: list[object] = []
    real = _recovering._decoded

    def counted(message: bytes) -> EventData:
        decoded.append(message)
        return real(message)

    monkeypatch.setattr(_recovering, "_decoded", counted)
    hub = InMemoryEventHub(2)
    async with open_streaming_producer(transport=hub, journal=tmp_path / "j") as producer:
        await producer.queue_for_send(b"new")  # (returns once recovery queued all)
        await producer.flush()
        assert producer.statistics().recovered == 40
    assert decoded == []
    published = hub.published_bodies("0") + hub.published_bodies("1")
    assert sorted(published) == sorted([b"new", *(e for e, _ in sent)])
