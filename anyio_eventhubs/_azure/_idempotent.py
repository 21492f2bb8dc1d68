"""Idempotent publishing on azure-eventhub: the client's half of the protocol.

azure-eventhub 5.x for Python has no idempotent publishing, so the transport speaks it
itself (the wire format is in ``docs/idempotent-publishing.md``, with its sources):

- each partition's sender link is attached with the desired capability
  ``com.microsoft:idempotent-producer``; the first attach carries no producer
  properties (the service assigns a producer id), later ones the producer id and epoch
  with a null sequence number, so the service answers with the last sequence number it
  stored for us (how the .NET client recovers after a reconnect);
- each event is stamped with the annotations ``com.microsoft:producer-id`` (long),
  ``com.microsoft:producer-epoch`` (short) and ``com.microsoft:producer-sequence-number``
  (int), consecutive within a batch; the numbers of a batch are assigned on its first
  attempt and reused for every later attempt with the same ``batch_id``;
- when a new batch comes while the outcome of an earlier one is unknown (the producer
  gave up on it, cleared it, or the service refused its numbers), the link is attached
  again first, to take the service's last sequence number instead of guessing.

:class:`PartitionPublishing` is that state for one partition (:func:`._stamp.stamp`
splices the annotations into an event already encoded). :func:`open_idempotent`
and :func:`send_idempotent` drive them for the transport (on the caller's thread; the
client runs through the bridge). The private azure-eventhub pieces (the link's attach
settings) are in ``anyio_eventhubs._azure_internals``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .._azure_amqp_link import open_partition as open_partition_producer
from .._azure_amqp_link import reset_partition as reset_partition_producer
from .._azure_amqp_link import send_once as send_batch_once
from .._azure_internals import LinkOptions
from .._exceptions import TransportError
from ..transport import OutgoingBatch, PublishingState
from ._bridge import Bridge
from ._errors import _amqp_error, _condition, _describe, map_exceptions, redact
from ._stamp import (
    CAPABILITY,
    OUT_OF_ORDER_SEQUENCE,
    PRODUCER_EPOCH,
    PRODUCER_EPOCH_STOLEN,
    PRODUCER_ID,
    PRODUCER_SEQUENCE_NUMBER,
    next_sequence,
    pack_int,
    stamp,
    stamp_entries,
)

__all__ = [
    "IdempotentPartition",
    "PartitionPublishing",
    "idempotent_conditions",
    "open_idempotent",
    "send_idempotent",
]

logger = logging.getLogger("anyio_eventhubs")


# -- the state of one partition --------------------------------------------------------------


@dataclass
class _Pending:
    """A batch sent (at least once) and not yet confirmed."""

    batch_id: int | None
    producer_id: int
    first: int
    last: int
    messages: list[bytes]


class PartitionPublishing:
    """One partition's idempotent state: producer id, epoch, sequence numbers.

    Used by one sender at a time (the transport holds the partition's lock), on the
    caller's thread.
    """

    def __init__(self, eventhub_name: str, partition_id: str) -> None:
        self.eventhub_name = eventhub_name
        self.partition_id = partition_id
        self.producer_id: int | None = None
        self.epoch: int | None = None
        #: the last sequence number the service confirmed (reported, or acknowledged)
        self.last: int | None = None
        self._pending: _Pending | None = None
        #: the last batch the service acknowledged: resent as it was, if it comes again
        self._confirmed: _Pending | None = None
        self._resync = False
        #: the identity of an earlier run taken back (resume): its batches keep their numbers
        self._resumed: tuple[int, int] | None = None

    def __repr__(self) -> str:
        return (
            f"<PartitionPublishing partition={self.partition_id!r} "
            f"producer_id={self.producer_id} epoch={self.epoch} last={self.last} "
            f"pending={self._pending is not None}>"
        )

    def state(self) -> PublishingState | None:
        if self.producer_id is None or self.epoch is None or self.last is None:
            return None
        return PublishingState(self.producer_id, self.epoch, self.last)

    def attach_properties(self) -> dict[str, tuple[str, int | None]]:
        """The producer properties of the next attach: ``name -> (AMQP type, value)``.

        None on the first attach (the service assigns a producer id); afterwards our id
        and epoch and a null sequence number, so that the service reports its own.
        """
        if self.producer_id is None:
            return {}
        return {
            PRODUCER_ID: ("long", self.producer_id),
            PRODUCER_EPOCH: ("short", self.epoch),
            PRODUCER_SEQUENCE_NUMBER: ("int", None),
        }

    def attached(self, remote: Mapping[str, Any] | None) -> None:
        """Take the producer id, epoch and last sequence number from an attach reply.

        :raises ~anyio_eventhubs.TransportError: (not transient) if the reply carries
            none: the service did not enable idempotent publishing on the link.
        """
        remote = remote or {}
        producer_id, epoch, last = (
            remote.get(key) for key in (PRODUCER_ID, PRODUCER_EPOCH, PRODUCER_SEQUENCE_NUMBER)
        )
        if (
            not isinstance(producer_id, int)
            or not isinstance(epoch, int)
            or isinstance(producer_id, bool)
            or isinstance(epoch, bool)
        ):
            raise TransportError(
                f"opening partition {self.partition_id!r} of {self.eventhub_name!r} for "
                f"idempotent publishing: the service's attach reply carries no {PRODUCER_ID} "
                f"and {PRODUCER_EPOCH}; it did not enable idempotent publishing on the link "
                "(is idempotent publishing supported for this namespace?)",
                is_transient=False,
            )
        if not isinstance(last, int) or isinstance(last, bool):
            last = -1  # nothing published under this producer id yet
        if self.producer_id is not None and producer_id != self.producer_id:
            logger.warning(
                "Event Hub %r partition %r: the service answered with producer id %s instead "
                "of %s; a batch in flight is numbered afresh and may be stored twice",
                self.eventhub_name,
                self.partition_id,
                producer_id,
                self.producer_id,
            )
            self._pending = self._confirmed = None
        self.producer_id, self.epoch, self.last = producer_id, epoch, last
        self._resync = False

    def resume(self, producer_id: int, epoch: int) -> None:
        """Attach next as *producer_id* with *epoch* (an earlier run's identity)."""
        self.producer_id, self.epoch, self.last = producer_id, epoch, None
        self._pending = self._confirmed = None
        self._resumed = (producer_id, epoch)

    def forget_resume(self) -> None:
        """The service refused the earlier identity: attach next as a new producer."""
        self.producer_id = self.epoch = self.last = None
        self._resumed = None

    def begin(self, batch: OutgoingBatch) -> bool:
        """Start an attempt of *batch*; return whether to attach the link again first.

        A new batch while an earlier one is unconfirmed means that the earlier one's
        outcome is unknown: only the service knows the last sequence number then.
        """
        pending = self._pending
        if pending is not None and not self._is_retry(pending, batch):
            self._pending = None
            self._resync = True
        return self._resync

    def _is_retry(self, sent: _Pending | None, batch: OutgoingBatch) -> bool:
        return (
            sent is not None
            and batch.batch_id is not None
            and sent.batch_id == batch.batch_id
            and len(sent.messages) == len(batch.messages)
            and sent.producer_id == self.producer_id
        )

    def stamp(self, batch: OutgoingBatch) -> tuple[list[bytes], int]:
        """The batch's messages stamped, and its first sequence number.

        The first attempt of a batch takes the numbers after the last confirmed one; a
        retry (same ``batch_id``) gets exactly the messages of its first attempt, also
        when the service acknowledged that attempt and the acknowledgement was lost on
        the way to the producer (the service then acknowledges the duplicate).
        """
        for sent in (self._pending, self._confirmed):
            if sent is not None and self._is_retry(sent, batch):
                self._pending = sent
                return sent.messages, sent.first
        if self.producer_id is None or self.epoch is None or self.last is None:
            raise RuntimeError("PartitionPublishing.stamp() before the link was attached")
        if batch.sequence_number is not None and self._resumed == (self.producer_id, self.epoch):
            first = batch.sequence_number  # numbered by the run we resumed: the same numbers
        else:
            first = next_sequence(self.last)
            if batch.on_numbered is not None:  # may raise: then nothing is numbered
                batch.on_numbered(self.producer_id, self.epoch, first)
        head = stamp_entries(self.producer_id, self.epoch, 0)[:-4]
        messages, sequence = [], first
        for encoded in batch.messages:
            messages.append(stamp(encoded, head + pack_int(sequence)))
            sequence = next_sequence(sequence)
        last = (first + len(messages) - 1) % 2**31
        self._pending = _Pending(batch.batch_id, self.producer_id, first, last, messages)
        return messages, first

    def succeeded(self) -> None:
        """The service acknowledged the pending batch (stored now, or stored before)."""
        if self._pending is not None:
            self.last = self._pending.last
            self._confirmed, self._pending = self._pending, None

    def refused(self) -> None:
        """The service refused the pending batch's numbers: re-read them before the next."""
        self._pending = self._confirmed = None
        self._resync = True


@contextmanager
def idempotent_conditions(context: str, publishing: PartitionPublishing) -> Iterator[None]:
    """Turn the service's idempotent-publishing refusals into clear, non-transient errors.

    ``com.microsoft:out-of-order-sequence`` and ``com.microsoft:producer-epoch-stolen``
    become a :class:`~anyio_eventhubs.TransportError` that is not transient (a retry with
    the same numbers cannot succeed); the next batch re-reads the service's sequence.
    Anything else passes through unchanged (for ``map_exceptions``).
    """
    try:
        yield
    except Exception as exc:
        error = _amqp_error(exc)
        condition = _condition(error)
        if condition == OUT_OF_ORDER_SEQUENCE:
            publishing.refused()
            raise TransportError(
                f"{context}: the service refused the batch's sequence numbers as out of order "
                f"({_describe(exc, error)}). The producer's idempotent sequence no longer "
                "matches the service's (another producer with the same producer id, or state "
                "the service lost); the batch was not stored and is not retried, and the next "
                "batch starts from the service's last sequence number.",
                is_transient=False,
            ) from exc
        if condition == PRODUCER_EPOCH_STOLEN:
            publishing.refused()
            raise TransportError(
                f"{context}: another producer with a higher epoch took over producer id "
                f"{publishing.producer_id} on this partition ({_describe(exc, error)}); "
                "this producer may no longer publish to it.",
                is_transient=False,
            ) from exc
        raise


# -- driving it (called by AzureConnection) --------------------------------------------------


@dataclass
class IdempotentPartition:
    """One partition's idempotent publishing: its state, and its link's attach options."""

    publishing: PartitionPublishing
    link: LinkOptions

    @classmethod
    def create(cls, eventhub_name: str, partition_id: str) -> IdempotentPartition:
        publishing = PartitionPublishing(eventhub_name, partition_id)
        return cls(publishing, LinkOptions([CAPABILITY], publishing.attach_properties))


async def open_idempotent(
    bridge: Bridge, producer: Any, partition: IdempotentPartition, context: str
) -> int:
    """Attach *producer*'s link as an idempotent producer; return its maximum message size.

    :raises ~anyio_eventhubs.TransportError: if the service did not enable idempotent
        publishing on the link, or could not be reached (as ``map_exceptions`` says).
    """
    with (
        map_exceptions(context, opening=True),
        idempotent_conditions(context, partition.publishing),
    ):
        size = await bridge.run(open_partition_producer, producer, partition.link)
    partition.publishing.attached(partition.link.remote_properties)
    return size


async def send_idempotent(
    bridge: Bridge,
    producer: Any,
    partition: IdempotentPartition,
    batch: OutgoingBatch,
    context: str,
) -> None:
    """One attempt of *batch*, stamped for idempotent publishing.

    The caller holds the partition's lock, and closes the link when the attempt is
    cancelled or the link was lost (as for any send).
    """
    publishing, link = partition.publishing, partition.link
    with map_exceptions(context), idempotent_conditions(context, publishing):
        if publishing.begin(batch):
            try:  # the next attach tells us the service's last sequence number
                await bridge.run(reset_partition_producer, producer)
            except Exception as exc:
                logger.debug("ignored while re-attaching: %s", redact(str(exc)))
        seen = link.attaches
        await bridge.run(open_partition_producer, producer, link)
        if link.attaches != seen:
            publishing.attached(link.remote_properties)
        messages, _ = publishing.stamp(batch)
        seen = link.attaches
        await bridge.run(send_batch_once, producer, messages, batch.size_in_bytes, link)
    if link.attaches != seen:  # the link had closed meanwhile and was attached again
        publishing.attached(link.remote_properties)
    publishing.succeeded()
