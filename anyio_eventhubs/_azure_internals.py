"""Every use of azure-eventhub's private internals, behind one small adapter.

azure-eventhub has no public API to encode one ``EventData`` to AMQP bytes, to decode
such bytes back, or to fill an ``EventDataBatch`` with events already encoded. This
module does those three things with the client's own private encoder and decoder, and
:func:`check_internals` proves, at import time, that the internals still behave as
assumed: a newer azure-eventhub that moves them fails loudly here, with
:class:`IncompatibleAzureEventHubError`, instead of sending something else.

The same holds for what idempotent publishing needs and the client does not expose: a
sender link's desired capabilities and attach properties, and the attach reply's
properties (:class:`LinkOptions`; checked without I/O by ``_check_link_options``).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any

from azure.core.credentials import AzureNamedKeyCredential
from azure.eventhub import EventData, EventDataBatch
from azure.eventhub import __version__ as azure_eventhub_version
from azure.eventhub.amqp import AmqpMessageBodyType

try:
    from azure.eventhub._constants import MGMT_OPERATION as _MGMT_OPERATION
    from azure.eventhub._constants import MGMT_STATUS_CODE as _MGMT_STATUS_CODE
    from azure.eventhub._constants import MGMT_STATUS_DESC as _MGMT_STATUS_DESC
    from azure.eventhub._constants import READ_OPERATION as _READ_OPERATION
    from azure.eventhub._pyamqp._decode import decode_payload
    from azure.eventhub._pyamqp._encode import encode_frame, encode_payload
    from azure.eventhub._pyamqp.aio._client_async import AMQPClientAsync, SendClientAsync
    from azure.eventhub._pyamqp.aio._connection_async import Connection as AmqpConnectionAsync
    from azure.eventhub._pyamqp.aio._link_async import Link as AmqpLinkAsync
    from azure.eventhub._pyamqp.aio._sender_async import SenderLink as AmqpSenderLinkAsync
    from azure.eventhub._pyamqp.aio._session_async import Session as AmqpSessionAsync
    from azure.eventhub._pyamqp.constants import LinkState
    from azure.eventhub._pyamqp.types import TYPE, VALUE, AMQPTypes
    from azure.eventhub._transport._pyamqp_transport import PyamqpTransport
    from azure.eventhub.aio import EventHubProducerClient
    from azure.eventhub.aio._producer_async import EventHubProducer
except ImportError as exc:  # pragma: no cover - exercised only by a changed client
    raise ImportError(
        f"anyio-eventhubs needs the private AMQP encoder of azure-eventhub 5.15.x; "
        f"the installed azure-eventhub {azure_eventhub_version} does not have it ({exc}). "
        "Install azure-eventhub>=5.15,<5.16."
    ) from exc

__all__ = [
    "IncompatibleAzureEventHubError",
    "LinkOptions",
    "body_only",
    "check_internals",
    "client_namespace",
    "close_amqp_client",
    "close_partition_producer",
    "create_partition_producer",
    "decode_event",
    "encode_event_data",
    "fill_batch",
    "open_partition_producer",
    "read_partition_ids",
    "reset_partition_producer",
    "send_batch_once",
]


class IncompatibleAzureEventHubError(RuntimeError):
    """The installed azure-eventhub's internals are not the ones this adapter knows."""


def encode_event_data(
    event: EventData, partition_key: str | None, extra_properties: Mapping[str, str] | None = None
) -> bytes:
    """Encode *event* as one AMQP message, stamping *partition_key* as azure-eventhub does.

    *extra_properties* (trace context) are added to the encoded message's application
    properties; *event* itself is not changed.
    """
    message = PyamqpTransport.to_outgoing_amqp_message(  # type: ignore[no-untyped-call]
        event.raw_amqp_message
    )
    if partition_key is not None:
        message = PyamqpTransport.set_message_partition_key(message, partition_key)
    if extra_properties:
        merged = {**(message.application_properties or {}), **extra_properties}
        message = message._replace(application_properties=merged)
    out = bytearray()
    encode_payload(out, message)
    return bytes(out)


