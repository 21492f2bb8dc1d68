"""Frozen snapshots of a producer's counters."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._partition import PartitionState
    from .transport import PublishingState

__all__ = ["PartitionStatistics", "ProducerStatistics", "collect_statistics"]


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
    :ivar recovered: events of an earlier run, recovered from the journal and queued
        again (they count in ``queued``, ``published`` and ``failed`` as any other).
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
    recovered: int = 0


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
    #: events of an earlier run recovered from the journal (``docs/durability.md``)
    recovered: int = 0


def _idempotent(state: PublishingState | None) -> dict[str, int]:
    if state is None:
        return {}
    return {
        "producer_id": state.producer_id,
        "producer_epoch": state.producer_epoch,
        "last_published_sequence_number": state.last_published_sequence_number,
    }


def collect_statistics(
    parts: Iterable[PartitionState],
    publishing_state: Callable[[str], PublishingState | None] | None,
) -> ProducerStatistics:
    """Snapshot the counters of a producer's partitions (and their idempotent state)."""
    partitions = {
        part.id: PartitionStatistics(
            partition_id=part.id,
            queued=part.ledger.outstanding - part.in_flight_events,
            in_flight=part.in_flight_events,
            published=part.published,
            failed=part.failed,
            batches_published=part.batches_published,
            batches_failed=part.batches_failed,
            recovered=part.recovered,
            **_idempotent(None if publishing_state is None else publishing_state(part.id)),
        )
        for part in parts
    }
    stats = partitions.values()
    return ProducerStatistics(
        queued=sum(p.queued for p in stats),
        in_flight=sum(p.in_flight for p in stats),
        published=sum(p.published for p in stats),
        failed=sum(p.failed for p in stats),
        batches_published=sum(p.batches_published for p in stats),
        batches_failed=sum(p.batches_failed for p in stats),
        partitions=partitions,
        recovered=sum(p.recovered for p in stats),
    )
