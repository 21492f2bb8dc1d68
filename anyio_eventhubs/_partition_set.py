"""A producer's partitions, and learning of new ones while it runs (issue #12).

Premium and dedicated hubs can gain partitions while producers run. A connection that
can re-read them (:class:`~anyio_eventhubs.transport.PartitionRefreshingConnection`) is
asked every ``refresh_partitions_every`` seconds, and by ``get_partition_ids()``. A new
partition joins the round robin, and keys map with the new count from that moment on,
as the service maps them (``docs/service-lifetime.md``). Partitions are never removed:
Event Hubs cannot lose one.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from ._partition import PartitionState
from .transport import PartitionRefreshingConnection

if TYPE_CHECKING:
    from ._intake import Intake
    from ._journaling import ProducerJournal
    from ._options import ProducerOptions
    from ._tasks import ProducerTasks

__all__ = ["PartitionSet", "partition_factory"]

logger = logging.getLogger("anyio_eventhubs")


class PartitionSet:
    """The partitions of one producer, by id, in the service's order.

    :param make: creates the state of a partition (with the producer's options and hooks).
    """

    def __init__(
        self, ids: Sequence[str], make: Callable[[str], PartitionState], identifier: str = ""
    ) -> None:
        self._make = make
        self._identifier = identifier
        self.ids = tuple(ids)
        self.parts = {pid: make(pid) for pid in self.ids}

    def grow(self, ids: Sequence[str]) -> list[PartitionState]:
        """Take *ids*, the hub's partition ids as the service lists them now; return the
        states of the partitions that are new (a list that lost a known one is ignored,
        with a warning: it cannot be right)."""
        ids = tuple(ids)
        if ids == self.ids:
            return []
        missing = [pid for pid in self.ids if pid not in ids]
        if missing:
            logger.warning(
                "the service listed partitions %s without %s; keeping the known ones",
                list(ids),
                missing,
            )
            return []
        new = [self._make(pid) for pid in ids if pid not in self.parts]
        for part in new:
            self.parts[part.id] = part
        self.ids = ids
        return new

    async def refresh(
        self, connection: PartitionRefreshingConnection, intake: Intake, tasks: ProducerTasks
    ) -> None:
        """Ask the service for the partition ids; route to and batch for new ones."""
        new = self.grow(await connection.refresh_partition_ids())
        if new:
            intake.set_partition_ids(self.ids)
            tasks.start_batchers(new)
            logger.info(
                "producer %s: the hub now has partitions %s", self._identifier, list(self.ids)
            )

    def refresher(
        self, connection: object, every: float | None, intake: Intake, tasks: ProducerTasks
    ) -> tuple[float, Callable[[], Awaitable[None]]] | None:
        """The periodic refresh for ``ProducerTasks`` (``None``: *every* is ``None``, or
        the connection cannot refresh)."""
        if every is None or not isinstance(connection, PartitionRefreshingConnection):
            return None
        return every, lambda: self.refresh(connection, intake, tasks)


def partition_factory(
    max_message_size: int,
    options: ProducerOptions,
    journal: ProducerJournal | None,
    *,
    early_event_data: bool = True,
) -> Callable[[str], PartitionState]:
    """What creates the state of a partition, with the producer's options and hooks.

    :param early_event_data: send a partition's ``EventData`` once half of
        ``max_queued_events`` is held (:attr:`PartitionState.event_data_due_at`). Off
        where sends run on a thread of their own: the sender would then run alongside
        the queueing task and contend with it for the GIL, which costs more than the
        wait it saves.
    """

    def make(partition_id: str) -> PartitionState:
        part = PartitionState(
            partition_id,
            max_message_size,
            options.max_wait_time,
            options.max_concurrent_sends_per_partition,
        )
        if early_event_data:
            part.event_data_due_at = max(1, options.max_queued_events // 2)
        if journal is not None:
            part.on_resolved = journal.resolved
        return part

    return make
