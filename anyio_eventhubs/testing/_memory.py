"""``InMemoryEventHub``: an Event Hub in this process, usable as ``transport=``.

For this project's tests and for users' own: it stores what producers publish, per
partition and in order, and injects faults on demand (errors for the next sends, a send
latency, sends that hang until released). Use it from the event loop that runs the
producer; it is not thread-safe.
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import cast

import anyio
from azure.eventhub import EventData

from .._codec import decode_message as decode_event
from .._exceptions import ServerBusyError, TransportError
from ..transport import OutgoingBatch

__all__ = ["InMemoryEventHub"]


@dataclass
class _Fault:
    remaining: int
    error: TransportError | type[TransportError]
    partition_id: str | None

    def make(self) -> TransportError:
        if isinstance(self.error, type):
            return self.error("fault injected by InMemoryEventHub")
        return copy.copy(self.error)


class InMemoryEventHub:
    """An Event Hub that lives in memory.

    :param partition_count: how many partitions (ids ``"0"`` to ``str(n - 1)``).
    :param name: the hub's name.
    :param max_message_size: the largest batch it accepts, in bytes.
    """

    supports_idempotent_publishing = False

    def __init__(
        self, partition_count: int = 4, *, name: str = "eh", max_message_size: int = 1048576
    ) -> None:
        if isinstance(partition_count, bool) or not isinstance(partition_count, int):
            raise TypeError(f"partition_count must be an int, got {type(partition_count).__name__}")
        if not 1 <= partition_count <= 1024:
            raise ValueError(f"partition_count must be between 1 and 1024, got {partition_count}")
        if not isinstance(name, str) or not name:
            raise ValueError(f"name must be a non-empty str, got {name!r}")
        if isinstance(max_message_size, bool) or not isinstance(max_message_size, int):
            raise TypeError(
                f"max_message_size must be an int, got {type(max_message_size).__name__}"
            )
        if max_message_size < 64:
            raise ValueError(f"max_message_size must be >= 64 bytes, got {max_message_size}")
        self.name = name
        self.fully_qualified_namespace = f"{name}.inmemory.localhost"
        self.partition_ids: tuple[str, ...] = tuple(str(i) for i in range(partition_count))
        #: the hub's partitions as the service knows them (see add_partitions)
        self._all_partition_ids = self.partition_ids
        self.max_message_size = max_message_size
        self._stored: dict[str, list[bytes]] = {pid: [] for pid in self.partition_ids}
        self._batches: dict[str, int] = dict.fromkeys(self.partition_ids, 0)
        self._faults: deque[_Fault] = deque()
        self._latency = 0.0
        self._hold: anyio.Event | None = None
        self._held_partitions: frozenset[str] | None = None
        self._in_flight = 0
        self._in_flight_changed: anyio.Event | None = None
        self.connections_opened = 0

    def __repr__(self) -> str:
        return (
            f"<InMemoryEventHub name={self.name!r} partitions={len(self.partition_ids)} "
            f"stored={sum(len(v) for v in self._stored.values())}>"
        )

    # -- the transport protocol --------------------------------------------------------

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[InMemoryEventHub]:
        """Open a connection (the hub itself serves as one)."""
        await anyio.lowlevel.checkpoint()
        self.connections_opened += 1
        yield self

    @property
    def eventhub_name(self) -> str:
        return self.name

    async def send(self, batch: OutgoingBatch) -> None:
        """Store *batch*, after any injected latency, hold or fault."""
        if batch.partition_id not in self._stored:
            raise ValueError(f"no partition {batch.partition_id!r}")
        if batch.size_in_bytes > self.max_message_size:
            raise ValueError(
                f"batch of {batch.size_in_bytes} bytes exceeds {self.max_message_size}"
            )
        self._set_in_flight(+1)
        try:
            if self._latency:
                await anyio.sleep(self._latency)
            while self._hold is not None and (
                self._held_partitions is None or batch.partition_id in self._held_partitions
            ):
                await self._hold.wait()
            for fault in self._faults:
                if fault.partition_id in (None, batch.partition_id):
                    fault.remaining -= 1
                    if not fault.remaining:
                        self._faults.remove(fault)
                    raise fault.make()
            await anyio.lowlevel.checkpoint()
            self._stored[batch.partition_id].extend(batch.messages)
            self._batches[batch.partition_id] += 1
        finally:
            self._set_in_flight(-1)

    async def refresh_partition_ids(self) -> tuple[str, ...]:
        """Learn of the partitions :meth:`add_partitions` added (as a connection to the
        service learns of them by asking); return the ids."""
        await anyio.lowlevel.checkpoint()
        self.partition_ids = self._all_partition_ids
        return self.partition_ids

    def add_partitions(self, count: int = 1) -> list[str]:
        """Add *count* partitions to the hub, as premium and dedicated hubs can grow;
        producers learn of them when they next refresh their partition ids.

        :returns: the new partitions' ids.
        """
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"count must be an int >= 1, got {count!r}")
        first = len(self._all_partition_ids)
        new = [str(i) for i in range(first, first + count)]
        self._all_partition_ids += tuple(new)
        for pid in new:
            self._stored[pid] = []
            self._batches[pid] = 0
        return new

    # -- reading back ------------------------------------------------------------------

    def published_events(self, partition_id: str) -> list[EventData]:
        """The events stored on *partition_id*, in order, as a consumer would read them."""
        return [decode_event(m) for m in self._stored[partition_id]]

    def published_bodies(self, partition_id: str) -> list[bytes]:
        """The bodies of the events stored on *partition_id*, in order."""
        return [
            b"".join(cast("Iterable[bytes]", e.body)) for e in self.published_events(partition_id)
        ]

    def published_count(self, partition_id: str | None = None) -> int:
        """How many events are stored on *partition_id* (all partitions if ``None``)."""
        if partition_id is None:
            return sum(len(v) for v in self._stored.values())
        return len(self._stored[partition_id])

    def batch_count(self, partition_id: str | None = None) -> int:
        """How many batches were stored on *partition_id* (all partitions if ``None``)."""
        if partition_id is None:
            return sum(self._batches.values())
        return self._batches[partition_id]

    # -- faults ------------------------------------------------------------------------

    def fail_next_sends(
        self,
        count: int = 1,
        *,
        error: TransportError | type[TransportError] = ServerBusyError,
        partition_id: str | None = None,
    ) -> None:
        """Make the next *count* sends (to *partition_id*, or any) raise *error*.

        A transient error (``error.is_transient``) is retried by the producer; a
        permanent one is reported failed at once.
        """
        if count < 1:
            raise ValueError(f"count must be >= 1, got {count}")
        if partition_id is not None and partition_id not in self._stored:
            raise ValueError(f"no partition {partition_id!r}; ids are {list(self.partition_ids)}")
        self._faults.append(_Fault(count, error, partition_id))

    def set_send_latency(self, seconds: float) -> None:
        """Make every send take *seconds* before it is stored (0 to turn off)."""
        if seconds < 0:
            raise ValueError(f"seconds must be >= 0, got {seconds}")
        self._latency = seconds

    def hold_sends(self, partition_ids: Sequence[str] | None = None) -> None:
        """Make sends (to *partition_ids*, or all) hang until :meth:`release_sends`."""
        if self._hold is None:
            self._hold = anyio.Event()
        self._held_partitions = None if partition_ids is None else frozenset(partition_ids)

    def release_sends(self) -> None:
        """Let held sends complete."""
        if self._hold is not None:
            hold, self._hold = self._hold, None
            hold.set()

    def clear_faults(self) -> None:
        """Remove every injected fault, latency and hold."""
        self._faults.clear()
        self._latency = 0.0
        self.release_sends()

    # -- observing ---------------------------------------------------------------------

    @property
    def sends_in_flight(self) -> int:
        """Sends that have started and not finished."""
        return self._in_flight

    def _set_in_flight(self, delta: int) -> None:
        self._in_flight += delta
        if self._in_flight_changed is not None:
            self._in_flight_changed.set()
            self._in_flight_changed = None

    async def wait_sends_in_flight(self, count: int) -> None:
        """Wait until at least *count* sends are in flight (use with :meth:`hold_sends`)."""
        while self._in_flight < count:
            if self._in_flight_changed is None:
                self._in_flight_changed = anyio.Event()
            await self._in_flight_changed.wait()
