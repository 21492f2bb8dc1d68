"""The bad input catalogue: each mistake gets a clear exception naming what is wrong.

``tests/test_bad_input.py`` covers the producer's options and the events' types;
``tests/azure/test_options.py`` checks ``azure_transport`` directly. This catalogue goes
through the public entry points for what those leave out: connection strings and
namespaces, credentials, the remaining arguments of public functions, text that is not
valid Unicode, and handlers that misbehave (raise, flush or close their own producer),
on the emulator under both backends. No message repeats a key.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import anyio
import pytest
from azure.core.credentials import AccessToken, AzureKeyCredential, AzureNamedKeyCredential
from azure.core.exceptions import ClientAuthenticationError
from azure.eventhub import EventHubProducerClient as SyncEventHubProducerClient

from anyio_eventhubs import (
    AuthenticationError,
    EventData,
    EventTooLargeError,
    ProducerClosedError,
    PublishFailedEventArgs,
    PublishSucceededEventArgs,
    RetryOptions,
    ServerBusyError,
    StreamingProducer,
    open_streaming_producer,
    partition_for_key,
)
from anyio_eventhubs.testing import InMemoryEventHub
from anyio_eventhubs.testing.emulator import SERVER_BUSY, EventHubsEmulator

from .helpers import SMALL_MAX_MESSAGE_SIZE, Ledger, body

pytestmark = pytest.mark.anyio

SECRET = "c2VjcmV0LWtleS1vZi10aGUtY2F0YWxvZ3Vl"
KEY_PARTS = f"SharedAccessKeyName=send;SharedAccessKey={SECRET}"


# -- connection strings and namespaces, through open_streaming_producer ----------------------


@pytest.mark.parametrize(
    ("options", "exc", "match"),
    [
        pytest.param({"connection_string": "   "}, ValueError, "is empty", id="blank"),
        pytest.param({"connection_string": ";;"}, ValueError, "is empty", id="separators"),
        pytest.param(
            {"connection_string": f"Endpoint=sb://ns.example:port/;{KEY_PARTS};EntityPath=h"},
            ValueError,
            "port of Endpoint is not a number",
            id="bad-port",
        ),
        pytest.param(
            {"connection_string": f"Endpoint=sb:///;{KEY_PARTS};EntityPath=h"},
            ValueError,
            "Endpoint must look like sb://",
            id="no-host",
        ),
        pytest.param(
            {"connection_string": f"Endpoint=sb://ns/;{KEY_PARTS};EntityPath="},
            ValueError,
            "no Event Hub name",
            id="empty-entity-path",
        ),
        pytest.param(
            {"connection_string": f"Endpoint=sb://ns/;{KEY_PARTS};EntityPath=a;EntityPath=a"},
            ValueError,
            "EntityPath is given twice",
            id="entity-path-twice",
        ),
        pytest.param(
            {"connection_string": f"{KEY_PARTS};EntityPath=h"},
            ValueError,
            "Endpoint=sb://<namespace>/ is missing",
            id="no-endpoint",
        ),
        pytest.param(
            {"connection_string": f"Endpoint=sb://ns/;{SECRET};EntityPath=h"},
            ValueError,
            "part 2 is not of the form Name=Value",
            id="bare-key",
        ),
        pytest.param(
            {"connection_string": f"Endpoint=sb://ns/;{KEY_PARTS}", "eventhub_name": "  "},
            ValueError,
            "eventhub_name must not be empty",
            id="blank-hub-name",
        ),
        pytest.param(
            {
                "fully_qualified_namespace": f"Endpoint=sb://ns/;{KEY_PARTS}",
                "eventhub_name": "h",
                "credential": AzureNamedKeyCredential("send", SECRET),
            },
            ValueError,
            "not a URL or a connection string",
            id="connection-string-as-namespace",
        ),
        pytest.param(
            {
                "fully_qualified_namespace": "sb://ns.servicebus.windows.net/",
                "eventhub_name": "h",
                "credential": AzureNamedKeyCredential("send", SECRET),
            },
            ValueError,
            "must be a host name",
            id="url-as-namespace",
        ),
        pytest.param(
            {
                "fully_qualified_namespace": "localhost:99999",
                "eventhub_name": "h",
                "credential": AzureNamedKeyCredential("send", SECRET),
            },
            ValueError,
            "port that is not a number",
            id="namespace-port-out-of-range",
        ),
        pytest.param(
            {"fully_qualified_namespace": 5, "eventhub_name": "h", "credential": None},
            TypeError,
            "fully_qualified_namespace must be a str, got int",
            id="namespace-type",
        ),
        pytest.param(
            {"connection_string": f"Endpoint=sb://ns/;{KEY_PARTS}", "eventhub_name": b"h"},
            TypeError,
            "eventhub_name must be a str, got bytes",
            id="hub-name-type",
        ),
        pytest.param(
            {"connection_string": f"Endpoint=sb://ns/;{KEY_PARTS};EntityPath=h", "open_timeout": 0},
            ValueError,
            "open_timeout must be a positive number",
            id="open-timeout-zero",
        ),
        pytest.param(
            {
                "connection_string": f"Endpoint=sb://ns/;{KEY_PARTS};EntityPath=h",
                "open_timeout": "5",
            },
            TypeError,
            "open_timeout must be a number of seconds, got str",
            id="open-timeout-type",
        ),
        pytest.param(
            {"connection_string": f"Endpoint=sb://ns/;{KEY_PARTS};EntityPath=h", "retry_total": 3},
            TypeError,
            "unexpected keyword argument 'retry_total'",
            id="unknown-option",
        ),
        pytest.param({"client": "client"}, TypeError, "client must be an azure", id="client-type"),
    ],
)
async def test_bad_connection_options_are_named_without_the_key(
    options: dict[str, Any], exc: type[Exception], match: str
) -> None:
    with pytest.raises(exc, match=match) as info:
        async with open_streaming_producer(**options):
            pytest.fail("opened with bad options")  # pragma: no cover
    assert SECRET not in str(info.value)
    assert SECRET not in repr(info.value)


# -- credentials ---------------------------------------------------------------------------


class NotCallableGetToken:
    get_token = "not a method"


class RefusingCredential:
    """A token credential that fails, as ``azure.identity`` does without a login."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        raise ClientAuthenticationError("no credential available in this environment")


