"""The transport on azure-eventhub's asyncio client: open, send one batch, close.

One connection of ours is one ``EventHubProducerClient`` (ours, or the caller's) plus one
partition producer per partition, all opened on entry so that a bad credential, an
unknown hub or an unreachable namespace fails the ``async with``, within
``open_timeout``. A send goes straight to the partition producer's link, once: no
``send_batch`` hidden re-send, no client retry policy; the producer of anyio-eventhubs
owns retries and timeouts.

Every call into the client goes through the :mod:`._bridge` (the caller's loop under
asyncio, a loop stepped on Trio's thread under Trio, or in a thread of ours where it
cannot be) and through :func:`._errors.map_exceptions`.
``connect(idempotent=True)`` publishes idempotently (:mod:`._idempotent`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
from anyio.abc import TaskGroup
from azure.eventhub.aio import EventHubProducerClient

from .._azure_amqp_link import close_partition as close_partition_producer
from .._azure_amqp_link import open_partition as open_partition_producer
from .._azure_amqp_link import reset_partition as reset_partition_producer
from .._azure_amqp_link import send_once as send_batch_once
from .._azure_internals import (
    close_amqp_client,
    create_partition_producer,
    describe_endpoint,
    read_partition_ids,
)
from .._exceptions import ConnectError, ConnectionLostError, NotFoundError, TransportError
from ..transport import OutgoingBatch, PublishingState
from ._bridge import Bridge, open_bridge
from ._errors import map_exceptions, redact
from ._idempotent import IdempotentPartition, open_idempotent, send_idempotent
from ._one_connection import OneConnection, open_jobs
from ._resume import resume_idempotent
from ._stamp import RESERVED_BYTES_PER_EVENT

__all__ = ["AzureConnection", "AzureTransport"]

logger = logging.getLogger("anyio_eventhubs")

#: seconds an abandoned send may take to close its link before we stop waiting
_ABANDON_TIMEOUT = 5.0


@dataclass(frozen=True)
class ClientSource:
    """Where the client comes from.

    :ivar make: builds the client; called on the client's event loop.
    :ivar owned: whether we close it (``False`` for a caller's ``client=``).
    :ivar fully_qualified_namespace: the namespace's host (and port, if any).
    :ivar description: for ``repr`` (never a secret).
    """

    make: Callable[[], EventHubProducerClient] = field(repr=False)  # holds the secrets
    owned: bool
    fully_qualified_namespace: str
    description: str


class AzureTransport:
    """Connects to an Event Hub with azure-eventhub's asyncio client.

    Built by :func:`~anyio_eventhubs._azure.azure_transport`; each :meth:`connect` opens
    a fresh connection (and, for a client of ours, a fresh client).
    """

    supports_idempotent_publishing = True

    def __init__(self, source: ClientSource, *, eventhub_name: str, open_timeout: float) -> None:
        self._source = source
        self._eventhub_name = eventhub_name
        self._open_timeout = open_timeout
        #: one AMQP connection for the management link, CBS and every partition's link
        #: (``docs/one-connection.md``); ``False``: azure-eventhub's own connection per
        #: partition producer, as a caller's ``client=`` always gets
        self.one_connection = source.owned

    def __repr__(self) -> str:
        return (
            f"<AzureTransport eventhub={self._eventhub_name!r} "
            f"namespace={self._source.fully_qualified_namespace!r} {self._source.description} "
            f"open_timeout={self._open_timeout}>"
        )

    def connect(self, *, idempotent: bool = False) -> AbstractAsyncContextManager[AzureConnection]:
        """Open the client and a link per partition; close them on exit.

        Entering waits at most ``open_timeout`` seconds; exiting closes what we opened
        (shielded, at most ``open_timeout`` seconds), never a caller's ``client=``.
        With *idempotent*, every link is attached as an idempotent producer and each
        batch is numbered for the service (``docs/idempotent-publishing.md``).

        :raises ~anyio_eventhubs.AuthenticationError: if the credential is refused.
        :raises ~anyio_eventhubs.NotFoundError: if the hub does not exist.
        :raises ~anyio_eventhubs.ConnectError: if the namespace cannot be reached in time.
        :raises ~anyio_eventhubs.TransportError: with *idempotent*, if the service does
            not enable idempotent publishing on the links (not transient).
        """
        return self._connect(idempotent)

    @asynccontextmanager
    async def _connect(self, idempotent: bool = False) -> AsyncIterator[AzureConnection]:
        async with open_bridge() as bridge, open_jobs() as jobs:
            jobs_if_one = jobs if self.one_connection else None
            connection = AzureConnection(bridge, self._eventhub_name, idempotent, jobs_if_one)
            try:
                await connection._open(self._source, self._open_timeout)
                yield connection
            finally:
                await connection._close(self._open_timeout)


@dataclass
class _Partition:
    producer: Any
    lock: anyio.Lock
    idempotent: IdempotentPartition | None = None


class AzureConnection:
    """One open connection to a hub: what the producer's sender talks to."""

    def __init__(
        self, bridge: Bridge, eventhub_name: str, idempotent: bool, jobs: TaskGroup | None
    ) -> None:
        self._bridge = bridge
        self._eventhub_name = eventhub_name
        self._idempotent = idempotent
        self._fully_qualified_namespace = ""
        self._client: EventHubProducerClient | None = None
        self._owns_client = False
        self._partitions: dict[str, _Partition] = {}
        #: AMQP clients of a management call that did not finish (closed by _close)
        self._management_clients: list[Any] = []
        #: the one connection, when :attr:`AzureTransport.one_connection` (its jobs run here)
        self._task_group = jobs
        self._one: OneConnection | None = None
        self._partition_ids: tuple[str, ...] = ()
        self._max_message_size = 0
        self._closed = False

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return (
            f"<AzureConnection {state} eventhub={self._eventhub_name!r} "
            f"namespace={self._fully_qualified_namespace!r} "
            f"partitions={len(self._partition_ids)} max_message_size={self._max_message_size}>"
        )

    @property
    def sends_in_thread(self) -> bool:
        """Whether sends run on a thread of their own (the bridge's thread, see _bridge)."""
        return self._bridge.in_thread

    # -- the TransportConnection protocol ----------------------------------------------

    @property
    def eventhub_name(self) -> str:
        return self._eventhub_name

    @property
    def fully_qualified_namespace(self) -> str:
        return self._fully_qualified_namespace

    @property
    def partition_ids(self) -> Sequence[str]:
        return self._partition_ids

    @property
    def max_message_size(self) -> int:
        return self._max_message_size

    @property
    def reserved_bytes_per_event(self) -> int:
        """What stamping adds to an event, when publishing idempotently (else 0)."""
        return RESERVED_BYTES_PER_EVENT if self._idempotent else 0

    def publishing_state(self, partition_id: str) -> PublishingState | None:
        """The idempotent state of *partition_id* (``None`` when not idempotent)."""
        partition = self._partitions.get(partition_id)
        if partition is None or partition.idempotent is None:
            return None
        return partition.idempotent.publishing.state()

    async def resume_publishing(self, partition_id: str, producer_id: int, epoch: int) -> bool:
        """Attach *partition_id*'s link again as an earlier run's producer (see
        :meth:`anyio_eventhubs.transport.IdempotentTransportConnection.resume_publishing`)."""
        partition = self._partitions[partition_id]
        if partition.idempotent is None:
            raise RuntimeError("resume_publishing() needs a connection opened idempotent=True")
        async with partition.lock:
            return await resume_idempotent(
                self._bridge,
                partition.producer,
                partition.idempotent,
                producer_id,
                epoch,
                f"resuming producer id {producer_id} on partition {partition_id!r} of "
                f"{self._eventhub_name!r}",
            )

    async def send(self, batch: OutgoingBatch) -> None:
        """Publish *batch* on its partition's link, once.

        Blocks until the service settles the transfer; sends to one partition go one at a
        time (the link is stop-and-wait). Cancelling abandons the send: the link is closed
        (shielded, bounded) so the next send starts on a fresh one, and the service may or
        may not have stored the batch. A lost link is closed the same way before
        :class:`~anyio_eventhubs.ConnectionLostError` is raised.

        :raises ~anyio_eventhubs.TransportError: (a subclass) for what the service said.
        """
        partition = self._partitions.get(batch.partition_id)
        if partition is None:
            raise NotFoundError(
                f"Event Hub {self._eventhub_name!r} has no partition {batch.partition_id!r}; "
                f"its partitions are {list(self._partition_ids)}"
            )
        context = (
            f"sending {len(batch.messages)} event(s) to partition {batch.partition_id!r} "
            f"of {self._eventhub_name!r}"
        )
        async with partition.lock:
            try:
                if self._one is not None:
                    await self._one.ensure_open(context)
                if partition.idempotent is not None:
                    await send_idempotent(
                        self._bridge, partition.producer, partition.idempotent, batch, context
                    )
                    return
                with map_exceptions(context):
                    await self._bridge.run(
                        send_batch_once, partition.producer, batch.messages, batch.size_in_bytes
                    )
            except (ConnectionLostError, anyio.get_cancelled_exc_class()):
                # A send cut short, or a link that is going away (a settlement without an
                # outcome arrives just before the detach): the next send must not go out
                # on this link, where the service would drop it or not acknowledge it.
                with anyio.CancelScope(shield=True), anyio.move_on_after(_ABANDON_TIMEOUT):
                    await self._quietly(reset_partition_producer, partition.producer)
                raise

    # -- lifecycle (driven by AzureTransport.connect) ----------------------------------

    async def _open(self, source: ClientSource, open_timeout: float) -> None:
        with anyio.move_on_after(open_timeout) as timeout_scope:
            await self._open_unbounded(source)
        if timeout_scope.cancelled_caught:
            raise ConnectError(
                f"could not open a connection to Event Hub {self._eventhub_name!r} "
                f"within open_timeout={open_timeout}s"
            )

    async def _open_unbounded(self, source: ClientSource) -> None:
        namespace = source.fully_qualified_namespace
        context = f"opening Event Hub {self._eventhub_name!r} of {namespace}"
        logger.debug("%s: building the client (%s)", context, source.description)
        client = await self._bridge.run(_make_client, source.make)
        self._client = client
        self._owns_client = source.owned
        self._fully_qualified_namespace = source.fully_qualified_namespace
        logger.debug(
            "%s: connecting (%s), authenticating and reading the partition ids",
            context,
            describe_endpoint(client),
        )
        if self._task_group is not None:
            self._one = OneConnection(
                self._bridge, client, self._task_group, context, self._management_clients
            )
            ids = await self._one.open()
        else:
            with map_exceptions(context, opening=True):
                ids = await self._bridge.run(read_partition_ids, client, self._management_clients)
        partition_ids = tuple(ids)
        logger.debug("%s: partitions %s; opening a link to each", context, list(partition_ids))
        if not partition_ids:
            raise NotFoundError(f"Event Hub {self._eventhub_name!r} reports no partitions")
        sizes = await self._open_partitions(partition_ids, context)
        self._max_message_size = min(sizes.values())
        self._partition_ids = partition_ids
        logger.debug(
            "%s: open, %d link(s), max message size %d bytes",
            context,
            len(partition_ids),
            self._max_message_size,
        )

    async def _open_partitions(self, partition_ids: Sequence[str], context: str) -> dict[str, int]:
        """Create and open a link to each of *partition_ids*; return their maximum sizes."""
        assert self._client is not None
        client = self._client
        partitions = {
            pid: _Partition(
                self._one.link(create_partition_producer(client, pid))
                if self._one is not None
                else create_partition_producer(client, pid),
                anyio.Lock(),
                IdempotentPartition.create(self._eventhub_name, pid) if self._idempotent else None,
            )
            for pid in partition_ids
        }
        self._partitions.update(partitions)
        sizes: dict[str, int] = {}
        errors: list[TransportError] = []

        async def open_one(pid: str, partition: _Partition) -> None:
            what = f"{context} (partition {pid!r})"
            try:
                if partition.idempotent is not None:
                    sizes[pid] = await open_idempotent(
                        self._bridge, partition.producer, partition.idempotent, what
                    )
                    return
                with map_exceptions(what, opening=True):
                    sizes[pid] = await self._bridge.run(open_partition_producer, partition.producer)
            except TransportError as exc:
                errors.append(exc)
                task_group.cancel_scope.cancel()

        async with anyio.create_task_group() as task_group:
            for pid, partition in partitions.items():
                task_group.start_soon(open_one, pid, partition)
        if errors:
            raise errors[0]
        return sizes

    async def refresh_partition_ids(self) -> Sequence[str]:
        """Ask the service for the hub's partition ids; open a link to each new one (see
        :class:`anyio_eventhubs.transport.PartitionRefreshingConnection`)."""
        context = f"refreshing the partition ids of Event Hub {self._eventhub_name!r}"
        with map_exceptions(context):
            if self._one is not None:  # on the one connection's $management link
                ids = tuple(await self._one.read_partition_ids(context))
            else:
                ids = tuple(
                    await self._bridge.run(
                        read_partition_ids, self._client, self._management_clients
                    )
                )
        new = [pid for pid in ids if pid not in self._partitions]
        if new and not self._closed:
            logger.info("%s: new partitions %s; opening a link to each", context, new)
            await self._open_partitions(new, context)
        if set(ids) >= set(self._partition_ids):
            self._partition_ids = ids
        return self._partition_ids

    async def _close(self, limit: float) -> None:
        """Close the partition producers, and the client if it is ours; shielded, bounded."""
        self._closed = True
        with anyio.CancelScope(shield=True), anyio.move_on_after(limit) as scope:
            async with anyio.create_task_group() as task_group:
                for partition in self._partitions.values():
                    task_group.start_soon(
                        self._quietly, close_partition_producer, partition.producer
                    )
                for management in self._management_clients:
                    task_group.start_soon(self._quietly, close_amqp_client, management)
            if self._one is not None:
                await self._one.aclose()
            if self._client is not None and self._owns_client:
                await self._quietly(self._client.close)
        if self._one is not None:
            self._one.stop()
        if scope.cancelled_caught:
            logger.warning(
                "closing the connection to Event Hub %r took longer than %ss; abandoned it",
                self._eventhub_name,
                limit,
            )

    async def _quietly(self, function: Callable[..., Awaitable[None]], *args: Any) -> None:
        """Await ``function(*args)`` on the client's loop; log, never raise, what it raises."""
        try:
            await self._bridge.run(function, *args)
        except Exception as exc:
            logger.debug("ignored while closing: %s: %s", type(exc).__name__, redact(str(exc)))


async def _make_client(make: Callable[[], EventHubProducerClient]) -> EventHubProducerClient:
    """Build the client on its own loop (its locks and futures belong there)."""
    return make()
