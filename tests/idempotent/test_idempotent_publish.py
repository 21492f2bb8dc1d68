"""``enable_idempotent_retries=True`` end to end, against the emulator, on both backends."""

from __future__ import annotations

import pytest
from azure.eventhub import EventData

from anyio_eventhubs import (
    ConnectionLostError,
    EventTooLargeError,
    PublishFailedEventArgs,
    RetryOptions,
    TransportError,
    open_streaming_producer,
)
from anyio_eventhubs._azure import azure_transport
from anyio_eventhubs.testing.emulator import (
    PRODUCER_EPOCH,
    PRODUCER_ID,
    PRODUCER_SEQUENCE_NUMBER,
    EventHubsEmulator,
)

from ..emulator_fixtures import SMALL_MAX_MESSAGE_SIZE
from ..helpers import Recorder
from .helpers import AckLosingTransport

pytestmark = pytest.mark.anyio

FAST_RETRIES = RetryOptions(max_retries=5, delay=0, jitter=0)
NO_RETRIES = RetryOptions(max_retries=0)


def _stored(emulator: EventHubsEmulator, hub: str, partition_id: str) -> list[tuple[bytes, int]]:
    """(body, producer sequence number) of every stored event, in order.

    A new producer's attach reply reports 0 (as the service's does), and the transport
    numbers from the reported number plus one, as .NET and JavaScript do: the first event
    is 1.
    """
    return [
        (e.body, e.annotations[PRODUCER_SEQUENCE_NUMBER])
        for e in emulator.published_events(hub, partition_id)
    ]


async def test_a_batch_whose_acknowledgement_was_lost_is_stored_once(
    emulator: EventHubsEmulator,
) -> None:
    rec = Recorder()
    async with open_streaming_producer(
        emulator.connection_string("eh1"),
        enable_idempotent_retries=True,
        max_wait_time=None,
        retry_options=FAST_RETRIES,
        **rec.handlers(),
    ) as producer:
        for i in range(3):
            await producer.queue_for_send(b"%d" % i, partition_id="0")
        await producer.flush()
        emulator.faults.lose_next_ack(partition_id="0")  # stored, then the connection drops
        for i in range(3, 8):
            await producer.queue_for_send(b"%d" % i, partition_id="0")
        await producer.flush()
        stats = producer.statistics().partitions["0"]
    assert emulator.faults.fired() == {"lose_ack": 1}
    assert emulator._store.producers.duplicates == 1  # the retry, recognised
    assert _stored(emulator, "eh1", "0") == [(b"%d" % i, i + 1) for i in range(8)]
    assert rec.failed == []
    assert len(rec.published_events) == 8
    assert stats.last_published_sequence_number == 8


async def test_reconnects_mid_stream_leave_no_duplicates_and_no_gaps(
    emulator: EventHubsEmulator,
) -> None:
    rec = Recorder()
    faults = emulator.faults
    faults.lose_next_ack(2)
    faults.drop_connection_on_next_transfer()
    faults.detach_next()
    faults.lose_next_ack()
    async with open_streaming_producer(
        emulator.connection_string("small"),
        enable_idempotent_retries=True,
        max_wait_time=None,
        retry_options=FAST_RETRIES,
        **rec.handlers(),
    ) as producer:
        producer_id = producer.statistics().partitions["0"].producer_id
        for i in range(80):  # about 8 stamped events fill a 2 KiB batch: 10 batches
            await producer.queue_for_send(b"%03d" % i + b"." * 100)
        await producer.flush()
        stats = producer.statistics().partitions["0"]
    assert faults.armed() == 0
    assert faults.fired() == {"lose_ack": 3, "drop_connection": 1, "detach": 1}
    stored = _stored(emulator, "small", "0")
    assert [body[:3] for body, _ in stored] == [b"%03d" % i for i in range(80)]
    assert [sequence for _, sequence in stored] == list(range(1, 81))
    assert {e.annotations[PRODUCER_ID] for e in emulator.published_events("small", "0")} == {
        producer_id
    }
    assert (stats.producer_id, stats.last_published_sequence_number) == (producer_id, 80)
    assert rec.failed == []
    assert stats.batches_published >= 10


