"""One AMQP connection per producer, on azure-eventhub's private pyamqp pieces.

azure-eventhub opens a connection for its management client and one for each partition
producer (its "shared connection" mode never awaits the connection it creates). This
adapter opens one connection the way the client configures its own (TLS, WebSockets,
proxy, custom endpoint, user agent), and carries on it:

- CBS: the token of the hub's audience ``sb://<namespace>/<hub>``, put once (it covers
  ``$management`` and every partition's link, as azure-eventhub's own clients put the
  same audience for all of them), and put again before it expires
  (:func:`~anyio_eventhubs._azure_amqp_token.refresh_token`);
- ``$management``: the partition ids, read while opening, and again on the same link
  when the producer refreshes them (:func:`read_partition_ids_shared`);
- every partition's sender link (``_azure_amqp_link.PartitionLink``), each on a session
  of its own:
  a pyamqp session numbers a transfer after writing it, so two links sending at once
  on one session would give two transfers the same delivery id.

pyamqp reads the socket only when a caller polls it, and its clients each poll their own
connection. Here one task reads every frame (:func:`pump`), and the transport's socket
lock is split in two (:class:`_ReadWriteLock`) so that a sender writes while the pump
waits for the next frame. A sender only writes its transfer and waits for its outcome.
Everything here runs on the client's event loop (through the bridge).
"""

from __future__ import annotations

import asyncio
import ssl
from contextlib import suppress
from contextvars import ContextVar
from functools import partial
from typing import Any
from uuid import uuid4

from ._azure_internals import _READY_POLL_INTERVAL, _close_connection, close_amqp_client

try:
    from azure.eventhub._constants import MGMT_OPERATION as _MGMT_OPERATION
    from azure.eventhub._constants import MGMT_STATUS_CODE as _MGMT_STATUS_CODE
    from azure.eventhub._constants import MGMT_STATUS_DESC as _MGMT_STATUS_DESC
    from azure.eventhub._constants import READ_OPERATION as _READ_OPERATION
    from azure.eventhub._pyamqp.aio import AMQPClientAsync
    from azure.eventhub._pyamqp.error import AMQPConnectionError, AMQPException, ErrorCondition
    from azure.eventhub._utils import create_properties
except ImportError as exc:  # pragma: no cover - exercised only by a changed client
    IMPORT_ERROR: ImportError | None = exc
else:
    IMPORT_ERROR = None

__all__ = [
    "IMPORT_ERROR",
    "SharedConnection",
    "close_shared_connection",
    "open_shared_connection",
    "pump",
    "read_partition_ids_shared",
    "reusable_ssl_context",
]

#: seconds the pump waits for a frame before it looks at the connection's timers again
_LISTEN_WAIT = 1.0
#: seconds a ``$management`` request on the shared connection may wait for its answer
_MANAGEMENT_TIMEOUT = 60.0

#: whether the current task is the pump (the only reader of the socket)
_READING: ContextVar[bool] = ContextVar("anyio_eventhubs_amqp_reading", default=False)


class _ReadWriteLock:
    """A transport's ``socket_lock``, split: the pump's reads do not hold up the writes.

    pyamqp's transports hold one lock around a whole frame read (which waits for the
    frame to come) and around every write; the stream under them reads and writes
    independently. Writers still exclude each other, so frames never interleave.
    """

    def __init__(self) -> None:
        self._read = asyncio.Lock()
        self._write = asyncio.Lock()

    def _lock(self) -> asyncio.Lock:
        return self._read if _READING.get() else self._write

    async def __aenter__(self) -> None:
        await self._lock().acquire()

    async def __aexit__(self, *exc_info: object) -> None:
        self._lock().release()


