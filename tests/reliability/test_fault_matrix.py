"""The fault matrix: one test per row, on the emulator, under asyncio and Trio.

Each test queues events with unique bodies through a :class:`~.helpers.Ledger`, injects
the row's fault, and ends with :meth:`~.helpers.Ledger.check`: every accepted event has
exactly one outcome, per-partition order is kept, and the emulator stored what was
reported published (and nothing reported failed, unless the failure says it may have
been stored). ``docs/reliability.md`` lists the rows and what each guarantees.
"""

from __future__ import annotations

import anyio
import pytest

from anyio_eventhubs import (
    AuthenticationError,
    ConnectError,
    ConnectionLostError,
    EventTooLargeError,
    InternalServerError,
    NotFoundError,
    OperationTimeoutError,
    RetryOptions,
    ServerBusyError,
    ThrottledError,
    TransportError,
    open_streaming_producer,
)
from anyio_eventhubs._azure import azure_transport
from anyio_eventhubs.testing.emulator import (
    INTERNAL_ERROR,
    SERVER_BUSY,
    THROTTLED,
    EventHubsEmulator,
    black_hole_listener,
)

from .helpers import SMALL_MAX_MESSAGE_SIZE, Ledger, SpyTransport, body, in_thread

pytestmark = pytest.mark.anyio

#: every test is bounded: a hang fails it instead of the whole run
TEST_TIMEOUT = 20


def fast_retries(max_retries: int = 3, **kwargs: float) -> RetryOptions:
    options: dict[str, float] = {"delay": 0.01, "jitter": 0, "max_delay": 0.2, **kwargs}
    return RetryOptions(max_retries=max_retries, **options)  # type: ignore[arg-type]


async def queue_spread(
    ledger: Ledger, producer: object, tag: str, count: int, partitions: int, size: int = 100
) -> None:
    """Queue *count* events of *size* bytes, round robin over explicit partition ids."""
    from anyio_eventhubs import StreamingProducer

    assert isinstance(producer, StreamingProducer)
    for i in range(count):
        await ledger.queue(producer, body(tag, i, size), partition_id=str(i % partitions))


# -- server busy, throttled ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "error"),
    [
        pytest.param(SERVER_BUSY, ServerBusyError, id="server-busy"),
        pytest.param(THROTTLED, ThrottledError, id="throttled"),
    ],
)
async def test_busy_or_throttled_sends_are_retried_with_back_off_and_published_once_in_order(
    emulator: EventHubsEmulator, condition: str, error: type[TransportError]
) -> None:
    # partition 0's first batch is refused three times: back-offs 0.05 + 0.1 + 0.2 s
    emulator.faults.reject_next(3, condition=condition, eventhub_name="small", partition_id="0")
    # and the next two sends anywhere else are refused once each
    emulator.faults.reject_next(2, condition=condition, eventhub_name="small", partition_id="1")
    ledger = Ledger()
    spy = SpyTransport(azure_transport(emulator.connection_string("small")))
    retry = RetryOptions(max_retries=5, delay=0.05, jitter=0, max_delay=1.0)
    started = anyio.current_time()
    with anyio.fail_after(TEST_TIMEOUT):
        async with open_streaming_producer(
            transport=spy, max_wait_time=None, retry_options=retry, **ledger.handlers()
        ) as producer:
            await queue_spread(ledger, producer, "busy", 120, 2)
    elapsed = anyio.current_time() - started
    summary = ledger.check(emulator, "small")
    assert summary.published == 120
    assert summary.failed == 0
    assert emulator.faults.fired() == {"reject": 5}
    assert [type(e) for e in spy.errors] == [error] * 5
    assert all(e.is_transient for e in spy.errors)
    assert elapsed >= 0.05 + 0.1 + 0.2


# -- internal server error -----------------------------------------------------------------


