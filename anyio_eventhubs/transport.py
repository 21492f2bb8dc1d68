"""The small protocol between the producer and whatever carries batches to a hub.

A :class:`Transport` opens a :class:`TransportConnection` for the life of one producer.
The connection knows the hub (name, partitions, maximum message size) and sends one
batch at a time. It raises only :class:`~anyio_eventhubs.TransportError` subclasses,
mapped at its own boundary, with ``is_transient`` telling the producer whether a retry
may help; the producer owns the retry policy, so a transport never retries on its own.

Two transports ship: the real one (azure-eventhub) and
:class:`anyio_eventhubs.testing.InMemoryEventHub`.

Idempotent publishing (``enable_idempotent_retries=True``) is an extension: a transport
that sets ``supports_idempotent_publishing = True`` accepts ``connect(idempotent=True)``
and then yields an :class:`IdempotentTransportConnection`. Such a connection numbers the
events of each batch for the service the first time it sends the batch (by
:attr:`OutgoingBatch.batch_id`) and reuses those numbers for every later attempt of that
batch, so that the service stores a retried batch once (``docs/idempotent-publishing.md``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

__all__ = [
    "IdempotentTransportConnection",
    "OutgoingBatch",
    "PartitionRefreshingConnection",
    "PublishingState",
    "Transport",
    "TransportConnection",
]


@dataclass(frozen=True, slots=True)
class OutgoingBatch:
    """One batch for one partition.

    :ivar partition_id: where the batch goes.
    :ivar messages: each event as one complete encoded AMQP 1.0 message, in order.
    :ivar size_in_bytes: the batch's size as Event Hubs counts it against the maximum
        message size (with ``reserved_bytes_per_event`` counted for each event, when the
        connection reserves some).
    :ivar batch_id: the same for every attempt of one batch (its retries and a
        ``force_resend()``), different for every other batch of the partition; ``None``
        for a batch without identity, which an idempotent transport numbers afresh on
        each send. The producer uses the acceptance number of the batch's first event.
    :ivar sequence_number: for an idempotent connection: the publishing sequence number
        of the batch's first event when the batch was numbered by an earlier run of the
        producer (recovered from its journal); the transport stamps exactly these numbers
        if the partition resumed that run's producer id and epoch
        (:meth:`IdempotentTransportConnection.resume_publishing`), else numbers afresh.
        ``None``: the transport numbers the batch.
    :ivar on_numbered: for an idempotent connection: called as ``on_numbered(producer_id,
        epoch, first_sequence_number)`` when the transport numbers the batch, before the
        batch leaves (the producer journals it). If it raises, the attempt fails and the
        batch is not numbered.
    """

    partition_id: str
    messages: Sequence[bytes]
    size_in_bytes: int
    batch_id: int | None = None
    sequence_number: int | None = None
    on_numbered: Callable[[int, int, int], None] | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class PublishingState:
    """Where an idempotent producer stands on one partition.

    :ivar producer_id: the producer id the service assigned (``com.microsoft:producer-id``).
    :ivar producer_epoch: its epoch, or owner level (``com.microsoft:producer-epoch``).
    :ivar last_published_sequence_number: the last sequence number the service confirmed
        (``-1`` or the service's starting value before the first batch).
    """

    producer_id: int
    producer_epoch: int
    last_published_sequence_number: int


@runtime_checkable
class TransportConnection(Protocol):
    """An open connection to one Event Hub."""

    @property
    def eventhub_name(self) -> str:
        """The Event Hub's name."""
        ...

    @property
    def fully_qualified_namespace(self) -> str:
        """The namespace's host name."""
        ...

    @property
    def partition_ids(self) -> Sequence[str]:
        """The hub's partition ids, in the order the service lists them."""
        ...

    @property
    def max_message_size(self) -> int:
        """The largest batch the hub accepts, in bytes."""
        ...

    async def send(self, batch: OutgoingBatch) -> None:
        """Publish *batch*; return once the service has accepted it.

        Cancelling the call abandons the send: the service may or may not have the batch.

        :raises ~anyio_eventhubs.TransportError: if the service or connection failed.
        """
        ...


@runtime_checkable
class IdempotentTransportConnection(TransportConnection, Protocol):
    """A connection opened with ``connect(idempotent=True)``: it publishes idempotently.

    Its :meth:`send` stamps each event with the producer id, epoch and a sequence number,
    assigned when a batch is first sent and reused for every attempt with the same
    :attr:`OutgoingBatch.batch_id`; a retry of a batch the service stored already is
    acknowledged without being stored again.
    """

    @property
    def reserved_bytes_per_event(self) -> int:
        """Bytes that stamping may add to an event's share of a batch.

        The producer counts them against the batch size, so that a stamped batch still
        fits the hub's maximum message size.
        """
        ...

    def publishing_state(self, partition_id: str) -> PublishingState | None:
        """The idempotent state of *partition_id* (``None`` before it is known)."""
        ...

    async def resume_publishing(self, partition_id: str, producer_id: int, epoch: int) -> bool:
        """Publish on *partition_id* as the producer *producer_id* with *epoch* again.

        Called before the first send of a partition, by a producer restarted on its
        journal: the link is attached again with that identity, so that the service
        recognises a re-sent batch (``OutgoingBatch.sequence_number``).

        :returns: ``True`` if the service took the identity back; ``False`` if it
            refused it (it no longer knows the producer id): the partition then
            publishes under a fresh identity, and re-sent batches are numbered afresh.
        :raises ~anyio_eventhubs.TransportError: if the partition cannot be reached.
        """
        ...


@runtime_checkable
class PartitionRefreshingConnection(TransportConnection, Protocol):
    """A connection that can learn of partitions added to the hub while it is open."""

    async def refresh_partition_ids(self) -> Sequence[str]:
        """Ask the service for the hub's partition ids; make new ones ready to send to.

        Afterwards :attr:`partition_ids` is the same list.

        :raises ~anyio_eventhubs.TransportError: if the service cannot be asked.
        """
        ...


@runtime_checkable
class Transport(Protocol):
    """Something that can open a connection to an Event Hub.

    A transport that sets ``supports_idempotent_publishing = True`` also accepts
    ``connect(idempotent=True)``, which yields an :class:`IdempotentTransportConnection`.
    """

    def connect(self) -> AbstractAsyncContextManager[TransportConnection]:
        """Return an async context manager that opens, yields and closes a connection.

        :raises ~anyio_eventhubs.TransportError: (on entry) if the hub cannot be reached.
        """
        ...