class SharedConnection:
    """One open AMQP connection: its CBS, the pump's state, and who waits on it.

    :ivar dead: the pump has stopped (the connection failed or was closed).
    :ivar error: what stopped the pump, if it failed.
    """

    def __init__(self, client: Any, management: Any) -> None:
        self.client = client
        self.management = management
        self.connection = management._connection
        #: the hub's audience and its credential (for the partitions' handlers)
        self.auth = management._auth
        self.dead = False
        self.closing = False
        self.error: BaseException | None = None
        self._progress = asyncio.Event()
        #: the lifetime of the token put last, in seconds (``_azure_amqp_token``)
        self.token_lifetime: float | None = None
        #: held while a token is put (by the refresher or for a refused link)
        self.token_lock = asyncio.Lock()
        #: how many tokens were put since it opened (not counting the first)
        self.token_puts = 0
        #: whether the caller was told that its AzureSasCredential is about to expire
        self.sas_warned = False
        #: closed because the service refused a link for its token even after a fresh
        #: token was put (``PartitionLink.open``)
        self.closed_for_token = False
        #: opened because the connection before was ``closed_for_token``: a link refused
        #: for its token here fails (until a link attached here)
        self.after_token_refusal = False
        #: events of the sends waiting for an outcome (set when the pump stops)
        self.waiters: set[asyncio.Event] = set()

    def __repr__(self) -> str:
        state = "dead" if self.dead else "open"
        return f"<SharedConnection {state} waiters={len(self.waiters)}>"

    def failure(self) -> AMQPException:
        """A fresh exception saying why the connection is gone."""
        error = self.error
        if isinstance(error, AMQPException):
            return type(error)(error.condition, description=error.description, info=error.info)
        description = "the connection was closed"
        if error is not None:
            description = f"the connection was lost: {type(error).__name__}: {error}"
        return AMQPConnectionError(ErrorCondition.SocketError, description=description)

    def notify(self) -> None:
        event, self._progress = self._progress, asyncio.Event()
        event.set()

    async def wait_progress(self) -> None:
        """Wait until the pump has handled a frame (or a read timed out, or it stopped).

        :raises AMQPException: if the connection is gone.
        """
        if self.dead:
            raise self.failure()
        await self._progress.wait()

    def stopped(self) -> None:
        self.dead = True
        self.notify()
        for waiter in self.waiters:
            waiter.set()


async def pump(shared: SharedConnection) -> None:
    """Read and handle every incoming frame until the connection fails or closes.

    Never raises for the connection's failure: it is kept in ``shared.error`` and every
    waiter is woken. Cancelling it stops the reading.
    """
    token = _READING.set(True)
    try:
        while not shared.closing:
            # a ValueError is pyamqp's way to report a refused attach; the detach follows
            with suppress(ValueError):
                await shared.connection.listen(wait=_LISTEN_WAIT)
            shared.notify()
    except Exception as exc:
        shared.error = exc
    finally:
        _READING.reset(token)
        shared.stopped()


def reusable_ssl_context(client: Any) -> ssl.SSLContext | None:
    """The TLS context for every connection of the producer of *client*.

    Without one, pyamqp builds a context for each connection it opens, TLS or not, and
    loads the CA bundle into it (``connection_verify``, or certifi's): about 0.8 MiB of
    OpenSSL memory and tens of milliseconds of CPU on the event loop each time. A
    reconnection then costs both, and the old context lives on in pyamqp's reference
    cycles until a full collection. This one is built as pyamqp builds its own, once.

    ``None`` when the user gave an ``ssl_context`` (it is used as it is), and with
    azure-eventhub 5.12, which takes none (it builds one per connection, as before).
    """
    config = client._config
    if not hasattr(config, "ssl_context") or config.ssl_context is not None:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # pyamqp's: verifies name and chain
    ca_certs = config.connection_verify
    if ca_certs is None and not config.use_tls:
        return context  # plain AMQP (an emulator): nothing to verify, no bundle to load
    if ca_certs is None:
        import certifi  # azure-eventhub's own dependency

        ca_certs = certifi.where()
    try:
        context.load_verify_locations(ca_certs)
    except FileNotFoundError as exc:
        exc.filename = {"ca_certs": ca_certs}  # as pyamqp says it
        raise
    return context