async def test_an_out_of_order_sequence_is_a_clear_error_and_not_retried(
    emulator: EventHubsEmulator,
) -> None:
    rec = Recorder()
    async with open_streaming_producer(
        emulator.connection_string("eh1"),
        enable_idempotent_retries=True,
        max_wait_time=None,
        retry_options=FAST_RETRIES,
        **rec.handlers(),
    ) as producer:
        for i in range(5):
            await producer.queue_for_send(b"%d" % i, partition_id="1")
        await producer.flush()
        # the service loses track of the last two numbers: the next batch is ahead of it
        emulator.faults.rewind_producer_sequence(2, partition_id="1")
        await producer.queue_for_send(b"refused", partition_id="1")
        await producer.flush()
        await producer.queue_for_send(b"after", partition_id="1")
        await producer.flush()
        stats = producer.statistics().partitions["1"]
    (failure,) = rec.failed
    assert failure.events == [b"refused"]
    error = failure.exception
    assert isinstance(error, TransportError)
    assert not error.is_transient
    assert "out of order" in str(error)
    assert "com.microsoft:out-of-order-sequence" in str(error)
    # the next batch re-read the service's sequence (it forgot 4 and 5) and went on from it
    assert _stored(emulator, "eh1", "1")[-1] == (b"after", 4)
    assert stats.last_published_sequence_number == 4


async def test_force_resend_reuses_the_sequence_numbers(emulator: EventHubsEmulator) -> None:
    failures: list[PublishFailedEventArgs] = []

    def resend_once(args: PublishFailedEventArgs) -> None:
        failures.append(args)
        args.force_resend()

    rec = Recorder()
    async with open_streaming_producer(
        emulator.connection_string("eh1"),
        enable_idempotent_retries=True,
        max_wait_time=None,
        retry_options=NO_RETRIES,
        on_publish_succeeded=rec.on_succeeded,
        on_publish_failed=resend_once,
    ) as producer:
        emulator.faults.lose_next_ack(partition_id="0")
        for i in range(4):
            await producer.queue_for_send(b"%d" % i, partition_id="0")
        await producer.flush()
    assert [type(f.exception) for f in failures] == [ConnectionLostError]
    assert _stored(emulator, "eh1", "0") == [(b"%d" % i, i + 1) for i in range(4)]
    assert len(rec.published_events) == 4


async def test_an_attempt_that_timed_out_is_resent_without_a_duplicate(
    emulator: EventHubsEmulator,
) -> None:
    failures: list[PublishFailedEventArgs] = []

    def resend_without_delay(args: PublishFailedEventArgs) -> None:
        failures.append(args)
        emulator.faults.delay_acks(0)
        args.force_resend()

    rec = Recorder()
    emulator.faults.delay_acks(30)  # stored at once, acknowledged much later
    async with open_streaming_producer(
        emulator.connection_string("eh1"),
        enable_idempotent_retries=True,
        max_wait_time=None,
        retry_options=RetryOptions(max_retries=0, try_timeout=0.3),
        on_publish_succeeded=rec.on_succeeded,
        on_publish_failed=resend_without_delay,
    ) as producer:
        for i in range(3):
            await producer.queue_for_send(b"%d" % i, partition_id="1")
        await producer.flush()
    assert [type(f.exception).__name__ for f in failures] == ["OperationTimeoutError"]
    assert emulator._store.producers.duplicates == 1
    assert _stored(emulator, "eh1", "1") == [(b"%d" % i, i + 1) for i in range(3)]
    assert len(rec.published_events) == 3


@pytest.mark.parametrize("fault", ["lose_ack", "drop_connection"])
async def test_a_batch_given_up_on_does_not_shift_later_sequence_numbers(
    emulator: EventHubsEmulator, fault: str
) -> None:
    rec = Recorder()
    async with open_streaming_producer(
        emulator.connection_string("eh1"),
        enable_idempotent_retries=True,
        max_wait_time=None,
        retry_options=NO_RETRIES,
        **rec.handlers(),
    ) as producer:
        if fault == "lose_ack":  # stored, reported failed
            emulator.faults.lose_next_ack(partition_id="0")
        else:  # not stored, reported failed
            emulator.faults.drop_connection_on_next_transfer(partition_id="0")
        await producer.queue_for_send(b"unknown", partition_id="0")
        await producer.flush()
        await producer.queue_for_send(b"next", partition_id="0")
        await producer.flush()
    assert len(rec.failed) == 1
    expected = [(b"unknown", 1), (b"next", 2)] if fault == "lose_ack" else [(b"next", 1)]
    assert _stored(emulator, "eh1", "0") == expected