class AsyncRefusingCredential:
    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        raise ClientAuthenticationError("no credential available in this environment")


@pytest.mark.parametrize(
    ("credential", "exc", "match"),
    [
        pytest.param(SECRET, TypeError, "not a string", id="str"),
        pytest.param(SECRET.encode(), TypeError, "not a string", id="bytes"),
        pytest.param(42, TypeError, "got int", id="int"),
        pytest.param({"key": SECRET}, TypeError, "got dict", id="dict"),
        pytest.param(AzureKeyCredential(SECRET), TypeError, "AzureKeyCredential", id="key-cred"),
        pytest.param(AzureNamedKeyCredential, TypeError, "got type", id="a-class"),
        pytest.param(NotCallableGetToken(), TypeError, "NotCallableGetToken", id="get-token-attr"),
        pytest.param(None, ValueError, "credential= is missing", id="none"),
    ],
)
async def test_credentials_of_the_wrong_type_are_named(
    credential: object, exc: type[Exception], match: str
) -> None:
    with pytest.raises(exc, match=match) as info:
        async with open_streaming_producer(
            fully_qualified_namespace="ns.servicebus.windows.net",
            eventhub_name="h",
            credential=credential,  # type: ignore[arg-type]
        ):
            pytest.fail("opened with a bad credential")  # pragma: no cover
    assert SECRET not in str(info.value)


async def test_a_sync_client_is_refused_by_open_streaming_producer() -> None:
    client = SyncEventHubProducerClient.from_connection_string(
        f"Endpoint=sb://ns/;{KEY_PARTS};EntityPath=h"
    )
    try:
        with pytest.raises(TypeError, match=r"not the sync azure\.eventhub"):
            async with open_streaming_producer(client=client):  # type: ignore[arg-type]
                pytest.fail("opened with a sync client")  # pragma: no cover
    finally:
        client.close()


