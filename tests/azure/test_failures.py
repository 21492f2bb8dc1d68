"""What the service refuses, and how it reaches the producer: mapped, retried or reported."""

from __future__ import annotations

import anyio
import pytest

from anyio_eventhubs import (
    AuthenticationError,
    ConnectError,
    ConnectionLostError,
    InternalServerError,
    MessageTooLargeError,
    NotFoundError,
    RetryOptions,
    ServerBusyError,
    ThrottledError,
    TransportError,
    open_streaming_producer,
)
from anyio_eventhubs.testing.emulator import (
    INTERNAL_ERROR,
    MESSAGE_SIZE_EXCEEDED,
    NOT_FOUND,
    SERVER_BUSY,
    THROTTLED,
    EventHubsEmulator,
    black_hole_listener,
)

from ..helpers import Recorder

pytestmark = pytest.mark.anyio

FAST_RETRIES = RetryOptions(max_retries=3, delay=0.01, jitter=0)
ONE_RETRY = RetryOptions(max_retries=1, delay=0.01, jitter=0)


def bodies(emulator: EventHubsEmulator, hub: str, partition_id: str) -> list[bytes]:
    return [e.body for e in emulator.published_events(hub, partition_id)]


async def test_server_busy_is_retried_and_published_once_in_order(
    emulator: EventHubsEmulator,
) -> None:
    emulator.faults.reject_next(2, condition=SERVER_BUSY, eventhub_name="small", partition_id="0")
    rec = Recorder()
    async with open_streaming_producer(
        emulator.connection_string("small"),
        max_wait_time=None,
        retry_options=FAST_RETRIES,
        **rec.handlers(),
    ) as producer:
        for i in range(60):
            await producer.queue_for_send(b"%03d" % i + b"x" * 97, partition_id="0")
    assert emulator.faults.fired() == {"reject": 2}
    assert [b[:3] for b in bodies(emulator, "small", "0")] == [b"%03d" % i for i in range(60)]
    assert len(rec.published_events) == 60
    assert not rec.failed


@pytest.mark.parametrize(
    ("condition", "error", "transient"),
    [
        pytest.param(SERVER_BUSY, ServerBusyError, True, id="server-busy"),
        pytest.param(THROTTLED, ThrottledError, True, id="throttled"),
        pytest.param(INTERNAL_ERROR, InternalServerError, True, id="internal-error"),
        pytest.param(MESSAGE_SIZE_EXCEEDED, MessageTooLargeError, False, id="message-size"),
        pytest.param(NOT_FOUND, NotFoundError, False, id="not-found"),
    ],
)
async def test_rejection_is_reported_once_the_policy_gives_up(
    emulator: EventHubsEmulator,
    condition: str,
    error: type[TransportError],
    transient: bool,
) -> None:
    emulator.faults.reject_next(5, condition=condition, eventhub_name="eh1")
    rec = Recorder()
    async with open_streaming_producer(
        emulator.connection_string("eh1"),
        max_wait_time=None,
        retry_options=ONE_RETRY,
        **rec.handlers(),
    ) as producer:
        await producer.queue_for_send(b"refused", partition_id="1")
    (failed,) = rec.failed
    assert type(failed.exception) is error
    assert failed.exception.is_transient is transient
    assert condition in str(failed.exception)
    assert "partition '1'" in str(failed.exception)
    assert emulator.faults.fired() == {"reject": 2 if transient else 1}
    assert emulator.event_count("eh1") == 0


@pytest.mark.parametrize("fault", ["detach", "drop_connection"])
async def test_a_lost_link_is_reopened_by_the_retry(
    emulator: EventHubsEmulator, fault: str
) -> None:
    if fault == "detach":
        emulator.faults.detach_next(1, eventhub_name="eh1", partition_id="2")
    else:
        emulator.faults.drop_connection_on_next_transfer(1, eventhub_name="eh1", partition_id="2")
    failures: list[BaseException] = []

    async with open_streaming_producer(
        emulator.connection_string("eh1"),
        max_wait_time=None,
        retry_options=FAST_RETRIES,
        on_publish_failed=lambda args: failures.append(args.exception),
    ) as producer:
        await producer.queue_for_send(b"first", partition_id="2")
        await producer.flush()
        await producer.queue_for_send(b"second", partition_id="2")
    assert bodies(emulator, "eh1", "2") == [b"first", b"second"]
    assert not failures
    assert emulator.faults.fired() == {fault: 1}