@pytest.mark.parametrize("rejections", [2, 3], ids=["within-policy", "beyond-policy"])
async def test_internal_errors_are_retried_per_policy_then_reported_failed(
    emulator: EventHubsEmulator, rejections: int
) -> None:
    emulator.faults.reject_next(
        rejections, condition=INTERNAL_ERROR, eventhub_name="small", partition_id="0"
    )
    ledger = Ledger()
    with anyio.fail_after(TEST_TIMEOUT):
        async with open_streaming_producer(
            emulator.connection_string("small"),
            max_wait_time=None,
            retry_options=fast_retries(max_retries=2),
            **ledger.handlers(),
        ) as producer:
            await queue_spread(ledger, producer, "internal", 80, 2)
    summary = ledger.check(emulator, "small")
    assert emulator.faults.fired() == {"reject": rejections}
    if rejections <= 2:  # the first attempt and two retries
        assert summary.failed == 0
        assert summary.published == 80
        return
    # one batch of partition 0 failed; its later batches and partition 1 went on
    (failure,) = summary.failures
    assert isinstance(failure, InternalServerError)
    assert failure.is_transient
    assert INTERNAL_ERROR in str(failure)
    failed = ledger.failed
    assert 0 < len(failed) < 40
    assert {ledger.outcomes[e][0].partition_id for e in failed} == {"0"}
    assert summary.published == 80 - len(failed)
    assert len(ledger.published_order["0"]) == 40 - len(failed)


# -- acknowledgement slower than try_timeout -----------------------------------------------


async def test_an_acknowledgement_slower_than_try_timeout_is_abandoned_and_retried(
    emulator: EventHubsEmulator,
) -> None:
    ledger = Ledger()
    spy = SpyTransport(azure_transport(emulator.connection_string("eh1")))
    with anyio.fail_after(TEST_TIMEOUT):
        async with open_streaming_producer(
            transport=spy,
            max_wait_time=None,
            retry_options=fast_retries(max_retries=3, try_timeout=0.3),
            **ledger.handlers(),
        ) as producer:
            await ledger.queue(producer, body("warm", 0), partition_id="1")
            await producer.flush()
            emulator.faults.delay_acks(5.0)  # longer than try_timeout
            for i in range(5):
                await ledger.queue(producer, body("slow", i), partition_id="1")
            async with anyio.create_task_group() as tg:
                tg.start_soon(producer.flush)
                # the batch is stored, its acknowledgement held back: then let acks through
                await in_thread(emulator, lambda: emulator.event_count("eh1") == 6, "stored")
                emulator.faults.delay_acks(0)
            await ledger.queue(producer, body("after", 0), partition_id="1")
    # the abandoned attempt was stored and so was its retry: documented as a duplicate
    summary = ledger.check(emulator, "eh1", duplicates_allowed=True)
    assert summary.published == 7
    assert summary.failed == 0
    assert summary.duplicates == 5
    assert spy.results.count(None) == 3  # warm, the retry of "slow", after
    # the attempt was cancelled by try_timeout, not failed by the transport
    assert spy.errors == []


async def test_acknowledgements_that_never_come_in_time_fail_with_operation_timeout(
    emulator: EventHubsEmulator,
) -> None:
    ledger = Ledger()
    with anyio.fail_after(TEST_TIMEOUT):
        async with open_streaming_producer(
            emulator.connection_string("eh1"),
            max_wait_time=None,
            retry_options=fast_retries(max_retries=1, try_timeout=0.3),
            **ledger.handlers(),
        ) as producer:
            await ledger.queue(producer, body("warm", 0), partition_id="2")
            await producer.flush()
            emulator.faults.delay_acks(5.0)
            await ledger.queue(producer, body("late", 0), partition_id="2")
            await producer.flush()
            emulator.faults.delay_acks(0)
            await ledger.queue(producer, body("after", 0), partition_id="2")
    summary = ledger.check(emulator, "eh1", duplicates_allowed=True)
    (failure,) = summary.failures
    assert isinstance(failure, OperationTimeoutError)
    assert "try_timeout=0.3" in str(failure)
    assert "may have stored" in str(failure)
    assert ledger.failed == [body("late", 0)]
    assert summary.published == 2
    # both attempts reached the emulator: "reported failed" here means "maybe stored"
    assert [e.body for e in emulator.published_events("eh1", "2")].count(body("late", 0)) == 2


