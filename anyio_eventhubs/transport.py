"""The small protocol between the producer and whatever carries batches to a hub.

A :class:`Transport` opens a :class:`TransportConnection` for the life of one producer.
The connection knows the hub (name, partitions, maximum message size) and sends one
batch at a time. It raises only :class:`~anyio_eventhubs.TransportError` subclasses,
mapped at its own boundary, with ``is_transient`` telling the producer whether a retry
may help; the producer owns the retry policy, so a transport never retries on its own.

Two transports ship: the real one (azure-eventhub) and
:class:`anyio_eventhubs.testing.InMemoryEventHub`.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["OutgoingBatch", "Transport", "TransportConnection"]


@dataclass(frozen=True, slots=True)
class OutgoingBatch:
    """One batch for one partition.

    :ivar partition_id: where the batch goes.
    :ivar messages: each event as one complete encoded AMQP 1.0 message, in order.
    :ivar size_in_bytes: the batch's size as Event Hubs counts it against the maximum
        message size.
    """

    partition_id: str
    messages: Sequence[bytes]
    size_in_bytes: int


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
class Transport(Protocol):
    """Something that can open a connection to an Event Hub."""

    def connect(self) -> AbstractAsyncContextManager[TransportConnection]:
        """Return an async context manager that opens, yields and closes a connection.

        :raises ~anyio_eventhubs.TransportError: (on entry) if the hub cannot be reached.
        """
        ...
