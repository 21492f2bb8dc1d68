"""The link plumbing of azure-eventhub's aio client, behind one small adapter.

Events are encoded by our own codec (``_codec``); what is left here is driving the
client's partition producers and connections one level below its public API (open a
link, send one batch once, close), filling an ``EventDataBatch`` with events already
encoded for a caller's ``client=`` (the producer's own connection sends their bytes as
they are, ``_azure_amqp_link``), and reading the partition ids.
:func:`ensure_compatible` (in ``_azure_internals_check``, with the list of every private
name used) proves, when the azure transport is first used, not at import, that these
still behave as assumed; if not, opening fails with ``IncompatibleAzureEventHubError``.

The same holds for what idempotent publishing needs (:class:`LinkOptions`: a sender
link's desired capabilities and attach properties, and the attach reply's properties).
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from azure.eventhub import EventDataBatch

try:
    from azure.eventhub._constants import MGMT_OPERATION as _MGMT_OPERATION
    from azure.eventhub._constants import MGMT_STATUS_CODE as _MGMT_STATUS_CODE
    from azure.eventhub._constants import MGMT_STATUS_DESC as _MGMT_STATUS_DESC
    from azure.eventhub._constants import READ_OPERATION as _READ_OPERATION
    from azure.eventhub._pyamqp import error as amqp_errors
    from azure.eventhub._pyamqp.constants import LinkState
    from azure.eventhub._pyamqp.types import TYPE, VALUE, AMQPTypes
    from azure.eventhub.aio import EventHubProducerClient
except ImportError as exc:  # pragma: no cover - exercised only by a changed client
    #: reported by ensure_compatible() when the azure transport is first used, not here:
    #: importing anyio_eventhubs (e.g. for the in-memory hub) must not fail
    IMPORT_ERROR: ImportError | None = exc
else:
    IMPORT_ERROR = None

__all__ = [
    "IMPORT_ERROR",
    "LinkOptions",
    "amqp_errors",
    "client_namespace",
    "close_amqp_client",
    "close_partition_producer",
    "create_partition_producer",
    "describe_endpoint",
    "fill_batch",
    "open_partition_producer",
    "read_partition_ids",
    "reset_partition_producer",
    "send_batch_once",
]


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


#: between two polls of a handler not ready yet (each poll waits on the socket itself)
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


def _use_link_options(handler: Any, link: LinkOptions) -> None:
    """Make *handler* (a ``SendClientAsync`` not yet open) attach its link with *link*."""
    properties = dict(handler._link_properties or {})
    for name, (kind, value) in link.properties().items():
        amqp_type = {"long": AMQPTypes.long, "short": AMQPTypes.short, "int": AMQPTypes.int}[kind]
        typed = None if value is None else {TYPE: amqp_type, VALUE: value}
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
    """``Connection.close()``, then the socket for sure: ``close()`` skips the transport
    when sending CLOSE fails; over WebSockets, a failed connect leaves aiohttp's session
    open, and a server that hung up first leaves the WebSocket's response open."""
    try:
        await connection.close()
    finally:
        transport = connection._transport
        try:
            await transport.close()
        finally:
            response = getattr(getattr(transport, "sock", None), "_response", None)
            if response is not None:
                response.close()
            session = getattr(transport, "session", None)
            if session is not None and not session.closed:
                await session.close()


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


def describe_endpoint(client: EventHubProducerClient) -> str:
    """Where and how *client* connects, for the DEBUG log (no secret)."""
    config = client._config
    kind = "AMQP over WebSockets" if str(config.transport_type).endswith("Websocket") else "AMQP"
    host = client_namespace(client)  # a local emulator's has its port
    where = host if ":" in host else f"{host}:{config.connection_port}"
    if config.custom_endpoint_address:
        where = f"{config.custom_endpoint_hostname}:{config.connection_port} (custom endpoint)"
    if proxy := config.http_proxy:
        where += f" via the HTTP proxy {proxy.get('proxy_hostname')}:{proxy.get('proxy_port')}"
    return f"{kind}, {'TLS' if config.use_tls else 'no TLS'}, {where}"


def __getattr__(name: str) -> Any:
    """The checks live in ``_azure_internals_check``, imported only when first asked for."""
    if name in ("IncompatibleAzureEventHubError", "check_internals", "ensure_compatible"):
        return getattr(importlib.import_module(f"{__package__}._azure_internals_check"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