# -- link detached, connection dropped -------------------------------------------------------


async def test_a_link_detached_mid_send_is_reopened_and_the_batch_published(
    emulator: EventHubsEmulator,
) -> None:
    for pid in "0123":
        emulator.faults.detach_next(1, eventhub_name="eh1", partition_id=pid)
    emulator.faults.detach_next(1, eventhub_name="eh1", partition_id="2")
    ledger = Ledger()
    spy = SpyTransport(azure_transport(emulator.connection_string("eh1")))
    with anyio.fail_after(TEST_TIMEOUT):
        async with open_streaming_producer(
            transport=spy, max_wait_time=None, retry_options=fast_retries(), **ledger.handlers()
        ) as producer:
            await queue_spread(ledger, producer, "detach", 200, 4)
            await producer.flush()
            await queue_spread(ledger, producer, "later", 40, 4)
    summary = ledger.check(emulator, "eh1")
    assert summary.published == 240
    assert emulator.faults.fired() == {"detach": 5}
    assert len(spy.errors) == 5
    assert all(isinstance(e, ConnectionLostError) for e in spy.errors)


@pytest.mark.parametrize("fault", ["drop_connection", "lose_ack"])
async def test_a_connection_dropped_mid_batch_is_reopened_and_the_batch_published(
    emulator: EventHubsEmulator, fault: str
) -> None:
    # batches of ~100 KiB: several AMQP frames, so drop_connection cuts the transfer
    # after its first frame; lose_ack stores the batch, then drops the connection
    # instead of acknowledging it (the retry stores it again: a documented duplicate).
    # The producer's one connection carries every partition: a batch of another
    # partition stored just before the drop loses its acknowledgement too, and is
    # stored again by its retry (whole batches of 100 events, never a lost event)
    for pid in ("0", "3"):
        if fault == "drop_connection":
            emulator.faults.drop_connection_on_next_transfer(eventhub_name="eh1", partition_id=pid)
        else:
            emulator.faults.lose_next_ack(eventhub_name="eh1", partition_id=pid)
    ledger = Ledger()
    with anyio.fail_after(TEST_TIMEOUT):
        async with open_streaming_producer(
            emulator.connection_string("eh1"),
            max_wait_time=None,
            retry_options=fast_retries(),
            **ledger.handlers(),
        ) as producer:
            await queue_spread(ledger, producer, "big", 400, 4, size=1000)
            await producer.flush()
            await queue_spread(ledger, producer, "later", 40, 4)
    summary = ledger.check(emulator, "eh1", duplicates_allowed=True)
    assert summary.published == 440
    assert emulator.faults.fired() == {fault: 2}
    assert summary.duplicates % 100 == 0
    if fault == "lose_ack":
        assert summary.duplicates >= 200  # the two lost batches: 100 events each


# -- the emulator stopped and restarted ----------------------------------------------------


async def test_the_producer_recovers_when_the_emulator_restarts(
    emulator: EventHubsEmulator,
) -> None:
    ledger = Ledger()
    spy = SpyTransport(azure_transport(emulator.connection_string("eh1")))
    # enough retries to span the outage: 20 x up to 0.2 s
    retry = RetryOptions(max_retries=20, delay=0.02, max_delay=0.2, jitter=0, try_timeout=5)
    with anyio.fail_after(TEST_TIMEOUT):
        async with open_streaming_producer(
            transport=spy, max_wait_time=None, retry_options=retry, **ledger.handlers()
        ) as producer:
            await queue_spread(ledger, producer, "before", 40, 4)
            await producer.flush()
            emulator.stop()
            await queue_spread(ledger, producer, "during", 40, 4)
            async with anyio.create_task_group() as tg:
                tg.start_soon(producer.flush)
                # every partition tried while the emulator was down, and failed
                await spy.wait_for(lambda errors: len(errors) >= 4)
                emulator.start()
            await queue_spread(ledger, producer, "after", 40, 4)
    summary = ledger.check(emulator, "eh1")
    assert summary.published == 120
    assert all(e.is_transient for e in spy.errors)
    assert {type(e) for e in spy.errors} <= {ConnectionLostError, ConnectError}


