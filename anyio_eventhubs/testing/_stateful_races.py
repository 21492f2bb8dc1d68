"""The state machine's hostile rules: races and misbehaving handlers.

A mixin of :class:`~anyio_eventhubs.testing.stateful.StreamingProducerStateMachine`.
The machine's other rules let the event loop settle after every call, so the producer
is always observed at rest; these rules do not:

- ``queue_then_clear`` queues events and clears *without* letting the batchers run in
  between (events accepted while a batcher waits, then dropped at once);
- ``concurrent_clears`` runs several ``clear()`` calls at the same time, while sends are
  in flight: their counts must add up to the events reported cleared;
- ``mutate_handler_arguments`` makes the handlers change the ``args.events`` list they
  are given (empty it, append to it) after recording it;
- ``resend_storm`` makes a partition's sends fail without yielding while the failure
  handler resends each time: other tasks must still run between the attempts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio
from anyio.lowlevel import checkpoint

from .._exceptions import NotFoundError, ProducerClosedError
from ._stateful_model import EventLike, _growth

if TYPE_CHECKING:
    from .stateful import StreamingProducerStateMachine

__all__ = ["RaceRules"]


class RaceRules:
    """Rules that do not let the event loop settle between the calls they make.

    Each works on the machine it is given (the state machine holds one ``RaceRules``
    and its ``@rule`` methods call these).
    """

    def __init__(self, machine: StreamingProducerStateMachine) -> None:
        self.m = machine
        #: handler reports still to be answered by changing ``args.events``
        self.mutate_reports = 0

    def _grown_since(self, before: dict[str, int]) -> dict[str, int]:
        return _growth(before, self.m._accepted_totals())

    def mutate_events(self, events: Any) -> None:
        """Change a handler's ``args.events`` (called after the report was recorded)."""
        if self.mutate_reports <= 0:
            return
        self.mutate_reports -= 1
        if isinstance(events, list):
            if self.mutate_reports % 2:
                events.clear()
            else:
                events.append(b"<not an event>")

    async def _queue_then_clear_on_loop(
        self, events: list[tuple[EventLike, str | None, str | None]]
    ) -> tuple[list[tuple[int, dict[str, int]]], int]:
        m = self.m
        await m.settle()  # the batchers wait for events
        accepted = []
        for event, partition_id, partition_key in events:
            before = m._accepted_totals()
            try:
                ok = m.try_publish(
                    m.producer, event, partition_id=partition_id, partition_key=partition_key
                )
            except ProducerClosedError:
                ok = False
            grown = self._grown_since(before)
            accepted.append((int(ok), grown))
        dropped = await m.producer.clear()  # before any batcher ran
        await m.settle()
        return accepted, dropped

    def queue_then_clear(self, templates: list[EventLike], index: int | None) -> None:
        """Queue events and ``clear()`` at once, before the batchers wake."""
        m = self.m
        made = [m._make_event(t) for t in templates]
        route = None if index is None else index
        partition_id, partition_key = m._route(route)
        cleared_before = m.model.cleared
        accepted, dropped = m.portal.call(
            self._queue_then_clear_on_loop,
            [(event, partition_id, partition_key) for event, _ in made],
        )
        for (ok, grown), (event, body) in zip(accepted, made, strict=True):
            if ok:
                m._record_acceptance(grown, body, event, partition_id, partition_key)
        m.sync_model()
        assert dropped == m.model.cleared - cleared_before, (
            f"clear() returned {dropped}; {m.model.cleared - cleared_before} events "
            "were reported cleared"
        )
        m.check_all_resolved(after="queue then clear()")

    async def _concurrent_clears_on_loop(self, count: int) -> list[int]:
        m = self.m
        counts: list[int] = []

        async def clear() -> None:
            counts.append(await m.producer.clear())

        async with anyio.create_task_group() as tg:
            for _ in range(count):
                tg.start_soon(clear)
        await m.settle()
        return counts

    def concurrent_clears(self, count: int) -> None:
        """Several ``clear()`` calls at once: each event is counted by exactly one."""
        m = self.m
        cleared_before = m.model.cleared
        counts = m.portal.call(self._concurrent_clears_on_loop, count)
        m.sync_model()
        assert sum(counts) == m.model.cleared - cleared_before, (
            f"concurrent clear() calls returned {counts}; "
            f"{m.model.cleared - cleared_before} events were reported cleared"
        )
        m.check_all_resolved(after="concurrent clear() calls")

    def mutate_handler_arguments(self, count: int) -> None:
        """The handlers change the ``args.events`` list of the next *count* reports."""
        self.mutate_reports += count

    async def _resend_storm_on_loop(self, pid: str, event: EventLike, failures: int) -> set[int]:
        m = self.m
        m.hub.fail_next_sends(failures, error=NotFoundError, partition_id=pid)
        m.resend_budget += failures
        await m.publish(m.producer, event, partition_id=pid, partition_key=None)
        seen: set[int] = set()
        done = anyio.Event()

        async def flush() -> None:
            await m.producer.flush()
            done.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(flush)
            for _ in range(m.settle_limit):  # runs only when the resend loop yields
                seen.add(sum(1 for r in m._reports if r.kind == "failed" and r.partition_id == pid))
                if done.is_set():
                    break
                await checkpoint()
            else:
                tg.cancel_scope.cancel()
                raise AssertionError(f"flush() did not return in {m.settle_limit} yields")
        await m.settle()
        return seen

    def resend_storm(self, index: int, failures: int) -> None:
        """Sends that fail without yielding, each resent by the handler: others still run."""
        m = self.m
        pids = m.model.partition_ids
        pid = pids[index % len(pids)]
        if m.is_full(pid):
            return  # queue_for_send would wait: not this rule's subject
        m.resend_budget = 0
        event, body = m._make_event(b"storm")
        before = m.portal.call(m._accepted_totals)
        seen = m.portal.call(self._resend_storm_on_loop, pid, event, failures)
        grown = m.portal.call(self._grown_since, before)
        m._record_acceptance(grown, body, event, pid, None)
        m.sync_model()
        m.check_all_resolved(after="a resend storm")
        # each attempt is a checkpoint, so this task saw every count in between; a
        # resend loop that never yields shows only the first and the last
        assert max(seen) - min(seen) < 2 or len(seen) > 2, (
            f"{failures} failed attempts and resends ran without letting another task run "
            f"(it saw only the report counts {sorted(seen)})"
        )