def _all_unset(section: object) -> bool:
    return section is None or all(v is None for v in vars(section).values())


def body_only(event: EventData) -> bytes | None:
    """Return *event*'s body if it has nothing else (so it can take the fast path), else ``None``.

    "Nothing else": one ``data`` section, and no header field, property, application
    property, annotation, delivery annotation or footer set. Such an event encodes
    exactly like its body alone (a test pins that for arbitrary events).
    """
    raw = event._raw_amqp_message
    if raw._body_type is not AmqpMessageBodyType.DATA:
        return None
    data = raw._data_body
    if not isinstance(data, list) or len(data) != 1 or not isinstance(data[0], bytes):
        return None
    if (
        raw._application_properties
        or raw._annotations
        or raw._delivery_annotations
        or raw._footer
        or not _all_unset(raw._header)
        or not _all_unset(raw._properties)
    ):
        return None
    return data[0]


def decode_event(encoded: bytes) -> EventData:
    """Decode one encoded AMQP message into an ``EventData``, as a consumer would see it."""
    message = decode_payload(memoryview(encoded))
    return EventData._from_message(message)


def fill_batch(batch: EventDataBatch, encoded: list[bytes], size_in_bytes: int) -> None:
    """Put already-encoded events into an empty *batch*, as ``batch.add`` would have.

    :param encoded: one complete encoded AMQP message per event.
    :param size_in_bytes: the batch size these events add up to.
    """
    message: Any = batch._message
    message[5].extend(encoded)
    batch._size = size_in_bytes
    batch._count = len(encoded)


# -- the aio client's per-partition producer (used by anyio_eventhubs._azure) ----------------
#
# ``EventHubProducerClient.send_batch`` re-sends once after any error, and the partition
# producer's ``send`` retries ``retry_total`` times under its own back-off. The producer of
# anyio-eventhubs owns the retry policy, so it drives the partition producer one level
# lower: open the link, send one message, convert a failure the way the client does (which
# also closes what the failure broke, so the next send reopens it).


def client_namespace(client: EventHubProducerClient) -> str:
    """Return the namespace host *client* connects to (the client has no public property)."""
    return str(client._address.hostname)


def create_partition_producer(client: EventHubProducerClient, partition_id: str) -> Any:
    """Return a new producer for *partition_id* on *client*'s connection settings.

    The client does not track it: the caller opens it and must close it
    (:func:`close_partition_producer`).
    """
    return client._create_producer(partition_id=partition_id)


#: between two polls of a handler that is not ready yet; each poll itself waits on the
#: socket (up to ``socket_timeout``), so this only guards against a spin
_READY_POLL_INTERVAL = 0.005


class LinkOptions:
    """Attach settings of a partition producer's sender link that the client has no
    keyword for (idempotent publishing); applied at every attach of the link.

    :param desired_capabilities: symbols for the attach's ``desired-capabilities`` (the
        aio ``SendClientAsync`` drops the ones it is given).
    :param properties: called before each attach: link property name -> (AMQP type
        ``"long"``, ``"short"`` or ``"int"``, value, or ``None`` for a null).
    :ivar remote_properties: the properties of the latest attach reply, with ``str`` keys.
    :ivar attaches: how many attaches completed with these options.
    """

    def __init__(
        self,
        desired_capabilities: Sequence[str],
        properties: Callable[[], Mapping[str, tuple[str, int | None]]],
    ) -> None:
        self.desired_capabilities = tuple(desired_capabilities)
        self.properties = properties
        self.remote_properties: dict[str, Any] = {}
        self.attaches = 0


_AMQP_TYPES = {"long": AMQPTypes.long, "short": AMQPTypes.short, "int": AMQPTypes.int}


