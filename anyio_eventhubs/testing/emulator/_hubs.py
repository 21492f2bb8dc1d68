"""Event hubs, their partitions and the events stored in them.

Events are stored as the encoded bytes the producer sent and decoded only when a test
reads them back (:class:`StoredEvent`). The server thread is the only writer; readers on
other threads take the store's lock. Per event the store keeps the raw bytes, its byte
offset and a reference to the transfer that brought it (connection, link, enqueued time,
the batch's partition key), which keeps publishing at a few list appends per event.

Idempotent publishing keeps its state (producer ids, epochs, each producer's last
sequence number per partition) in :attr:`EventStore.producers`; the sending link judges
each transfer with it before :meth:`EventStore.append` (see ``_idempotent``).
"""

from __future__ import annotations

import bisect
import itertools
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from anyio_eventhubs._partitioning import partition_for_key

from ._codec import datetime_from_ms
from ._idempotent import ProducerRegistry
from ._messages import PARTITION_KEY, decode_message

__all__ = ["EventStore", "Hub", "PartitionLog", "StoredEvent", "TransferInfo"]

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredEvent:
    """One event as the emulator stored it, decoded for a test to inspect."""

    eventhub_name: str
    partition_id: str
    sequence_number: int
    offset: str
    """The byte offset in the partition, as a string (as the service reports it)."""
    enqueued_time: datetime
    """UTC, millisecond precision (what consumers see as ``x-opt-enqueued-time``)."""
    body: bytes
    """The data sections concatenated (``b""`` for a value or sequence body)."""
    properties: dict[str, Any]
    """The AMQP properties section (``message_id``, ``content_type``, ...), nulls left out."""
    application_properties: dict[Any, Any]
    annotations: dict[Any, Any]
    """The message annotations the producer set (the service's own are not added here)."""
    partition_key: str | None
    """The event's ``x-opt-partition-key``, else its batch's."""
    connection_id: int
    """Which TCP connection delivered it (see :meth:`EventHubsEmulator.connection_info`)."""
    link_name: str
    transfer_id: int
    """Events of one batch share a transfer id; ids grow across the whole emulator."""
    in_batch: bool
    raw: bytes = field(repr=False)
    """The encoded message as the producer sent it."""
    body_type: str = "data"
    body_value: Any = None


class TransferInfo(NamedTuple):
    """What the events of one transfer share."""

    transfer_id: int
    connection_id: int
    link_name: str
    partition_key: str | None
    enqueued_ms: int
    in_batch: bool


class PartitionLog:
    """The events of one partition (mutated only on the server thread)."""

    def __init__(self, eventhub_name: str, partition_id: str) -> None:
        self.eventhub_name = eventhub_name
        self.partition_id = partition_id
        self.raw: list[bytes] = []
        self.offsets: list[int] = []
        self.transfers: list[TransferInfo] = []
        self.next_offset = 0
        #: called on the server thread after events are appended (consumer links)
        self.listeners: list[Callable[[], None]] = []

    def __len__(self) -> int:
        return len(self.raw)

    def index_of_offset(self, offset: int, inclusive: bool) -> int:
        """Index of the first event at (or after, when not ``inclusive``) ``offset``."""
        pick = bisect.bisect_left if inclusive else bisect.bisect_right
        return pick(self.offsets, offset)

    def index_of_time(self, ms: int, inclusive: bool) -> int:
        """Index of the first event enqueued at (or after, when not ``inclusive``) ``ms``."""
        pick = bisect.bisect_left if inclusive else bisect.bisect_right
        return pick(self.transfers, ms, key=lambda t: t.enqueued_ms)

    def stored_event(self, index: int) -> StoredEvent:
        raw, info = self.raw[index], self.transfers[index]
        decoded = decode_message(raw)
        own_key = decoded.annotations.get(PARTITION_KEY)
        return StoredEvent(
            eventhub_name=self.eventhub_name,
            partition_id=self.partition_id,
            sequence_number=index,
            offset=str(self.offsets[index]),
            enqueued_time=datetime_from_ms(info.enqueued_ms),
            body=decoded.body,
            properties=decoded.properties,
            application_properties=decoded.application_properties,
            annotations=decoded.annotations,
            partition_key=own_key if isinstance(own_key, str) else info.partition_key,
            connection_id=info.connection_id,
            link_name=info.link_name,
            transfer_id=info.transfer_id,
            in_batch=info.in_batch,
            raw=raw,
            body_type=decoded.body_type,
            body_value=decoded.body_value,
        )

    def properties(self) -> dict[str, Any]:
        """What ``$management`` reports for the partition (names as on the wire)."""
        count = len(self.raw)
        last_ms = self.transfers[-1].enqueued_ms if count else 0
        return {
            "name": self.eventhub_name,
            "partition": self.partition_id,
            "begin_sequence_number": 0,
            "last_enqueued_sequence_number": count - 1,
            "last_enqueued_offset": str(self.offsets[-1]) if count else "-1",
            "is_partition_empty": count == 0,
            "last_enqueued_time_utc": datetime_from_ms(last_ms),
        }


