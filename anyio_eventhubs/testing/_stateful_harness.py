"""The state machine's view of the producer: its hooks, its handlers, publishing on the
loop, and keeping the model in step with what it observes.

A base class of :class:`~anyio_eventhubs.testing.stateful.StreamingProducerStateMachine`
(its rules are in ``_stateful_rules``; its configuration, ``__init__`` and teardown in
``stateful``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, ClassVar

import anyio
from azure.eventhub import EventData

from .._events import PublishFailedEventArgs, PublishSucceededEventArgs
from .._exceptions import EventClearedError
from .._open import open_streaming_producer
from .._partitioning import partition_for_key
from .._producer import StreamingProducer
from ._memory import InMemoryEventHub
from ._stateful_loop import LoopDriver
from ._stateful_model import (
    EventLike,
    Observation,
    ProducerModel,
    Report,
    _Attempt,
    _growth,
    body_bytes,
)

if TYPE_CHECKING:
    from ._stateful_races import RaceRules

__all__ = ["ProducerHarness"]


class ProducerHarness(LoopDriver):
    """The hooks, and everything the rules use to drive and observe the producer."""

    partition_count: ClassVar[int]
    max_message_size: ClassVar[int]
    max_queued_events: ClassVar[int]
    check_event_identity: ClassVar[bool]
    hub: InMemoryEventHub
    producer: StreamingProducer
    model: ProducerModel
    races: RaceRules
    #: how many more failure reports the default handler answers with force_resend()
    resend_budget: int
    _counter: int
    _reports: list[Report]
    _anomalies: list[str]
    #: partitions whose sends may be held (a superset: since the last release)
    _held: frozenset[str] | None
    #: whether a call still waiting once the loop settled can only wait on held sends
    _strict_liveness: bool

    # -- hooks ---------------------------------------------------------------------------

    def make_hub(self) -> InMemoryEventHub:
        """Make the hub (called on the event loop)."""
        return InMemoryEventHub(self.partition_count, max_message_size=self.max_message_size)

    def producer_options(self) -> dict[str, Any]:
        """Extra keyword arguments for :meth:`open_producer` (they override the defaults).

        Keep ``max_concurrent_sends_per_partition=1``: the ordering check relies on it.
        """
        return {}

    def open_producer(
        self, hub: InMemoryEventHub, **options: Any
    ) -> AbstractAsyncContextManager[StreamingProducer]:
        """Return the async context manager that opens the producer under test.

        :param options: the handlers (``on_publish_succeeded``, ``on_publish_failed``:
            pass them on, the model is fed by them) and the producer's options.
        """
        return open_streaming_producer(transport=hub, **options)

    async def publish(
        self,
        producer: StreamingProducer,
        event: EventLike,
        *,
        partition_id: str | None,
        partition_key: str | None,
    ) -> None:
        """Publish one event: the code under test. Returning means it was accepted."""
        await producer.queue_for_send(event, partition_id=partition_id, partition_key=partition_key)

    def try_publish(
        self,
        producer: StreamingProducer,
        event: EventLike,
        *,
        partition_id: str | None,
        partition_key: str | None,
    ) -> bool:
        """Publish one event without waiting; return whether it was accepted."""
        return producer.try_queue_for_send(
            event, partition_id=partition_id, partition_key=partition_key
        )

    def should_force_resend(self, args: PublishFailedEventArgs) -> bool:
        """Whether the failure handler calls ``args.force_resend()`` (runs on the loop).

        The default answers yes while :attr:`resend_budget` (raised by a rule) lasts, for
        failures that can be resent (not cleared ones).
        """
        if isinstance(args.exception, EventClearedError) or self.resend_budget <= 0:
            return False
        self.resend_budget -= 1
        return True

    def body_of(self, event: object) -> bytes:
        """The body of *event*, as queued or as the hub returns it (the model's key)."""
        if isinstance(event, bytes):
            return event
        if isinstance(event, str):
            return event.encode("utf-8")
        if isinstance(event, EventData):
            return body_bytes(event)
        raise TypeError(f"not an event: {event!r}")

    # -- on the event loop ---------------------------------------------------------------

    def _make_hub_on_loop(self) -> InMemoryEventHub:
        return self.make_hub()

    def _on_published(self, args: PublishSucceededEventArgs) -> None:
        self._reports.append(Report("published", args.partition_id, tuple(args.events)))
        self.races.mutate_events(args.events)

    def _on_failed(self, args: PublishFailedEventArgs) -> None:
        events = tuple(args.events)
        self.races.mutate_events(args.events)  # before force_resend(): the resend must not care
        resent = False
        if isinstance(args.exception, EventClearedError):
            try:
                args.force_resend()
            except RuntimeError:
                pass
            else:
                resent = True
                self._anomalies.append(f"force_resend() was accepted for cleared events: {args!r}")
        elif self.should_force_resend(args):
            try:
                args.force_resend()
            except RuntimeError as exc:
                self._anomalies.append(f"force_resend() refused in the handler: {args!r}: {exc}")
            else:
                resent = True
        self._reports.append(Report("failed", args.partition_id, events, args.exception, resent))

    def _accepted_totals(self) -> dict[str, int]:
        # what a partition ever accepted: queued + in flight + published + failed only
        # grows when an event is accepted
        return {
            pid: p.queued + p.in_flight + p.published + p.failed
            for pid, p in self.producer.statistics().partitions.items()
        }

    def is_full(self, partition_id: str) -> bool:
        """Whether ``queue_for_send`` would wait for *partition_id*: ``max_queued_events``
        of its events wait behind its (full) head batch, or it holds ``max_queued_events``
        ``EventData`` without an outcome. The producer's own counts: the model does not
        cut batches."""
        return not self.producer._parts[partition_id].has_room(self.max_queued_events)

    def _full_held_partition(self) -> bool:
        if self._held is None:
            return False
        return any(self.is_full(pid) for pid in self._held)

    async def _run_until_settled(
        self, call: Callable[[], Awaitable[object]]
    ) -> tuple[Exception | None, bool, bool, dict[str, int]]:
        """Run *call* on the loop; if it still waits once the loop settled, cancel it.

        Returns its error, whether it was cancelled, whether a held partition was full
        when it was, and how the accepted counts grew.
        """
        before = self._accepted_totals()
        outcome: list[Exception | None] = []
        scope = anyio.CancelScope()

        async def attempt() -> None:
            with scope:
                try:
                    await call()
                except Exception as exc:
                    outcome.append(exc)
                else:
                    outcome.append(None)

        full_held = False
        async with anyio.create_task_group() as tg:
            tg.start_soon(attempt)
            await self.settle()
            if not outcome:
                full_held = self._full_held_partition()
                scope.cancel()
        await self.settle()
        grown = _growth(before, self._accepted_totals())
        return (outcome[0] if outcome else None), not outcome, full_held, grown

    async def _publish_on_loop(
        self, event: EventLike, partition_id: str | None, partition_key: str | None
    ) -> _Attempt:
        """Publish; if it still waits for room once the loop settled, cancel it."""
        error, cancelled, full_held, grown = await self._run_until_settled(
            lambda: self.publish(
                self.producer, event, partition_id=partition_id, partition_key=partition_key
            )
        )
        return _Attempt(grown, error, cancelled=cancelled, full_held=full_held)

    async def _try_publish_on_loop(
        self, event: EventLike, partition_id: str | None, partition_key: str | None
    ) -> tuple[bool | Exception, dict[str, int], frozenset[str]]:
        """``try_queue_for_send`` on the loop; return its result, how the partitions
        grew, and which partitions were full when it was called (read in the same
        step: once the loop settles, outcomes may have made room again)."""
        before = self._accepted_totals()
        full = frozenset(pid for pid in self.model.partition_ids if self.is_full(pid))
        result: bool | Exception
        try:
            result = self.try_publish(
                self.producer, event, partition_id=partition_id, partition_key=partition_key
            )
        except Exception as exc:
            result = exc
        await self.settle()
        return result, _growth(before, self._accepted_totals()), full

    async def _observe_on_loop(self) -> Observation:
        await self.settle()
        reports, self._reports = self._reports, []
        anomalies, self._anomalies = self._anomalies, []
        pids = self.model.partition_ids
        return Observation(
            total_queued=self.producer.total_queued_event_count,
            repr=repr(self.producer),
            queued={pid: self.producer.get_partition_queued_event_count(pid) for pid in pids},
            statistics=self.producer.statistics(),
            is_closed=self.producer.is_closed,
            hub_counts={pid: self.hub.published_count(pid) for pid in pids},
            sends_in_flight=self.hub.sends_in_flight,
            reports=reports,
            anomalies=anomalies,
        )

    # -- model upkeep (test thread) -------------------------------------------------------

    def _make_event(self, template: EventLike) -> tuple[EventLike, bytes]:
        """A new event with a unique body: a tag, then the template's body."""
        self._counter += 1
        tag = f"<{self._counter:05d}>"
        event: EventLike
        if isinstance(template, bytes):
            event = tag.encode() + template
        elif isinstance(template, str):
            event = tag + template
        else:
            event = EventData(tag.encode() + body_bytes(template))
            if template.properties:
                event.properties = template.properties
            if template.content_type is not None:
                event.content_type = template.content_type
        return event, self.body_of(event)

    def _route(self, route: int | str | None) -> tuple[str | None, str | None]:
        if route is None:
            return None, None
        if isinstance(route, int):
            pids = self.model.partition_ids
            return pids[route % len(pids)], None
        return None, route

    def _expected_partition(
        self, partition_id: str | None, partition_key: str | None
    ) -> str | None:
        if partition_id is not None:
            return partition_id
        if partition_key is not None:
            return partition_for_key(partition_key, self.model.partition_ids)
        return None

    def _record_acceptance(
        self,
        grown: dict[str, int],
        body: bytes,
        event: EventLike,
        partition_id: str | None,
        partition_key: str | None,
    ) -> None:
        changed = {pid: n for pid, n in grown.items() if n}
        assert list(changed.values()) == [1], (
            f"publishing returned (accepted) but the producer's partitions grew by {changed}"
        )
        (pid,) = changed
        expected = self._expected_partition(partition_id, partition_key)
        assert expected in (None, pid), f"the event went to partition {pid!r}, not {expected!r}"
        self.model.accept(body, event, pid)

    def sync_model(self) -> Observation:
        """Observe the producer, feed the handler reports to the model, check the counts."""
        obs: Observation = self.portal.call(self._observe_on_loop)
        assert not obs.anomalies, obs.anomalies
        for report in obs.reports:
            self.model.apply(
                report,
                [self.body_of(e) for e in report.events],
                check_identity=self.check_event_identity,
            )
        self._check_counts(obs)
        return obs

    def _check_counts(self, obs: Observation) -> None:
        model = self.model
        assert obs.total_queued == model.outstanding(), (
            f"total_queued_event_count is {obs.total_queued}; the model has "
            f"{model.outstanding()} accepted events without a final outcome"
        )
        for pid in model.partition_ids:
            assert obs.queued[pid] == model.outstanding(pid), (
                f"partition {pid!r}: get_partition_queued_event_count() is {obs.queued[pid]}, "
                f"the model has {model.outstanding(pid)} events without a final outcome"
            )
            stats = obs.statistics.partitions[pid]
            assert stats.queued + stats.in_flight == obs.queued[pid], stats
            assert stats.published == len(model.published[pid]), (stats, model.published[pid])
            assert stats.failed == model.failed_count[pid], (stats, model.failed_count[pid])
            assert stats.batches_published == model.batches_published[pid], stats
            assert stats.batches_failed == model.batches_failed[pid], stats
            assert obs.hub_counts[pid] == len(model.published[pid]), (
                f"partition {pid!r}: the hub stored {obs.hub_counts[pid]} events, "
                f"{len(model.published[pid])} were reported published"
            )
        assert obs.statistics.queued + obs.statistics.in_flight == obs.total_queued
        assert obs.is_closed == model.closed, f"is_closed is {obs.is_closed}"

    def check_all_resolved(self, below: int | None = None, *, after: str) -> None:
        """Assert that every event accepted (before sequence *below*) has a final outcome."""
        missing = self.model.unresolved_below(self.model.next_seq if below is None else below)
        assert not missing, (
            f"after {after}, {len(missing)} accepted event(s) have no final outcome: "
            f"{[m.body for m in missing[:5]]}"
        )

    def check_hub_contents(self) -> None:
        """Assert the hub holds, per partition, exactly the events reported published."""
        stored: dict[str, list[bytes]] = self.portal.call(self._hub_bodies_on_loop)
        for pid in self.model.partition_ids:
            assert stored[pid] == self.model.published[pid], (
                f"partition {pid!r}: the hub holds {stored[pid]}, "
                f"reported published in order: {self.model.published[pid]}"
            )

    def _hub_bodies_on_loop(self) -> dict[str, list[bytes]]:
        return {
            pid: [self.body_of(e) for e in self.hub.published_events(pid)]
            for pid in self.model.partition_ids
        }

    def _hold(self, partition_ids: Iterable[str] | None) -> None:
        everything = frozenset(self.model.partition_ids)
        wanted = everything if partition_ids is None else frozenset(partition_ids)
        held = wanted if self._held is None else self._held | wanted
        # a send already waiting keeps waiting until release_sends(): hold the union
        self.run_on_loop(self.hub.hold_sends, None if held == everything else sorted(held))
        self._held = held

    def _release(self) -> None:
        self.run_on_loop(self.hub.release_sends)
        self._held = None
