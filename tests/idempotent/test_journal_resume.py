"""Exactly once across a restart: a journaled idempotent producer resumes its identity.

The first life of the producer sends a batch that the emulator stores, and dies before
the acknowledgement arrives (``tests/journal/test_producer_journal.die``: what is on
disk is what a SIGKILL leaves). The second life, on the same journal, attaches as the
same producer and re-sends that batch with the same numbers and boundaries: the
emulator acknowledges it without storing it again (``docs/idempotent-publishing.md``).
The crash test with real kills is ``tests/journal_crash``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import anyio
import pytest

from anyio_eventhubs import RetryOptions, open_streaming_producer
from anyio_eventhubs._journal._publishing_state import PublishingStateFiles, StoredPublishing
from anyio_eventhubs.testing.emulator import EventHubsEmulator

from ..helpers import Recorder
from ..journal.test_producer_journal import die
from ..reliability.helpers import in_thread

pytestmark = pytest.mark.anyio

RETRY = RetryOptions(max_retries=0, try_timeout=60)


async def first_life(emulator: EventHubsEmulator, journal: Path, *, idempotent: bool) -> None:
    """Ten events on partition 0 stored by the emulator; the process dies unacknowledged."""
    emulator.faults.delay_acks(30)
    with anyio.CancelScope() as scope:
        async with open_streaming_producer(
            emulator.connection_string("eh1"),
            journal=journal,
            enable_idempotent_retries=idempotent,
            max_wait_time=None,
            close_timeout=0,
            retry_options=RETRY,
            on_publish_failed=lambda args: None,
        ) as producer:
            for i in range(10):
                await producer.queue_for_send(b"e%d" % i, partition_id="0")
            async with anyio.create_task_group() as tg:
                tg.start_soon(producer.flush)
                await in_thread(emulator, lambda: emulator.event_count("eh1", "0") == 10, "stored")
                die(producer)
                scope.cancel()
    emulator.faults.delay_acks(0)


async def second_life(
    emulator: EventHubsEmulator, journal: Path, rec: Recorder, *, idempotent: bool
) -> int:
    async with open_streaming_producer(
        emulator.connection_string("eh1"),
        journal=journal,
        enable_idempotent_retries=idempotent,
        retry_options=RETRY,
        max_wait_time=None,  # a batch goes when full or sealed: "new" must not join it
        **rec.handlers(),
    ) as producer:
        await producer.queue_for_send(b"new", partition_id="0")
    return producer.statistics().recovered


def stored(emulator: EventHubsEmulator) -> list[bytes]:
    return [e.body for e in emulator.published_events("eh1", "0")]


async def test_a_batch_stored_when_the_process_died_is_stored_once(
    emulator: EventHubsEmulator, tmp_path: Path
) -> None:
    await first_life(emulator, tmp_path / "j", idempotent=True)
    rec = Recorder()
    assert await second_life(emulator, tmp_path / "j", rec, idempotent=True) == 10
    assert stored(emulator) == [b"e%d" % i for i in range(10)] + [b"new"]
    assert emulator._store.producers.duplicates == 1  # the re-sent batch, recognised
    assert len(rec.published_events) == 11
    assert not rec.failed


async def test_without_idempotence_the_batch_is_stored_again(
    emulator: EventHubsEmulator, tmp_path: Path
) -> None:
    await first_life(emulator, tmp_path / "j", idempotent=False)
    rec = Recorder()
    assert await second_life(emulator, tmp_path / "j", rec, idempotent=False) == 10
    first = [b"e%d" % i for i in range(10)]
    assert stored(emulator) == first + first + [b"new"]  # at least once: a duplicate


async def test_an_identity_the_service_refuses_falls_back_to_at_least_once(
    emulator: EventHubsEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await first_life(emulator, tmp_path / "j", idempotent=True)
    files = PublishingStateFiles(tmp_path / "j", sync=False)
    (state,) = files.load().values()
    files.write("0", StoredPublishing(state.producer_id + 1000, state.epoch, state.batch))
    files.close()
    rec = Recorder()
    with caplog.at_level(logging.WARNING, logger="anyio_eventhubs"):
        await second_life(emulator, tmp_path / "j", rec, idempotent=True)
    assert "refused to resume producer id" in caplog.text
    first = [b"e%d" % i for i in range(10)]
    assert stored(emulator) == first + first + [b"new"]  # renumbered: stored again
    assert not rec.failed


async def test_recovered_events_leave_room_for_the_stamp_in_their_batches(
    emulator: EventHubsEmulator, tmp_path: Path
) -> None:
    # 60 small events journaled without an outcome (2 KiB messages), then the process
    # dies; recovered as an idempotent producer, each is stamped (up to about
    # 120 bytes more): counted without that room, their batch went over 2 KiB and failed
    journal, bodies = tmp_path / "j", [b"recovered-%02d" % i for i in range(60)]
    with anyio.CancelScope() as scope:
        async with open_streaming_producer(
            emulator.connection_string("small"), journal=journal, max_wait_time=None
        ) as producer:
            for body in bodies:
                await producer.queue_for_send(body)
            die(producer)
            scope.cancel()
    rec = Recorder()
    async with open_streaming_producer(
        emulator.connection_string("small"),
        journal=journal,
        enable_idempotent_retries=True,
        retry_options=RETRY,
        **rec.handlers(),
    ) as producer:
        pass
    assert producer.statistics().recovered == 60
    assert not rec.failed
    # (the first life may have sent them too: without idempotence, a crash may duplicate)
    assert [e.body for e in emulator.published_events("small", "0")][-60:] == bodies
