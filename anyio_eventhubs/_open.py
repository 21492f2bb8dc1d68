"""``open_streaming_producer``: the async context manager that owns every task.

Exception policy of the ``async with`` block
--------------------------------------------

On the way out, the producer closes: a normal exit flushes (waiting for every outcome);
an exit by exception or cancellation gives what is queued ``close_timeout`` seconds,
shielded, to go out, and reports the rest failed with
:class:`~anyio_eventhubs.EventClearedError`. Then what leaves the block is:

- nothing, if the body succeeded and nothing failed unhandled;
- the body's exception, unchanged, if it is the only error;
- a background error (a crashed producer task, or a :class:`~anyio_eventhubs.PublishError`
  for a failure that no ``on_publish_failed`` handler took), unchanged, if it is the only
  error;
- a ``BaseExceptionGroup`` of all of them when there are several (the body's first) —
  catch with ``except*``;
- the cancellation, if the body was cancelled: unhandled publish failures are then
  logged at ERROR on the ``anyio_eventhubs`` logger instead of raised, so that
  cancellation propagates as it must.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from ssl import SSLContext
from typing import TYPE_CHECKING, Any, TypeAlias

import anyio
from azure.eventhub import TransportType

from ._journal_options import JournalOptions, journal_options
from ._journaling import open_journal
from ._options import FailedHandler, ProducerOptions, SucceededHandler
from ._producer import StreamingProducer
from ._reporting import logger
from ._retry import RetryOptions
from .transport import IdempotentTransportConnection, Transport

if TYPE_CHECKING:
    from azure.core.credentials import AzureNamedKeyCredential, AzureSasCredential, TokenCredential
    from azure.core.credentials_async import AsyncTokenCredential
    from azure.eventhub.aio import EventHubProducerClient

__all__ = ["Credential", "open_streaming_producer"]

#: what ``credential=`` accepts
Credential: TypeAlias = (
    "AzureNamedKeyCredential | AzureSasCredential | TokenCredential | AsyncTokenCredential"
)


def _resolve_transport(
    transport: object,
    connection_string: str | None,
    eventhub_name: str | None,
    connection: dict[str, Any],
) -> Transport:
    more = {name: value for name, value in connection.items() if value is not None}
    if connection_string is not None and not isinstance(connection_string, str):
        raise TypeError(f"connection_string must be a str, got {type(connection_string).__name__}")
    if eventhub_name is not None and not isinstance(eventhub_name, str):
        raise TypeError(f"eventhub_name must be a str, got {type(eventhub_name).__name__}")
    if transport is not None:
        if connection_string is not None or more:
            given = ["connection_string"] if connection_string is not None else []
            raise ValueError(
                "transport= replaces the connection options; "
                f"do not also give {given + sorted(more)}"
            )
        if not isinstance(transport, Transport):
            raise TypeError(
                "transport must implement anyio_eventhubs.transport.Transport (a connect() "
                f"method), got {type(transport).__name__}"
            )
        return transport
    if connection_string is None and not more:
        raise ValueError(
            "give a connection string, fully_qualified_namespace= with credential=, "
            "client=, or transport="
        )
    from ._azure import azure_transport

    return azure_transport(connection_string, eventhub_name, **more)


@asynccontextmanager
async def open_streaming_producer(
    connection_string: str | None = None,
    eventhub_name: str | None = None,
    *,
    transport: Transport | None = None,
    on_publish_succeeded: SucceededHandler | None = None,
    on_publish_failed: FailedHandler | None = None,
    max_wait_time: float | None = 1.0,
    max_queued_events: int = 1500,
    max_concurrent_sends: int | None = None,
    max_concurrent_sends_per_partition: int = 1,
    enable_idempotent_retries: bool = False,
    retry_options: RetryOptions | None = None,
    identifier: str | None = None,
    close_timeout: float = 30.0,
    enable_telemetry: bool = True,
    refresh_partitions_every: float | None = 60.0,
    fully_qualified_namespace: str | None = None,
    credential: Credential | None = None,
    client: EventHubProducerClient | None = None,
    open_timeout: float | None = None,
    transport_type: TransportType | None = None,
    http_proxy: Mapping[str, str | int] | None = None,
    custom_endpoint_address: str | None = None,
    connection_verify: str | None = None,
    ssl_context: SSLContext | None = None,
    user_agent: str | None = None,
    journal: str | os.PathLike[str] | JournalOptions | None = None,
) -> AsyncIterator[StreamingProducer]:
    """Open a streaming producer; close it (publishing what is queued) on exit.

    ::

        async with open_streaming_producer(conn_str, "my-hub") as producer:
            await producer.queue_for_send(b"reading", partition_key="device-7")

    :param connection_string: an Event Hubs connection string (with ``EntityPath`` or
        with *eventhub_name*).
    :param eventhub_name: the Event Hub's name.
    :param transport: what carries batches instead of the real service, e.g. an
        :class:`~anyio_eventhubs.testing.InMemoryEventHub`.
    :param on_publish_succeeded: called with :class:`~anyio_eventhubs.PublishSucceededEventArgs`
        for each published batch; sync or async.
    :param on_publish_failed: called with :class:`~anyio_eventhubs.PublishFailedEventArgs`
        once the retry policy gives up on a batch; sync or async. Without it, failures are
        raised from the next ``flush()`` or the exit as :class:`~anyio_eventhubs.PublishError`.
        With neither handler (and no journal), the producer keeps only the encoded message
        of each ``EventData``, not the object: a ``PublishError`` gets ``EventData``
        decoded from those messages.
    :param max_wait_time: seconds a partial batch waits after its first event before it
        is sent; ``None`` sends only full batches (and on flush).
    :param max_queued_events: per partition, events waiting behind the batch being filled
        before ``queue_for_send`` waits (batches in flight and the one being filled are
        bounded by size instead, so batches fill whatever this is).
    :param max_concurrent_sends: batches in flight over all partitions (``None``: no bound
        beyond the per-partition one).
    :param max_concurrent_sends_per_partition: batches in flight per partition; with 1
        (the default), a partition's events are published in queue order.
    :param enable_idempotent_retries: ask the service to store a retried batch only once
        (needs a transport that supports idempotent publishing, and ordering on).
    :param retry_options: the retry policy (:class:`~anyio_eventhubs.RetryOptions`).
    :param identifier: a name for the producer (default: a random UUID).
    :param close_timeout: seconds an exit by exception or cancellation keeps publishing.
    :param enable_telemetry: ``False`` turns OpenTelemetry spans, trace context and
        metrics off for this producer (they are on only when a provider is configured;
        ``docs/observability.md``).
    :param refresh_partitions_every: seconds between asking the service for the hub's
        partition ids, so that partitions added to a premium or dedicated hub join the
        round robin and the key mapping (``None``: never; ``get_partition_ids()`` always
        asks). Microsoft's JavaScript buffered producer asks every 10 seconds.
    :param fully_qualified_namespace: the namespace's host name
        (``<namespace>.servicebus.windows.net``), with *eventhub_name* and *credential*
        instead of a connection string. A loopback host with a port is a local emulator
        (plain TCP).
    :param credential: with *fully_qualified_namespace*: an ``AzureNamedKeyCredential``,
        an ``AzureSasCredential``, or a token credential from ``azure.identity`` (sync or
        ``.aio``) whose identity has the "Azure Event Hubs Data Sender" role.
    :param client: an ``azure.eventhub.aio.EventHubProducerClient`` to publish through,
        instead of the options above; it is used as it is and never closed.
    :param open_timeout: seconds that opening (management call, authentication, one link
        per partition) may take, and closing; default 60.
    :param transport_type: ``TransportType.Amqp`` (AMQP over TLS, port 5671; the default)
        or ``TransportType.AmqpOverWebsocket`` (AMQP over WebSockets, port 443; needs
        the ``websockets`` extra: ``pip install "anyio-eventhubs[websockets]"``).
    :param http_proxy: an HTTP proxy for AMQP over WebSockets: ``{"proxy_hostname": ...,
        "proxy_port": ..., "username": ..., "password": ...}`` (the last two optional).
    :param custom_endpoint_address: connect to this address (``sb://host[:port]``, or
        ``https://host[:port]`` over WebSockets) instead of the namespace's own, e.g. an
        application gateway in front of the service; the namespace still names the hub
        and the token audience.
    :param connection_verify: path of a CA bundle (PEM) to verify the service's
        certificate with, instead of the system's.
    :param ssl_context: an ``ssl.SSLContext`` for the TLS connection (certificate checks,
        client certificates, TLS versions).
    :param user_agent: appended to ``anyio-eventhubs/<version>`` in the user agent that
        the service sees.
    :param journal: a directory (created if missing), or
        :class:`~anyio_eventhubs.JournalOptions`: every accepted event is written there
        before ``queue_for_send`` returns, and a producer opened on it after a crash
        publishes first the events that had no outcome (``docs/durability.md``).
    :raises TypeError: for an argument of the wrong type or an unknown option.
    :raises ValueError: for a bad option value (never echoing a key or token).
    :raises ImportError: for ``TransportType.AmqpOverWebsocket`` without the
        ``websockets`` extra.
    :raises ~anyio_eventhubs.AuthenticationError: if the credential is refused.
    :raises ~anyio_eventhubs.NotFoundError: if the hub does not exist.
    :raises ~anyio_eventhubs.ConnectError: if the hub cannot be reached within
        *open_timeout* (name resolution, refused connection, TLS, proxy, a peer that is
        not Event Hubs); the message says which.
    :raises ~anyio_eventhubs.JournalError: if the journal cannot be opened: held by
        another producer, written for another hub, damaged, of a newer format, or not
        readable or writable (the subclass says which).
    """
    options = ProducerOptions(
        on_publish_succeeded=on_publish_succeeded,
        on_publish_failed=on_publish_failed,
        max_wait_time=max_wait_time,
        max_queued_events=max_queued_events,
        max_concurrent_sends=max_concurrent_sends,
        max_concurrent_sends_per_partition=max_concurrent_sends_per_partition,
        enable_idempotent_retries=enable_idempotent_retries,
        retry_options=RetryOptions() if retry_options is None else retry_options,
        identifier=identifier,
        close_timeout=close_timeout,
        enable_telemetry=enable_telemetry,
        refresh_partitions_every=refresh_partitions_every,
    )
    connection_options = {
        "fully_qualified_namespace": fully_qualified_namespace,
        "credential": credential,
        "client": client,
        "open_timeout": open_timeout,
        "transport_type": transport_type,
        "http_proxy": http_proxy,
        "custom_endpoint_address": custom_endpoint_address,
        "connection_verify": connection_verify,
        "ssl_context": ssl_context,
        "user_agent": user_agent,
    }
    journal_opts = journal_options(journal)
    resolved = _resolve_transport(transport, connection_string, eventhub_name, connection_options)
    if enable_idempotent_retries and not getattr(resolved, "supports_idempotent_publishing", False):
        raise ValueError(
            "enable_idempotent_retries=True needs a transport that supports idempotent "
            f"publishing; {type(resolved).__name__} does not"
        )
    cancelled_exc = anyio.get_cancelled_exc_class()
    body_exc: BaseException | None = None
    exit_cancel: BaseException | None = None
    background: list[BaseException] = []
    close_error: BaseException | None = None
    producer: StreamingProducer | None = None
    try:
        if enable_idempotent_retries:  # a transport that supports it takes idempotent=True
            opened = resolved.connect(idempotent=True)  # type: ignore[call-arg]
        else:
            opened = resolved.connect()
        async with opened as connection, open_journal(journal_opts, connection) as journaled:
            producer = StreamingProducer(
                connection, options, identifier or str(uuid.uuid4()), journaled
            )
            if (
                journaled is not None
                and enable_idempotent_retries
                and isinstance(connection, IdempotentTransportConnection)
            ):
                await journaled.resume_publishing(connection)
            try:
                async with anyio.create_task_group() as task_group:
                    producer._start(task_group)
                    try:
                        yield producer
                    except BaseException as exc:
                        body_exc = exc
                    await producer._shutdown(graceful=body_exc is None)
            except BaseExceptionGroup as group:
                cancels, rest = group.split(cancelled_exc)
                if cancels is not None:
                    exit_cancel = cancels.exceptions[0]
                if rest is not None:
                    background.extend(rest.exceptions)
    except cancelled_exc as exc:
        if producer is None:
            raise
        exit_cancel = exc  # an outer scope was cancelled while we closed
    except BaseException as exc:
        if producer is None:
            raise  # the connection could not be opened: nothing else happened
        close_error = exc  # the transport's close failed
    unhandled = producer._reporter.take_unhandled()
    if isinstance(body_exc, cancelled_exc) and background:
        body_exc = None  # our own task group cancelled the body because a task crashed
    cancellation = body_exc if isinstance(body_exc, cancelled_exc) else exit_cancel
    if (
        cancellation is not None
        and not background
        and (body_exc is None or body_exc is cancellation)
    ):
        for error in unhandled:
            logger.error("unpublished on cancellation: %s", error, exc_info=error)
        if close_error is not None:
            logger.error("closing the transport failed on cancellation", exc_info=close_error)
        raise cancellation
    errors: list[BaseException] = [
        *([body_exc] if body_exc is not None else []),
        *background,
        *([close_error] if close_error is not None else []),
        *unhandled,
    ]
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise BaseExceptionGroup(f"{len(errors)} errors leaving the streaming producer", errors)