async def test_events_that_fail_during_an_outage_are_reported_and_later_ones_published(
    emulator: EventHubsEmulator,
) -> None:
    ledger = Ledger()
    with anyio.fail_after(TEST_TIMEOUT):
        async with open_streaming_producer(
            emulator.connection_string("eh1"),
            max_wait_time=None,
            retry_options=fast_retries(max_retries=1, try_timeout=5),
            **ledger.handlers(),
        ) as producer:
            await queue_spread(ledger, producer, "before", 8, 4)
            await producer.flush()
            emulator.stop()
            await queue_spread(ledger, producer, "during", 8, 4)
            await producer.flush()
            emulator.start()
            await queue_spread(ledger, producer, "after", 8, 4)
    summary = ledger.check(emulator, "eh1")
    assert sorted(ledger.failed) == sorted(body("during", i, 100) for i in range(8))
    assert summary.published == 16
    for failure in summary.failures:
        assert isinstance(failure, ConnectionLostError | ConnectError)
        assert failure.is_transient


# -- authentication refused ----------------------------------------------------------------


async def test_a_wrong_key_fails_the_open_with_an_authentication_error_at_once(
    emulator: EventHubsEmulator,
) -> None:
    assert emulator.key is not None
    wrong = emulator.connection_string("eh1").replace(emulator.key, "not-the-key")
    started = anyio.current_time()
    with anyio.fail_after(TEST_TIMEOUT), pytest.raises(AuthenticationError) as info:
        async with open_streaming_producer(wrong, retry_options=fast_retries(max_retries=10)):
            pytest.fail("opened with a wrong key")  # pragma: no cover
    assert anyio.current_time() - started < 5  # no retries, no waiting for open_timeout
    assert not info.value.is_transient
    assert "401" in str(info.value)
    assert "opening Event Hub 'eh1'" in str(info.value)
    # one connection: the $management call that was refused; nothing was tried again
    assert emulator.connections_accepted == 1


async def test_a_credential_refused_on_reconnect_is_reported_without_retries(
    emulator: EventHubsEmulator,
) -> None:
    ledger = Ledger()
    spy = SpyTransport(azure_transport(emulator.connection_string("eh1")))
    with anyio.fail_after(TEST_TIMEOUT):
        async with open_streaming_producer(
            transport=spy,
            max_wait_time=None,
            retry_options=fast_retries(max_retries=10),
            **ledger.handlers(),
        ) as producer:
            await ledger.queue(producer, body("ok", 0), partition_id="0")
            await producer.flush()
            # the connection goes away; the retry has to authenticate again, and is refused
            # (a link detached alone attaches again on the connection's token)
            emulator.faults.refuse_auth()
            emulator.faults.drop_connection_on_next_transfer(eventhub_name="eh1", partition_id="0")
            await ledger.queue(producer, body("refused", 0), partition_id="0")
            await producer.flush()
            emulator.faults.refuse_auth(False)
            await ledger.queue(producer, body("ok", 1), partition_id="0")
    summary = ledger.check(emulator, "eh1")
    (failure,) = summary.failures
    assert isinstance(failure, AuthenticationError)
    assert not failure.is_transient
    assert ledger.failed == [body("refused", 0)]
    assert summary.published == 2
    # the drop, then one refused attempt: no retry after the refusal
    assert [type(e) for e in spy.errors] == [ConnectionLostError, AuthenticationError]
    assert emulator.faults.fired()["auth"] == 1


# -- unknown hub, unknown partition ----------------------------------------------------------


async def test_an_unknown_hub_fails_the_open_with_a_clear_not_found_error(
    emulator: EventHubsEmulator,
) -> None:
    with anyio.fail_after(TEST_TIMEOUT), pytest.raises(NotFoundError) as info:
        async with open_streaming_producer(emulator.connection_string(), "no-such-hub"):
            pytest.fail("opened an unknown hub")  # pragma: no cover
    assert "'no-such-hub'" in str(info.value)
    assert not info.value.is_transient