async def open_shared_connection(
    client: Any, opened: list[Any], ssl_context: ssl.SSLContext | None = None
) -> tuple[SharedConnection, list[str]]:
    """Connect, put the hub's token, read the partition ids; return the connection and them.

    Reads the socket itself (start :func:`pump` afterwards). *ssl_context* is
    :func:`reusable_ssl_context`'s, if any. The management client that
    owns the connection is in *opened* until it is closed, as for
    :func:`~anyio_eventhubs._azure_internals.read_partition_ids`.
    """
    config = client._config
    transport = client._amqp_transport
    auth = await client._create_auth_async()  # the hub's audience, sb://<namespace>/<hub>
    options: dict[str, Any] = {}
    for name in ("socket_timeout", "ssl_context"):  # azure-eventhub 5.13 added ssl_context
        if getattr(config, name, None) is not None:
            options[name] = getattr(config, name)
    if ssl_context is not None:
        options["ssl_context"] = ssl_context
    management = AMQPClientAsync(  # type: ignore[no-untyped-call]
        config.hostname,
        auth=auth,
        network_trace=config.network_tracing,
        transport_type=config.transport_type,
        http_proxy=config.http_proxy,
        custom_endpoint_address=config.custom_endpoint_address,
        connection_verify=config.connection_verify,
        use_tls=config.use_tls,
        properties=create_properties(config.user_agent, amqp_transport=transport),
        **options,
    )
    opened.append(management)
    await management.open_async()  # type: ignore[no-untyped-call]
    while not await management.client_ready_async():  # type: ignore[no-untyped-call]  # noqa: ASYNC110
        await asyncio.sleep(_READY_POLL_INTERVAL)
    message = transport.build_message(application_properties={"name": client.eventhub_name})
    message.application_properties["security_token"] = await transport.get_updated_token_async(auth)
    status_code, description, response = await transport.mgmt_client_request_async(
        management,
        message,
        operation=_READ_OPERATION,
        operation_type=_MGMT_OPERATION,
        status_code_field=_MGMT_STATUS_CODE,
        description_fields=_MGMT_STATUS_DESC,
    )
    ids = _partition_ids(transport, status_code, description, response)
    connection: Any = management._connection
    connection._transport.socket_lock = _ReadWriteLock()  # no reader runs now
    return SharedConnection(client, management), ids


def _partition_ids(transport: Any, status_code: Any, description: Any, response: Any) -> list[str]:
    if isinstance(description, bytes):
        description = description.decode("utf-8", "replace")
    if int(status_code) >= 400:
        raise transport.get_error(int(status_code), description)
    return [p.decode("utf-8") for p in response.value[b"partition_ids"]]


async def read_partition_ids_shared(shared: SharedConnection) -> list[str]:
    """Read the hub's partition ids again, on the ``$management`` link of *shared*.

    ``ManagementOperation.execute`` would read the socket itself; this sends the request
    on the same link and waits for the pump to hand the answer over.

    :raises AMQPException: (a subclass) as for the first read, or if the connection is gone.
    :raises TimeoutError: if no answer came in time.
    """
    client = shared.client
    transport = client._amqp_transport
    operation = shared.management._mgmt_links["$management"]  # opened by the first read
    message = transport.build_message(application_properties={"name": client.eventhub_name})
    message.application_properties["security_token"] = await transport.get_updated_token_async(
        shared.auth
    )
    operation_id = str(uuid4())
    operation._responses[operation_id] = None
    operation._mgmt_error = None
    try:
        async with asyncio.timeout(_MANAGEMENT_TIMEOUT):
            await operation._mgmt_link.execute_operation(
                message,
                partial(operation._on_execute_operation_complete, operation_id),
                operation=_READ_OPERATION.decode(),
                type=_MGMT_OPERATION.decode(),
            )
            while operation._responses[operation_id] is None:
                if operation._mgmt_error is not None:
                    raise operation._mgmt_error
                await shared.wait_progress()
        status_code, description, response = operation._responses[operation_id]
    finally:
        operation._responses.pop(operation_id, None)
    return _partition_ids(transport, status_code, description, response)


async def close_shared_connection(shared: SharedConnection) -> None:
    """Close the connection (and its socket, for sure); the pump then stops."""
    shared.closing = True
    connection = shared.connection
    try:
        await close_amqp_client(shared.management)
    finally:
        await _close_connection(connection)