async def test_a_lost_link_is_a_transient_connection_lost_error(
    emulator: EventHubsEmulator,
) -> None:
    emulator.faults.detach_next(1, eventhub_name="eh1")
    rec = Recorder()
    async with open_streaming_producer(
        emulator.connection_string("eh1"),
        max_wait_time=None,
        retry_options=RetryOptions(max_retries=0),
        **rec.handlers(),
    ) as producer:
        await producer.queue_for_send(b"x", partition_id="0")
    (failed,) = rec.failed
    assert isinstance(failed.exception, ConnectionLostError)
    assert failed.exception.is_transient


async def test_refused_credentials_fail_the_open_with_authentication_error(
    emulator: EventHubsEmulator,
) -> None:
    emulator.faults.refuse_auth()
    with anyio.fail_after(10), pytest.raises(AuthenticationError) as info:
        async with open_streaming_producer(emulator.connection_string("eh1")):
            pytest.fail("opened despite refused credentials")  # pragma: no cover
    assert not info.value.is_transient
    assert "401" in str(info.value)
    assert emulator.key is not None
    assert emulator.key not in str(info.value)


async def test_a_wrong_key_fails_with_a_message_that_does_not_leak_it(
    emulator: EventHubsEmulator,
) -> None:
    wrong = emulator.connection_string("eh1").replace(
        f"SharedAccessKey={emulator.key}", "SharedAccessKey=not-the-key-s3cret"
    )
    with anyio.fail_after(10), pytest.raises(AuthenticationError) as info:
        async with open_streaming_producer(wrong):
            pytest.fail("opened with a wrong key")  # pragma: no cover
    text = str(info.value)
    assert "signature does not match" in text
    assert "s3cret" not in text
    assert "sig=" not in text
    assert "SharedAccessSignature sr" not in text


async def test_an_unknown_hub_fails_the_open_with_not_found(emulator: EventHubsEmulator) -> None:
    with anyio.fail_after(10), pytest.raises(NotFoundError) as info:
        async with open_streaming_producer(emulator.connection_string(), "no-such-hub"):
            pytest.fail("opened an unknown hub")  # pragma: no cover
    assert "no-such-hub" in str(info.value)
    assert not info.value.is_transient


async def test_an_unknown_partition_is_refused_at_queue_time(emulator: EventHubsEmulator) -> None:
    async with open_streaming_producer(emulator.connection_string("eh2")) as producer:
        with pytest.raises(ValueError, match=r"'7'.*\['0', '1'\]"):
            await producer.queue_for_send(b"x", partition_id="7")


async def test_a_silent_listener_fails_the_open_within_open_timeout() -> None:
    with black_hole_listener() as (host, port):
        connection_string = (
            f"Endpoint=sb://{host}:{port};SharedAccessKeyName=k;SharedAccessKey=secret;"
            "EntityPath=eh1;UseDevelopmentEmulator=true"
        )
        start = anyio.current_time()
        with anyio.fail_after(10), pytest.raises(ConnectError) as info:
            async with open_streaming_producer(connection_string, open_timeout=0.5):
                pytest.fail("opened a black hole")  # pragma: no cover
        elapsed = anyio.current_time() - start
    assert 0.5 <= elapsed < 5
    assert "open_timeout=0.5" in str(info.value)
    assert info.value.is_transient


async def test_a_closed_port_fails_the_open_with_connect_error() -> None:
    with black_hole_listener() as (host, port):
        pass  # closed again: nothing listens there now
    connection_string = (
        f"Endpoint=sb://{host}:{port};SharedAccessKeyName=k;SharedAccessKey=secret;"
        "EntityPath=eh1;UseDevelopmentEmulator=true"
    )
    with anyio.fail_after(10), pytest.raises(ConnectError) as info:
        async with open_streaming_producer(connection_string, open_timeout=5):
            pytest.fail("opened a closed port")  # pragma: no cover
    assert "secret" not in str(info.value)