async def test_stamped_batches_fit_the_hub_and_oversized_events_are_refused(
    emulator: EventHubsEmulator,
) -> None:
    rec = Recorder()
    async with open_streaming_producer(
        emulator.connection_string("small"),
        enable_idempotent_retries=True,
        max_wait_time=None,
        **rec.handlers(),
    ) as producer:
        # 8 bytes of AMQP and 8 of batch wrapping, and 123 reserved for the stamp
        fits = b"a" * (SMALL_MAX_MESSAGE_SIZE - 16 - 123)
        await producer.queue_for_send(fits)
        with pytest.raises(EventTooLargeError):
            await producer.queue_for_send(fits + b"b" * 6)  # would fit, but not stamped
        for i in range(40):
            await producer.queue_for_send(b"%d" % i + b"c" * (60 + 10 * i))
        await producer.flush()
    assert rec.failed == []
    assert len(emulator.published_events("small", "0")) == 41


async def test_statistics_show_the_producer_id_and_last_sequence_per_partition(
    emulator: EventHubsEmulator,
) -> None:
    async with open_streaming_producer(
        emulator.connection_string("eh1"), enable_idempotent_retries=True
    ) as producer:
        opened = producer.statistics().partitions
        for i in range(3):
            await producer.queue_for_send(b"%d" % i, partition_id="1")
        await producer.flush()
        after = producer.statistics().partitions
    assert opened["0"].producer_id != opened["1"].producer_id
    assert [opened[p].last_published_sequence_number for p in "01"] == [0, 0]
    assert [after[p].last_published_sequence_number for p in "01"] == [0, 3]
    assert after["1"].producer_epoch == 0
    async with open_streaming_producer(emulator.connection_string("eh1")) as plain:
        await plain.queue_for_send(b"plain", partition_id="0")
        stats = plain.statistics().partitions["0"]
    assert (stats.producer_id, stats.last_published_sequence_number) == (None, None)
    (event,) = emulator.published_events("eh1", "0")
    assert PRODUCER_ID not in event.annotations  # a producer that is not idempotent


async def test_keyed_and_rich_events_keep_their_annotations(emulator: EventHubsEmulator) -> None:
    rich = EventData(b"rich")
    rich.properties = {"app": "yes"}
    rich.raw_amqp_message.annotations = {"x-opt-custom": "kept"}
    async with open_streaming_producer(
        emulator.connection_string("eh1"), enable_idempotent_retries=True, max_wait_time=None
    ) as producer:
        await producer.queue_for_send(b"keyed", partition_key="device-7")
        await producer.queue_for_send(rich, partition_key="device-7")
        await producer.flush()
    events = emulator.all_events("eh1")
    assert [e.body for e in events] == [b"keyed", b"rich"]
    assert [e.partition_key for e in events] == ["device-7", "device-7"]
    assert events[1].annotations["x-opt-custom"] == "kept"
    assert events[1].application_properties == {"app": "yes"}
    assert [e.annotations[PRODUCER_SEQUENCE_NUMBER] for e in events] == [1, 2]
    assert {e.annotations[PRODUCER_EPOCH] for e in events} == {0}


async def test_lost_acknowledgements_of_a_wrapped_transport_are_deduplicated(
    emulator: EventHubsEmulator,
) -> None:
    """What the live test does, on the emulator: the service stores, the ack is lost."""
    transport = AckLosingTransport(azure_transport(emulator.connection_string("eh1")), lose=3)
    rec = Recorder()
    async with open_streaming_producer(
        transport=transport,
        enable_idempotent_retries=True,
        max_wait_time=None,
        retry_options=FAST_RETRIES,
        **rec.handlers(),
    ) as producer:
        for batch in range(3):
            for i in range(4):
                await producer.queue_for_send(b"%d-%d" % (batch, i), partition_id="0")
            await producer.flush()
    assert transport.lost == 3
    assert emulator._store.producers.duplicates == 3
    assert [body for body, _ in _stored(emulator, "eh1", "0")] == [
        b"%d-%d" % (batch, i) for batch in range(3) for i in range(4)
    ]
    assert rec.failed == []
