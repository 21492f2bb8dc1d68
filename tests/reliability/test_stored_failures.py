"""A failure whose batch the emulator stored says so (issue #16, item 3).

The first attempt is stored and its acknowledgement lost (the connection drops); the
retries are refused with server-busy until the policy gives up. The report carries the
last attempt's ``ServerBusyError``, and must still say the events may have been stored.
"""

from __future__ import annotations

import anyio
import pytest

from anyio_eventhubs import PublishError, RetryOptions, ServerBusyError, open_streaming_producer
from anyio_eventhubs.testing.emulator import SERVER_BUSY, EventHubsEmulator

from ..helpers import Recorder

pytestmark = pytest.mark.anyio

RETRIES = RetryOptions(max_retries=2, delay=0.01, jitter=0, try_timeout=10)


def _stored_bodies(emulator: EventHubsEmulator) -> list[bytes]:
    return [e.body for e in emulator.all_events("eh1")]


@pytest.mark.parametrize("idempotent", [False, True], ids=["plain", "idempotent"])
async def test_a_failure_after_a_lost_acknowledgement_says_it_may_have_been_published(
    emulator: EventHubsEmulator, idempotent: bool
) -> None:
    rec = Recorder()
    with anyio.fail_after(30):
        async with open_streaming_producer(
            emulator.connection_string("eh1"),
            max_wait_time=None,
            retry_options=RETRIES,
            enable_idempotent_retries=idempotent,
            **rec.handlers(),
        ) as producer:
            emulator.faults.lose_next_ack(eventhub_name="eh1", partition_id="0")
            emulator.faults.reject_next(
                2, condition=SERVER_BUSY, eventhub_name="eh1", partition_id="0"
            )
            await producer.queue_for_send(b"stored-once", partition_id="0")
            await producer.flush()
            # refused every time: this one was certainly not stored
            emulator.faults.reject_next(
                3, condition=SERVER_BUSY, eventhub_name="eh1", partition_id="1"
            )
            await producer.queue_for_send(b"never-stored", partition_id="1")
    assert _stored_bodies(emulator) == [b"stored-once"]
    reports = {a.events[0]: a for a in rec.failed}
    assert isinstance(reports[b"stored-once"].exception, ServerBusyError)
    assert reports[b"stored-once"].may_have_been_published
    assert isinstance(reports[b"never-stored"].exception, ServerBusyError)
    assert not reports[b"never-stored"].may_have_been_published


async def test_an_unhandled_failure_after_a_lost_acknowledgement_says_so(
    emulator: EventHubsEmulator,
) -> None:
    with anyio.fail_after(30):
        async with open_streaming_producer(
            emulator.connection_string("eh1"), max_wait_time=None, retry_options=RETRIES
        ) as producer:
            emulator.faults.lose_next_ack(eventhub_name="eh1", partition_id="2")
            emulator.faults.reject_next(
                2, condition=SERVER_BUSY, eventhub_name="eh1", partition_id="2"
            )
            await producer.queue_for_send(b"x", partition_id="2")
            with pytest.raises(PublishError) as caught:
                await producer.flush()
    assert caught.value.may_have_been_published
    assert _stored_bodies(emulator) == [b"x"]