def _use_link_options(handler: Any, link: LinkOptions) -> None:
    """Make *handler* (a ``SendClientAsync`` not yet open) attach its link with *link*."""
    properties = dict(handler._link_properties or {})
    for name, (kind, value) in link.properties().items():
        typed = None if value is None else {TYPE: _AMQP_TYPES[kind], VALUE: value}
        properties[name.encode("ascii")] = typed
    capabilities = [c.encode("ascii") for c in link.desired_capabilities]

    async def client_ready() -> bool:
        # SendClientAsync._client_ready_async, passing desired capabilities too
        if not handler._link:
            handler._link = handler._session.create_sender_link(
                target_address=handler.target,
                link_credit=handler._link_credit,
                send_settle_mode=handler._send_settle_mode,
                rcv_settle_mode=handler._receive_settle_mode,
                max_message_size=handler._max_message_size,
                properties=properties,
                desired_capabilities=capabilities,
            )
            await handler._link.attach()
            return False
        return bool(handler._link.get_state() == LinkState.ATTACHED)

    handler._client_ready_async = client_ready


def _remote_properties(amqp_link: Any) -> dict[str, Any]:
    remote = amqp_link.remote_properties or {}
    return {
        (k.decode("ascii", "replace") if isinstance(k, bytes) else str(k)): v
        for k, v in remote.items()
    }


async def _open(producer: Any, link: LinkOptions | None = None) -> None:
    """``ConsumerProducerMixin._open``, with a 5 ms instead of a 50 ms ready poll.

    The client sleeps 50 ms between polls of ``client_ready_async()`` and a link takes
    about nine polls (SASL, open, begin, CBS attach pair, put-token, reply, attach), so its
    own ``_open`` costs 0.45 s of sleeping per partition. Each poll already waits on the
    socket for the next frame, so a short pause is enough. With *link*, the sender link
    is attached with those options and the reply's properties are kept there.
    """
    if producer.running:
        return
    client = producer._client
    await close_amqp_client(producer._handler)
    auth = await client._create_auth_async(auth_uri=client._auth_uri)
    producer._create_handler(auth)
    connection = await client._conn_manager_async.get_connection(
        endpoint=client._address.hostname, auth=auth
    )
    handler = producer._handler
    if link is not None:
        _use_link_options(handler, link)
    await handler.open_async(connection=connection)
    while not await handler.client_ready_async():  # noqa: ASYNC110 - the client is polled
        await asyncio.sleep(_READY_POLL_INTERVAL)
    if link is not None:
        link.remote_properties = _remote_properties(handler._link)
        link.attaches += 1
    transport = client._amqp_transport
    producer._max_message_size_on_link = (
        transport.get_remote_max_message_size(handler) or transport.MAX_MESSAGE_LENGTH_BYTES
    )
    producer.running = True


async def read_partition_ids(client: EventHubProducerClient, opened: list[Any]) -> list[str]:
    """Read the hub's partition ids with one ``$management`` READ, without retries.

    ``ClientBaseAsync._management_request_async`` with a 5 ms ready poll (see :func:`_open`)
    and no retry loop. It opens a connection of its own, as the client does; the AMQP
    client that owns it is in *opened* until it is closed again, so that a caller whose
    read was cancelled or failed can close it (:func:`close_amqp_client`).

    :raises azure.eventhub._pyamqp.error.AMQPException: (a subclass) as the AMQP layer
        raised it: ``AuthenticationException`` for a refused token or a 401,
        ``AMQPConnectionError`` with ``amqp:not-found`` for an unknown hub.
    """
    transport = client._amqp_transport
    message = transport.build_message(application_properties={"name": client.eventhub_name})
    auth = await client._create_auth_async()
    management = transport.create_mgmt_client(
        client._address, mgmt_auth=auth, config=client._config
    )
    opened.append(management)
    connection = await client._conn_manager_async.get_connection(
        endpoint=client._address.hostname, auth=auth
    )
    await management.open_async(connection=connection)
    while not await management.client_ready_async():  # noqa: ASYNC110 - as above
        await asyncio.sleep(_READY_POLL_INTERVAL)
    message.application_properties["security_token"] = await transport.get_updated_token_async(auth)
    status_code, description, response = await transport.mgmt_client_request_async(
        management,
        message,
        operation=_READ_OPERATION,
        operation_type=_MGMT_OPERATION,
        status_code_field=_MGMT_STATUS_CODE,
        description_fields=_MGMT_STATUS_DESC,
    )
    await close_amqp_client(management)
    opened.remove(management)
    if isinstance(description, bytes):
        description = description.decode("utf-8", "replace")
    if int(status_code) >= 400:
        raise transport.get_error(int(status_code), description)
    return [p.decode("utf-8") for p in response.value[b"partition_ids"]]


