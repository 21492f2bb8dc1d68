"""Reading a hub back with azure-eventhub's own consumer client, for ``demo``.

The sync ``EventHubConsumerClient`` receives in a worker thread until every expected
event arrived or the timeout passed; then it is closed (which ends the receive). Its
callbacks count into a :class:`Tally` and wake the event loop once, through a blocking
portal.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import anyio
from anyio.from_thread import BlockingPortal
from azure.eventhub import EventData, EventHubConsumerClient

from .._partitioning import partition_for_key
from ._outcomes import Counters

__all__ = ["PartitionTally", "Tally", "read_back"]


@dataclass
class PartitionTally:
    """What one partition held."""

    events: int = 0
    keys: set[str] = field(default_factory=set)
    #: events of a key that came after a later event of the same key
    out_of_order: int = 0
    #: events whose key the service's hash puts on another partition
    misplaced: int = 0


class Tally:
    """What came back, per partition, checked as it arrives.

    Each event is a JSON object with ``device`` (its partition key) and ``seq`` (its
    place among that device's events).
    """

    def __init__(self, partition_ids: Sequence[str], expected: int) -> None:
        self.partition_ids = list(partition_ids)
        self.partitions = {pid: PartitionTally() for pid in self.partition_ids}
        #: ``published`` counts the events read (for the progress view)
        self.counters = Counters(queued=expected)
        self.duplicates = 0
        #: when the last expected event arrived (``anyio.current_time()``)
        self.completed_at: float | None = None
        self._last_seq: dict[str, int] = {}
        self._seen: set[tuple[str, int]] = set()

    @property
    def total(self) -> int:
        return self.counters.published

    def add(self, partition_id: str, events: Sequence[EventData]) -> None:
        """Count and check *events*, received from *partition_id* in order."""
        tally = self.partitions[partition_id]
        for event in events:
            document = json.loads(event.body_as_str())
            key = str(document["device"])
            seq = int(document["seq"])
            if (key, seq) in self._seen:
                self.duplicates += 1
                continue
            self._seen.add((key, seq))
            tally.events += 1
            tally.keys.add(key)
            if seq < self._last_seq.get(key, -1):
                tally.out_of_order += 1
            self._last_seq[key] = seq
            if partition_for_key(key, self.partition_ids) != partition_id:
                tally.misplaced += 1
        self.counters.published += len(events)

    @property
    def all_well(self) -> bool:
        """Every event once, in order per key, on the partition the service's hash picks."""
        return (
            self.total == self.counters.queued
            and not self.duplicates
            and not any(p.out_of_order or p.misplaced for p in self.partitions.values())
        )


async def read_back(connection_string: str, tally: Tally) -> None:
    """Receive from every partition of the hub until *tally* has all its events.

    Bound it with ``anyio.move_on_after``: cancelling it closes the client.
    """
    client = EventHubConsumerClient.from_connection_string(
        connection_string, consumer_group="$Default"
    )
    all_arrived = anyio.Event()
    async with BlockingPortal() as portal:
        woken = False

        def on_event_batch(context: Any, events: list[EventData]) -> None:
            nonlocal woken
            tally.add(context.partition_id, events)
            if not woken and tally.total >= tally.counters.queued:
                woken = True
                portal.call(all_arrived.set)

        receive = partial(
            client.receive_batch,
            on_event_batch=on_event_batch,
            starting_position="-1",
            max_batch_size=1000,
            prefetch=2000,
            max_wait_time=0.5,
        )
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(partial(anyio.to_thread.run_sync, receive))
            try:
                await all_arrived.wait()
                tally.completed_at = anyio.current_time()
            finally:
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(client.close)