class Hub:
    """An event hub: partitions ``"0"`` to ``"n-1"`` and a maximum message size.

    Partitions can be added while the emulator runs (:meth:`add_partitions`); the list and
    the map are replaced, never changed in place, so the server thread always reads a
    consistent pair.
    """

    def __init__(self, name: str, partition_count: int, max_message_size: int) -> None:
        self.name = name
        self.partition_ids = [str(i) for i in range(partition_count)]
        self.partitions = {p: PartitionLog(name, p) for p in self.partition_ids}
        self.max_message_size = max_message_size
        self.created_at = datetime.now(UTC).replace(microsecond=0)
        self._round_robin = itertools.cycle(self.partition_ids)

    def add_partitions(self, count: int) -> list[str]:
        """Add ``count`` partitions after the last; returns their ids."""
        first = len(self.partition_ids)
        new = [str(i) for i in range(first, first + count)]
        partitions = dict(self.partitions)
        partitions.update((p, PartitionLog(self.name, p)) for p in new)
        ids = [*self.partition_ids, *new]
        self.partitions = partitions
        self.partition_ids = ids
        self._round_robin = itertools.cycle(ids)
        return new

    def route(self, partition_key: str | None) -> str:
        """The partition a send to the hub itself lands on (whole batches stay together).

        A key is hashed modulo the partition count of this moment, as the service does:
        once partitions are added, a key may land on another partition than before.
        """
        if partition_key is not None:
            return partition_for_key(partition_key, self.partition_ids)
        return next(self._round_robin)

    def properties(self) -> dict[str, Any]:
        """What ``$management`` reports for the hub (names as on the wire)."""
        return {
            "name": self.name,
            "created_at": self.created_at,
            "partition_ids": list(self.partition_ids),
        }


class EventStore:
    """All hubs, with a lock for readers on other threads and a condition to wait on."""

    def __init__(self) -> None:
        self._hubs: dict[str, Hub] = {}
        self._changed = threading.Condition(threading.RLock())
        self._transfer_ids = itertools.count()
        self._last_ms = 0
        #: idempotent producers (mutated on the server thread only)
        self.producers = ProducerRegistry()

    def add_hub(self, name: str, partition_count: int, max_message_size: int) -> None:
        if not name or "/" in name:
            raise ValueError(f"invalid event hub name {name!r}")
        if partition_count < 1:
            raise ValueError(f"partition_count must be at least 1, got {partition_count}")
        if max_message_size < 1:
            raise ValueError(f"max_message_size must be positive, got {max_message_size}")
        with self._changed:
            if name in self._hubs:
                raise ValueError(f"event hub {name!r} already exists")
            self._hubs[name] = Hub(name, partition_count, max_message_size)

    def add_partitions(self, name: str, count: int, max_partitions: int) -> list[str]:
        """Grow hub ``name`` by ``count`` partitions (any thread); returns the new ids.

        :raises KeyError: if there is no such hub.
        :raises ValueError: if ``count`` is not positive or the hub would pass
            ``max_partitions``.
        """
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"count must be a positive int, got {count!r}")
        with self._changed:
            hub = self._hubs.get(name)
            if hub is None:
                raise KeyError(f"no event hub {name!r}")
            total = len(hub.partition_ids) + count
            if total > max_partitions:
                raise ValueError(
                    f"event hub {name!r} would have {total} partitions; "
                    f"the most allowed is {max_partitions}"
                )
            new = hub.add_partitions(count)
            self._changed.notify_all()
        return new

    def hub(self, name: str) -> Hub | None:
        return self._hubs.get(name)

    def hubs(self) -> Mapping[str, Hub]:
        return dict(self._hubs)

    def partition(self, eventhub_name: str, partition_id: str) -> PartitionLog:
        """:raises KeyError: naming the unknown hub or partition."""
        hub = self._hubs.get(eventhub_name)
        if hub is None:
            raise KeyError(f"no event hub {eventhub_name!r}")
        log = hub.partitions.get(partition_id)
        if log is None:
            raise KeyError(f"event hub {eventhub_name!r} has no partition {partition_id!r}")
        return log

    def append(
        self,
        log: PartitionLog,
        events: list[bytes],
        *,
        connection_id: int,
        link_name: str,
        partition_key: str | None,
        in_batch: bool,
    ) -> None:
        """Store ``events`` at the end of ``log`` (server thread) and wake listeners."""
        with self._changed:
            # enqueued times never go backwards, so a partition can be searched by time
            now_ms = max(time.time_ns() // 1_000_000, self._last_ms)
            self._last_ms = now_ms
            info = TransferInfo(
                next(self._transfer_ids), connection_id, link_name, partition_key, now_ms, in_batch
            )
            offsets = list(itertools.accumulate(map(len, events), initial=log.next_offset))
            log.next_offset = offsets.pop()
            log.offsets.extend(offsets)
            log.raw.extend(events)
            log.transfers.extend(itertools.repeat(info, len(events)))
            self._changed.notify_all()
        for listener in list(log.listeners):
            try:
                listener()
            except Exception:  # a consumer's failure must not fail this producer's send
                _LOG.exception("an emulator consumer failed to take new events")

    def published_events(self, eventhub_name: str, partition_id: str) -> list[StoredEvent]:
        with self._changed:
            log = self.partition(eventhub_name, partition_id)
            count = len(log)
        return [log.stored_event(i) for i in range(count)]

    def notify(self) -> None:
        """Wake :meth:`wait_until` callers (something other than an append changed)."""
        with self._changed:
            self._changed.notify_all()

    def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Block until ``predicate()`` holds (checked after each change) or time is up."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
        return True
