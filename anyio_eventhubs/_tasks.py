"""The producer's background tasks, all in the task group of ``open_streaming_producer``.

One batcher per partition (``_batcher``), one sender per batch in flight (``_sender``),
and with a journal: the recovery of an earlier run's events (``_recovering.recover``)
and, with ``durability="interval"``, the journal's periodic sync. The batchers and the
sync run in scopes of their own, which the close cancels last.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any

import anyio

from ._batcher import run_batcher
from ._partition import InFlightSend, PartitionState
from ._sender import Sender

__all__ = ["ProducerTasks"]

logger = logging.getLogger("anyio_eventhubs")


class ProducerTasks:
    """Starts and stops one producer's background tasks."""

    def __init__(self, identifier: str, max_concurrent_sends: int | None) -> None:
        self._identifier = identifier
        #: send slots over all partitions (None: no bound beyond the per-partition one)
        self.global_slots = (
            None if max_concurrent_sends is None else anyio.Semaphore(max_concurrent_sends)
        )
        self.sender: Sender | None = None
        self._task_group: anyio.abc.TaskGroup | None = None
        self._scopes: list[anyio.CancelScope] = []

    def start(
        self,
        task_group: anyio.abc.TaskGroup,
        parts: Iterable[PartitionState],
        *,
        recovery: Callable[[], Coroutine[Any, Any, None]] | None = None,
        periodic_sync: tuple[float, Callable[[], None]] | None = None,
        periodic_refresh: tuple[float, Callable[[], Awaitable[None]]] | None = None,
    ) -> None:
        """Start the batchers, and the recovery and the journal's sync if given."""
        self._task_group = task_group
        if recovery is not None:
            task_group.start_soon(recovery, name=f"anyio_eventhubs recovery {self._identifier}")
        if periodic_sync is not None:
            scope = anyio.CancelScope()
            self._scopes.append(scope)
            task_group.start_soon(self._sync_periodically, scope, *periodic_sync)
        if periodic_refresh is not None:
            scope = anyio.CancelScope()
            self._scopes.append(scope)
            task_group.start_soon(
                self._refresh_periodically,
                scope,
                *periodic_refresh,
                name=f"anyio_eventhubs partition refresh {self._identifier}",
            )
        self.start_batchers(parts)

    def start_batchers(self, parts: Iterable[PartitionState]) -> None:
        """Start a batcher for each of *parts* (at the start, and for new partitions)."""
        assert self._task_group is not None
        for part in parts:
            scope = anyio.CancelScope(shield=True)
            self._scopes.append(scope)
            self._task_group.start_soon(
                self._run_batcher,
                part,
                scope,
                name=f"anyio_eventhubs batcher {self._identifier}/{part.id}",
            )

    def cancel(self) -> None:
        """Stop the batchers and the sync (the last step of a close)."""
        for scope in self._scopes:
            scope.cancel()

    async def _sync_periodically(
        self, scope: anyio.CancelScope, interval: float, sync: Callable[[], None]
    ) -> None:
        with scope:
            while True:
                await anyio.sleep(interval)
                sync()

    async def _refresh_periodically(
        self, scope: anyio.CancelScope, interval: float, refresh: Callable[[], Awaitable[None]]
    ) -> None:
        """Ask for the partition ids now and then; a failure waits for the next time."""
        with scope:
            while True:
                await anyio.sleep(interval)
                try:
                    await refresh()
                except Exception as exc:  # the next round asks again
                    logger.warning(
                        "producer %s: could not refresh the partition ids: %s",
                        self._identifier,
                        exc,
                    )

    async def _run_batcher(self, part: PartitionState, scope: anyio.CancelScope) -> None:
        with scope:
            await run_batcher(part, self.global_slots, self.start_send)

    def start_send(self, part: PartitionState, send: InFlightSend) -> None:
        assert self._task_group is not None
        assert self.sender is not None
        self._task_group.start_soon(self.sender.run, part, send)

    def release_global_slot(self) -> None:
        if self.global_slots is not None:
            self.global_slots.release()