async def close_amqp_client(amqp_client: Any) -> None:
    """Close an AMQP client of the client's, and its own connection.

    ``AMQPClientAsync.close_async`` returns early when the client never got a session, and
    so leaves its connection (and socket) open after an open that failed or was
    cancelled half-way; this closes that connection too.
    """
    if amqp_client is None:
        return
    connection = amqp_client._connection
    external = amqp_client._external_connection
    try:
        await amqp_client.close_async()
    finally:
        if connection is not None and not external:
            await _close_connection(connection)


async def _close_connection(connection: Any) -> None:
    """``Connection.close()``, then the socket for sure.

    When sending the CLOSE frame fails (the socket is already broken), ``close()`` marks
    the connection ended and skips closing its transport, leaking the socket.
    """
    try:
        await connection.close()
    finally:
        await connection._transport.close()


async def open_partition_producer(producer: Any, link: LinkOptions | None = None) -> int:
    """Open *producer*'s connection and link (with *link*'s options, if given); return
    the link's maximum message size. A no-op, but for the size, if it is open."""
    await _open(producer, link)
    return int(producer._max_message_size_on_link)


async def send_batch_once(
    producer: Any, batch: EventDataBatch, link: LinkOptions | None = None
) -> None:
    """Send *batch* on *producer*'s link exactly once, reopening the link if it is closed
    (with *link*'s options: an idempotent producer's link is never opened without them).

    :raises azure.eventhub.exceptions.EventHubError: (a subclass) as the client would
        have raised it, with the AMQP error in ``details``.
    """
    try:
        await _open(producer, link)
        await producer._handler.send_message_async(batch._message, timeout=0)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        handler = producer._handler
        connection = None if handler is None else handler._connection
        try:
            # closes the link or connection that the error broke, then converts the error
            converted = await producer._amqp_transport._handle_exception_async(exc, producer)
        finally:
            if connection is not None and not producer.running:
                await _close_connection(connection)  # the client may have left the socket open
        raise converted from exc


async def reset_partition_producer(producer: Any) -> None:
    """Close *producer*'s link and connection (after an abandoned send); the next send reopens."""
    handler = producer._handler
    try:
        await producer._close_handler_async()
    finally:
        await close_amqp_client(handler)


async def close_partition_producer(producer: Any) -> None:
    """Close *producer* for good (and its connection, even after a half-done open)."""
    handler = producer._handler
    try:
        await producer.close()
    finally:
        await close_amqp_client(handler)


