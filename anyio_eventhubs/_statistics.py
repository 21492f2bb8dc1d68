"""Frozen snapshots of a producer's counters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["PartitionStatistics", "ProducerStatistics"]


@dataclass(frozen=True)
class PartitionStatistics:
    """One partition's counters at the moment :meth:`~StreamingProducer.statistics` ran.

    :ivar queued: accepted events waiting to be sent.
    :ivar in_flight: events being sent (including retries and handler calls).
    :ivar published: events the service accepted.
    :ivar failed: events reported to ``on_publish_failed`` (or raised), cleared included.
    :ivar batches_published: batches the service accepted.
    :ivar batches_failed: failure reports made.
    :ivar producer_id: with ``enable_idempotent_retries=True``, the producer id the
        service assigned for this partition; else ``None``.
    :ivar producer_epoch: with idempotent retries, the producer's epoch (owner level).
    :ivar last_published_sequence_number: with idempotent retries, the last sequence
        number the service confirmed for this producer on the partition (``-1`` before
        the first batch).
    """

    partition_id: str
    queued: int
    in_flight: int
    published: int
    failed: int
    batches_published: int
    batches_failed: int
    producer_id: int | None = None
    producer_epoch: int | None = None
    last_published_sequence_number: int | None = None


@dataclass(frozen=True)
class ProducerStatistics:
    """A producer's counters, summed over its partitions, and each partition's."""

    queued: int
    in_flight: int
    published: int
    failed: int
    batches_published: int
    batches_failed: int
    partitions: Mapping[str, PartitionStatistics]