@pytest.mark.parametrize("credential", [RefusingCredential(), AsyncRefusingCredential()])
async def test_a_credential_that_fails_is_an_authentication_error_at_open(
    emulator: EventHubsEmulator, credential: object
) -> None:
    with anyio.fail_after(20), pytest.raises(AuthenticationError) as info:
        async with open_streaming_producer(
            fully_qualified_namespace=f"127.0.0.1:{emulator.port}",
            eventhub_name="eh1",
            credential=credential,  # type: ignore[arg-type]
            open_timeout=10,
        ):
            pytest.fail("opened without a token")  # pragma: no cover
    assert "no credential available" in str(info.value)
    assert not info.value.is_transient
    assert isinstance(info.value.__cause__, ClientAuthenticationError)


# -- the other public arguments ------------------------------------------------------------


#: the same, untyped: the calls below are wrong on purpose
untyped_partition_for_key: Any = partition_for_key
UntypedRetryOptions: Any = RetryOptions


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        pytest.param(
            lambda: untyped_partition_for_key(7, ["0"]), TypeError, "partition_key", id="pk-int"
        ),
        pytest.param(
            lambda: untyped_partition_for_key("k", "01"), ValueError, "partition_ids", id="ids-str"
        ),
        pytest.param(
            lambda: untyped_partition_for_key("k", []), ValueError, "partition_ids", id="no-ids"
        ),
        pytest.param(
            lambda: UntypedRetryOptions(max_retries=1.5), TypeError, "max_retries", id="retries"
        ),
        pytest.param(lambda: UntypedRetryOptions(delay="1"), TypeError, "delay", id="delay-type"),
        pytest.param(
            lambda: UntypedRetryOptions(max_delay=-1), ValueError, "max_delay", id="max-delay"
        ),
        pytest.param(lambda: UntypedRetryOptions(mode="linear"), ValueError, "mode", id="mode"),
        pytest.param(
            lambda: UntypedRetryOptions(try_timeout=0), ValueError, "try_timeout", id="timeout"
        ),
        pytest.param(
            lambda: UntypedRetryOptions(try_timeout=math.nan),
            ValueError,
            "try_timeout",
            id="timeout-nan",
        ),
        pytest.param(lambda: UntypedRetryOptions(jitter=1.5), ValueError, "jitter", id="jitter"),
        pytest.param(
            lambda: UntypedRetryOptions(jitter=None), TypeError, "jitter", id="jitter-type"
        ),
    ],
)
def test_public_functions_name_their_bad_argument(
    call: Any, exc: type[Exception], match: str
) -> None:
    with pytest.raises(exc, match=match):
        call()


def unencodable_event() -> EventData:
    event = EventData(b"x")
    event.properties = {"when": object()}
    return event


@pytest.mark.parametrize(
    ("event", "routing", "exc", "match"),
    [
        pytest.param(b"x", {"partition_id": b"0"}, TypeError, "partition_id", id="id-bytes"),
        pytest.param(b"x", {"partition_id": True}, TypeError, "partition_id", id="id-bool"),
        pytest.param(b"x", {"partition_id": 0.0}, TypeError, "partition_id", id="id-float"),
        pytest.param(b"x", {"partition_key": ["k"]}, TypeError, "partition_key", id="key-list"),
        pytest.param(b"x", {"partition_key": "\ud800"}, ValueError, "partition_key", id="key-utf8"),
        pytest.param(
            b"x",
            {"partition_id": "0", "partition_key": "k"},
            ValueError,
            "not both",
            id="id-and-key",
        ),
        pytest.param(memoryview(b"x"), {}, TypeError, "memoryview", id="memoryview"),
        pytest.param("bad \udc80 text", {}, ValueError, "str event", id="str-not-unicode"),
        pytest.param(unencodable_event(), {}, ValueError, "cannot be encoded", id="property"),
        pytest.param(
            b"x",
            {"partition_key": "k" * SMALL_MAX_MESSAGE_SIZE},
            EventTooLargeError,
            "maximum message size",
            id="key-too-large",
        ),
    ],
)
async def test_bad_events_and_routes_are_refused_before_anything_is_queued(
    event: Any, routing: dict[str, Any], exc: type[Exception], match: str
) -> None:
    hub = InMemoryEventHub(2, max_message_size=SMALL_MAX_MESSAGE_SIZE)
    async with open_streaming_producer(transport=hub) as producer:
        with pytest.raises(exc, match=match):
            await producer.queue_for_send(event, **routing)
        with pytest.raises(exc, match=match):
            producer.try_queue_for_send(event, **routing)
        assert producer.total_queued_event_count == 0
        await producer.queue_for_send(b"still fine", partition_id="0")
    assert hub.published_count() == 1