def _check_partition_producer() -> list[str]:
    """Check the pieces of the aio client the functions above rely on, without any I/O."""
    client = EventHubProducerClient(
        "probe.servicebus.windows.net", "probe", AzureNamedKeyCredential("probe", "probe")
    )
    producer = create_partition_producer(client, "7")
    problems = []
    if client_namespace(client) != "probe.servicebus.windows.net":
        problems.append("EventHubProducerClient._address.hostname changed")
    if not isinstance(producer, EventHubProducer) or not producer._target.endswith("/Partitions/7"):
        problems.append("EventHubProducerClient._create_producer(partition_id=) changed")
    for name in ("_open", "_close_handler_async", "close"):
        if not inspect.iscoroutinefunction(getattr(producer, name, None)):
            problems.append(f"EventHubProducer.{name} is no longer a coroutine function")
    transport = producer._amqp_transport
    if not inspect.iscoroutinefunction(getattr(transport, "_handle_exception_async", None)):
        problems.append("the aio transport has no _handle_exception_async")
    if not callable(getattr(transport, "get_remote_max_message_size", None)) or not isinstance(
        getattr(transport, "MAX_MESSAGE_LENGTH_BYTES", None), int
    ):
        problems.append("the aio transport lost get_remote_max_message_size")
    for owner, name in (
        (client, "_create_auth_async"),
        (client._conn_manager_async, "get_connection"),
        (transport, "get_updated_token_async"),
        (transport, "mgmt_client_request_async"),
    ):
        if not inspect.iscoroutinefunction(getattr(owner, name, None)):
            problems.append(f"{type(owner).__name__}.{name} is no longer a coroutine function")
    for name in ("build_message", "create_mgmt_client", "get_error"):
        if not callable(getattr(transport, name, None)):
            problems.append(f"the aio transport has no {name}")
    management = transport.create_mgmt_client(
        client._address, mgmt_auth=None, config=client._config
    )
    if not (
        hasattr(management, "_connection")
        and hasattr(management, "_external_connection")
        and inspect.iscoroutinefunction(getattr(management, "close_async", None))
    ):
        problems.append("AMQPClientAsync no longer has _connection/_external_connection")
    connection = AmqpConnectionAsync("amqps://probe.localhost", sasl_credential=None)
    if not inspect.iscoroutinefunction(getattr(connection._transport, "close", None)):
        problems.append("the AMQP connection's _transport has no async close()")
    if (_READ_OPERATION, _MGMT_OPERATION) != (b"READ", b"com.microsoft:eventhub"):
        problems.append("the $management READ constants changed")
    if not callable(getattr(producer, "_create_handler", None)) or not hasattr(client, "_auth_uri"):
        problems.append("EventHubProducer._create_handler or the client's _auth_uri changed")
    for attribute in ("_handler", "_max_message_size_on_link", "running"):
        if not hasattr(producer, attribute):
            problems.append(f"EventHubProducer has no attribute {attribute}")
    if not hasattr(EventDataBatch(max_size_in_bytes=64), "_message"):
        problems.append("EventDataBatch has no _message")
    return problems


def _run_now(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine that never waits (the probes below), without an event loop."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("the probe coroutine waited for something")


class _ProbeSession:
    """Stands in for a pyamqp aio ``Session``: records the frames a link sends."""

    def __init__(self) -> None:
        self.frames: list[Any] = []

    def create_sender_link(self, target_address: str, **kwargs: Any) -> Any:
        sender_link: Any = AmqpSenderLinkAsync
        return sender_link(
            self, 0, target_address, network_trace=False, network_trace_params={}, **kwargs
        )

    async def _outgoing_attach(self, frame: Any) -> None:
        self.frames.append(frame)


def _check_link_options() -> list[str]:
    """Attach a probe link with :class:`LinkOptions` against a fake session (no I/O).

    Checks that the options reach the attach frame (desired capabilities, typed
    properties, nulls) and that an attach reply's properties are read back.
    """
    problems = []
    if "_client_ready_async" not in AMQPClientAsync.client_ready_async.__code__.co_names:
        problems.append("AMQPClientAsync.client_ready_async no longer calls _client_ready_async")
    if "_session" not in AMQPClientAsync.open_async.__code__.co_names:
        problems.append("AMQPClientAsync.open_async no longer sets _session")
    parameters = inspect.signature(AmqpSessionAsync.create_sender_link).parameters
    if "target_address" not in parameters or not any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    ):
        problems.append("the aio Session.create_sender_link signature changed")
    send_client: Any = SendClientAsync
    handler = send_client("probe.localhost", "amqps://probe.localhost/probe/Partitions/0")
    handler._session = session = _ProbeSession()
    link = LinkOptions(
        ["com.microsoft:probe"],
        lambda: {
            "com.microsoft:probe-long": ("long", 7),
            "com.microsoft:probe-null": ("int", None),
        },
    )
    _use_link_options(handler, link)
    _run_now(handler._client_ready_async())
    frame = session.frames[0]
    _, body = encode_frame(frame)
    if frame.desired_capabilities != [b"com.microsoft:probe"] or b"com.microsoft:probe" not in (
        body or b""
    ):
        problems.append("a sender link no longer sends the desired capabilities it is given")
    long_key = b"\xa3\x18com.microsoft:probe-long"
    encoded = bytes(body or b"")
    if (
        long_key + b"\x55\x07" not in encoded  # smalllong
        and long_key + b"\x81" + (7).to_bytes(8, "big") not in encoded
    ) or b"\xa3\x18com.microsoft:probe-null\x40" not in encoded:
        problems.append("a sender link no longer encodes typed attach properties as given")
    reply: list[Any] = [None] * 14
    reply[5], reply[6] = ["probe"], ["probe"]
    reply[13] = {b"com.microsoft:probe-long": 8}
    _run_now(AmqpLinkAsync._incoming_attach(handler._link, reply))
    if _remote_properties(handler._link) != {"com.microsoft:probe-long": 8}:
        problems.append("an attach reply's properties are no longer kept as remote_properties")
    if not _run_now(handler._client_ready_async()):
        problems.append("an attached sender link is not reported ready")
    return problems