async def test_an_unknown_partition_is_refused_at_queue_time_and_others_flow(
    emulator: EventHubsEmulator,
) -> None:
    ledger = Ledger()
    with anyio.fail_after(TEST_TIMEOUT):
        async with open_streaming_producer(
            emulator.connection_string("small"), max_wait_time=None, **ledger.handlers()
        ) as producer:
            await ledger.queue(producer, body("ok", 0), partition_id="1")
            with pytest.raises(ValueError, match=r"no partition '2'.*\['0', '1'\]"):
                await producer.queue_for_send(body("bad", 0), partition_id="2")
            with pytest.raises(ValueError, match=r"no partition '-1'"):
                producer.try_queue_for_send(body("bad", 1), partition_id="-1")
            assert producer.total_queued_event_count == 1
            await ledger.queue(producer, body("ok", 1), partition_id="1")
    assert ledger.check(emulator, "small").published == 2


# -- an event larger than the maximum message size -----------------------------------------


async def test_an_event_too_large_is_refused_at_queue_time_and_its_partition_keeps_flowing(
    emulator: EventHubsEmulator,
) -> None:
    ledger = Ledger()
    with anyio.fail_after(TEST_TIMEOUT):
        async with open_streaming_producer(
            emulator.connection_string("small"), max_wait_time=None, **ledger.handlers()
        ) as producer:
            for i in range(30):
                await ledger.queue(producer, body("before", i, 100), partition_id="0")
            too_large = body("huge", 0, SMALL_MAX_MESSAGE_SIZE)
            with pytest.raises(EventTooLargeError) as info:
                await producer.queue_for_send(too_large, partition_id="0")
            assert info.value.max_size == SMALL_MAX_MESSAGE_SIZE
            assert info.value.size > SMALL_MAX_MESSAGE_SIZE
            with pytest.raises(EventTooLargeError):
                producer.try_queue_for_send(too_large, partition_key="k")
            assert producer.get_partition_queued_event_count("0") == 30
            for i in range(30):
                await ledger.queue(producer, body("after", i, 100), partition_id="0")
    summary = ledger.check(emulator, "small")
    assert summary.published == 60
    assert emulator.faults.fired() == {}  # the service never saw the large event


# -- a server that accepts TCP and never answers -------------------------------------------


async def test_a_listener_that_never_answers_fails_the_open_after_open_timeout() -> None:
    with black_hole_listener() as (host, port):
        connection_string = (
            f"Endpoint=sb://{host}:{port};SharedAccessKeyName=k;SharedAccessKey=s;"
            "EntityPath=eh1;UseDevelopmentEmulator=true"
        )
        started = anyio.current_time()
        with anyio.fail_after(TEST_TIMEOUT), pytest.raises(ConnectError) as info:
            async with open_streaming_producer(connection_string, open_timeout=0.5):
                pytest.fail("opened a black hole")  # pragma: no cover
    assert 0.5 <= anyio.current_time() - started < 5
    assert "within open_timeout=0.5s" in str(info.value)


async def test_reconnecting_to_a_server_that_never_answers_is_bounded_by_try_timeout(
    emulator: EventHubsEmulator,
) -> None:
    ledger = Ledger()
    with anyio.fail_after(TEST_TIMEOUT):
        async with open_streaming_producer(
            emulator.connection_string("eh1"),
            max_wait_time=None,
            retry_options=fast_retries(max_retries=1, try_timeout=0.5),
            **ledger.handlers(),
        ) as producer:
            await ledger.queue(producer, body("ok", 0), partition_id="3")
            await producer.flush()
            # the connection drops; every new one is accepted and never answered
            emulator.faults.hang_new_connections()
            emulator.faults.drop_connection_on_next_transfer(eventhub_name="eh1")
            await ledger.queue(producer, body("hung", 0), partition_id="3")
            await producer.flush()
            emulator.faults.hang_new_connections(False)
            await ledger.queue(producer, body("ok", 1), partition_id="3")
    summary = ledger.check(emulator, "eh1")
    (failure,) = summary.failures
    assert isinstance(failure, OperationTimeoutError)
    assert ledger.failed == [body("hung", 0)]
    assert summary.published == 2