async def test_queued_counts_name_a_bad_partition() -> None:
    async with open_streaming_producer(transport=InMemoryEventHub(2)) as producer:
        with pytest.raises(TypeError, match="partition_id must be a str, got NoneType"):
            producer.get_partition_queued_event_count(None)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="partition_id must be a str, got bytes"):
            producer.get_partition_queued_event_count(b"0")  # type: ignore[arg-type]


async def test_a_huge_partition_key_goes_to_the_emulator_as_it_is(
    emulator: EventHubsEmulator,
) -> None:
    key = "device-" + "k" * 2000
    async with open_streaming_producer(emulator.connection_string("eh1")) as producer:
        await producer.queue_for_send(b"keyed", partition_key=key)
    (stored,) = emulator.all_events("eh1")
    assert stored.partition_key == key
    assert stored.partition_id == partition_for_key(key, ["0", "1", "2", "3"])


# -- handlers that misbehave, on the emulator --------------------------------------------------


def handler_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "handler" in r.getMessage() and r.exc_info]


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_handlers_that_raise_are_logged_and_each_event_keeps_one_outcome(
    emulator: EventHubsEmulator, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    emulator.faults.reject_next(1, condition="amqp:not-allowed", partition_id="1")
    ledger = Ledger()

    def succeeded(args: PublishSucceededEventArgs) -> None:
        ledger.on_succeeded(args)
        raise ValueError("success handler bug")

    def failed(args: PublishFailedEventArgs) -> None:
        ledger.on_failed(args)
        raise KeyError("failure handler bug")

    async def async_succeeded(args: PublishSucceededEventArgs) -> None:
        await anyio.lowlevel.checkpoint()
        succeeded(args)

    async def async_failed(args: PublishFailedEventArgs) -> None:
        await anyio.lowlevel.checkpoint()
        failed(args)

    handlers: dict[str, Any] = (
        {"on_publish_succeeded": succeeded, "on_publish_failed": failed}
        if kind == "sync"
        else {"on_publish_succeeded": async_succeeded, "on_publish_failed": async_failed}
    )
    with caplog.at_level(logging.ERROR, logger="anyio_eventhubs"), anyio.fail_after(20):
        async with open_streaming_producer(
            emulator.connection_string("eh1"), max_wait_time=None, **handlers
        ) as producer:
            for i in range(40):
                await ledger.queue(producer, body("h", i), partition_id=str(i % 4))
            await producer.flush()
            for i in range(40, 80):
                await ledger.queue(producer, body("h", i), partition_id=str(i % 4))
    summary = ledger.check(emulator, "eh1")
    assert summary.failed == 10  # partition 1's first batch, refused for good
    assert summary.published == 70
    assert producer.statistics().published == 70
    texts = [r.exc_text or "" for r in handler_errors(caplog)]
    assert sum("success handler bug" in t for t in texts) == 7  # one per batch
    assert sum("failure handler bug" in t for t in texts) == 1


@pytest.mark.parametrize("method", ["flush", "clear", "aclose"])
async def test_a_handler_awaiting_its_own_producer_gets_a_clear_error_not_a_deadlock(
    emulator: EventHubsEmulator, caplog: pytest.LogCaptureFixture, method: str
) -> None:
    ledger = Ledger()

    async def succeeded(args: PublishSucceededEventArgs) -> None:
        ledger.on_succeeded(args)
        await getattr(producer, method)()  # not caught: the handler raises

    with caplog.at_level(logging.ERROR, logger="anyio_eventhubs"), anyio.fail_after(20):
        async with open_streaming_producer(
            emulator.connection_string("eh1"),
            max_wait_time=None,
            on_publish_succeeded=succeeded,
            on_publish_failed=ledger.on_failed,
        ) as producer:
            for i in range(8):
                await ledger.queue(producer, body(method, i), partition_id=str(i % 4))
            await producer.flush()
            assert not producer.is_closed
            await ledger.queue(producer, body("after", 0), partition_id="0")
    assert ledger.check(emulator, "eh1").published == 9
    texts = [r.exc_text or "" for r in handler_errors(caplog)]
    assert len(texts) == 5
    assert all(
        f"RuntimeError: {method}() was called from an on_publish_succeeded" in t for t in texts
    )


async def test_a_handler_may_close_its_producer_from_another_task(
    emulator: EventHubsEmulator,
) -> None:
    ledger = Ledger()
    closed = anyio.Event()

    async def close() -> None:
        await producer.aclose()
        closed.set()

    async with anyio.create_task_group() as tg:

        def succeeded(args: PublishSucceededEventArgs) -> None:
            ledger.on_succeeded(args)
            if len(ledger.published) == 4:
                # the documented way out of a handler: a task the handler does not wait for
                tg.start_soon(close)

        with anyio.fail_after(20):
            async with open_streaming_producer(
                emulator.connection_string("eh1"),
                max_wait_time=None,
                on_publish_succeeded=succeeded,
                on_publish_failed=ledger.on_failed,
            ) as producer:
                for i in range(16):
                    await ledger.queue(producer, body("close", i), partition_id=str(i % 4))
                await producer.flush()
                await closed.wait()
                assert producer.is_closed
                with pytest.raises(ProducerClosedError):
                    await producer.queue_for_send(b"too late")
    assert ledger.check(emulator, "eh1").published == 16


async def test_a_failure_handler_may_queue_its_events_again_with_try_queue_for_send(
    emulator: EventHubsEmulator,
) -> None:
    emulator.faults.reject_next(1, condition=SERVER_BUSY, partition_id="2")
    requeued: list[bool] = []
    published: list[bytes] = []
    holder: list[StreamingProducer] = []

    def failed(args: PublishFailedEventArgs) -> None:
        assert isinstance(args.exception, ServerBusyError)
        for event in args.events:
            requeued.append(holder[0].try_queue_for_send(event, partition_id=args.partition_id))

    def succeeded(args: PublishSucceededEventArgs) -> None:
        published.extend(e for e in args.events if isinstance(e, bytes))

    with anyio.fail_after(20):
        async with open_streaming_producer(
            emulator.connection_string("eh1"),
            max_wait_time=None,
            retry_options=RetryOptions(max_retries=0),
            on_publish_failed=failed,
            on_publish_succeeded=succeeded,
        ) as producer:
            holder.append(producer)
            for i in range(5):
                await producer.queue_for_send(body("again", i), partition_id="2")
            await producer.flush()  # fails the batch; the handler queues it again
            assert producer.get_partition_queued_event_count("2") == 5
    assert requeued == [True] * 5
    expected = [body("again", i) for i in range(5)]
    assert published == expected
    assert [e.body for e in emulator.published_events("eh1", "2")] == expected


async def test_force_resend_twice_in_one_handler_is_an_error(
    emulator: EventHubsEmulator,
) -> None:
    emulator.faults.reject_next(1, condition="amqp:not-allowed", partition_id="0")
    errors: list[BaseException] = []
    ledger = Ledger()

    def failed(args: PublishFailedEventArgs) -> None:
        args.force_resend()
        try:
            args.force_resend()
        except RuntimeError as exc:
            errors.append(exc)

    with anyio.fail_after(20):
        async with open_streaming_producer(
            emulator.connection_string("eh1"),
            on_publish_failed=failed,
            on_publish_succeeded=ledger.on_succeeded,
        ) as producer:
            await ledger.queue(producer, body("resent", 0), partition_id="0")
    (error,) = errors
    assert "only be called once" in str(error)
    assert ledger.check(emulator, "eh1").published == 1