def _add_untraced(batch: EventDataBatch, event: EventData) -> None:
    """``batch.add(event)`` with Azure SDK tracing off for the call.

    With tracing on (``azure.core.settings``), ``add`` stamps trace context on the event,
    which the reference for the pre-encoded comparison must not have.
    """
    from azure.core.settings import settings

    setting = settings.tracing_implementation
    saved = setting._user_value
    setting.set_value(None)
    try:
        batch.add(event)
    finally:
        setting._user_value = saved


def check_internals() -> None:
    """Check that the private pieces used here still behave as this adapter assumes.

    :raises IncompatibleAzureEventHubError: naming what changed.
    """
    probe = EventData(b"probe")
    probe.properties = {"k": "v"}
    try:
        encoded = encode_event_data(probe, "key")
        back = decode_event(encoded)
        batch = EventDataBatch(max_size_in_bytes=1024)
        _add_untraced(batch, EventData(b"probe"))
        reference = list(batch._message[5])
        empty = EventDataBatch(max_size_in_bytes=1024)
        fill_batch(empty, [encode_event_data(EventData(b"probe"), None)], batch.size_in_bytes)
        filled = list(empty._message[5])
    except Exception as exc:
        raise IncompatibleAzureEventHubError(
            f"azure-eventhub {azure_eventhub_version}: its private AMQP encoder changed "
            f"({type(exc).__name__}: {exc}); anyio-eventhubs supports azure-eventhub 5.15.x"
        ) from exc
    problems = []
    plain = EventData(b"plain")
    if body_only(plain) != b"plain" or body_only(probe) is not None:
        problems.append("EventData's raw message no longer has the attributes the fast path reads")
    if back.body_as_str() != "probe" or back.partition_key != b"key":
        problems.append("an encoded event does not decode to the same body and key")
    if back.properties != {b"k": b"v"}:
        problems.append("application properties do not survive encoding")
    if filled != reference or len(empty) != 1:
        problems.append("a batch filled with pre-encoded events differs from batch.add()")
    try:
        problems.extend(_check_partition_producer())
    except Exception as exc:
        problems.append(f"the aio partition producer changed ({type(exc).__name__}: {exc})")
    try:
        problems.extend(_check_link_options())
    except Exception as exc:
        problems.append(f"the aio sender link changed ({type(exc).__name__}: {exc})")
    if problems:
        raise IncompatibleAzureEventHubError(
            f"azure-eventhub {azure_eventhub_version}: "
            + "; ".join(problems)
            + " (anyio-eventhubs supports azure-eventhub 5.15.x)"
        )


check_internals()
