"""A reusable Hypothesis state machine for a streaming producer.

:class:`StreamingProducerStateMachine` opens a real producer on an
:class:`~anyio_eventhubs.testing.InMemoryEventHub`, in an event loop of its own (a
blocking portal, ``anyio.from_thread.start_blocking_portal``), and drives it from
Hypothesis' synchronous rules: queue events (by partition id, by key, round robin;
``bytes``, ``str`` or ``EventData``), ``try_queue_for_send``, flush, clear, close, inject
transient and permanent faults, hold sends and release them, cancel a
``queue_for_send`` that waits for room and a ``flush()`` that waits for held sends, and
call ``force_resend()`` from the failure handler; and, without letting the loop settle
in between, queue then clear at once, clear concurrently, change the handlers'
``args.events`` lists and resend sends that fail without yielding (the hostile rules of
``_stateful_races``). After every step it compares the
producer with a plain-data model (:class:`ProducerModel`):

- every accepted event gets at most one final outcome (a success, or a failure whose
  handler did not call ``force_resend()``), and, after each flush, clear and close,
  exactly one;
- per partition, events are published in queue order (ordering is on:
  ``max_concurrent_sends_per_partition=1``), and the hub holds exactly the events
  reported published;
- ``total_queued_event_count``, the per-partition counts and ``statistics()`` equal the
  model's accepted-minus-final counts;
- a cancelled ``queue_for_send`` changed nothing, a cancelled ``flush()`` lost nothing;
- after close, ``is_closed`` is true, nothing is queued or in flight, and no task the
  producer started is left.

Importing this module imports Hypothesis (not a dependency of anyio-eventhubs).

Run it as it is, on the backend of your choice::

    from anyio_eventhubs.testing.stateful import StreamingProducerStateMachine

    class TrioProducerMachine(StreamingProducerStateMachine):
        backend = "trio"

    TestTrioProducer = TrioProducerMachine.TestCase

or plug your own publishing code into it, by overriding the hooks
(:meth:`~StreamingProducerStateMachine.open_producer`,
:meth:`~StreamingProducerStateMachine.publish`,
:meth:`~StreamingProducerStateMachine.try_publish`,
:meth:`~StreamingProducerStateMachine.should_force_resend`,
:meth:`~StreamingProducerStateMachine.body_of`)::

    class MyPublisherMachine(StreamingProducerStateMachine):
        async def publish(self, producer, event, *, partition_id, partition_key):
            await my_app.publish(producer, event, partition_id=partition_id,
                                 partition_key=partition_key)

The events the machine makes have unique bodies (a ``<00042>`` tag in front of a
drawn payload): the model follows them by body, so a hook that rewrites events must
keep the body, or override :meth:`~StreamingProducerStateMachine.body_of`.

Each example is fast: nothing waits on real time (by default ``max_wait_time=None`` and
retries without delay; or, on Trio, virtual time with a frozen ``MockClock``, see
:meth:`~StreamingProducerStateMachine.make_backend_options`), and the machine lets the
event loop settle (every task blocked) after each step instead of sleeping. Hypothesis
makes a fresh machine, with its own event loop thread, hub and producer, per example.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import sys
from collections.abc import Iterable
from concurrent.futures import Future
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from typing import Any, ClassVar

import anyio
from anyio.from_thread import BlockingPortal, start_blocking_portal
from azure.eventhub import EventData
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from .._events import PublishFailedEventArgs, PublishSucceededEventArgs
from .._exceptions import (
    AuthenticationError,
    ConnectionLostError,
    EventClearedError,
    MessageTooLargeError,
    NotFoundError,
    OperationTimeoutError,
    ProducerClosedError,
    ServerBusyError,
    ThrottledError,
    TransportError,
)
from .._open import open_streaming_producer
from .._partitioning import partition_for_key
from .._producer import StreamingProducer
from .._retry import RetryOptions
from ._memory import InMemoryEventHub
from ._stateful_model import (
    EventLike,
    Observation,
    ProducerModel,
    Report,
    _Attempt,
    _growth,
    _is_blocked,
    body_bytes,
)
from ._stateful_races import RaceRules
from .strategies import event_bodies, event_properties, events, partition_keys

__all__ = [
    "Observation",
    "ProducerModel",
    "Report",
    "StreamingProducerStateMachine",
    "body_bytes",
]

_TRANSIENT_ERRORS: tuple[type[TransportError], ...] = (
    ServerBusyError,
    ThrottledError,
    ConnectionLostError,
    OperationTimeoutError,
)
_PERMANENT_ERRORS: tuple[type[TransportError], ...] = (
    NotFoundError,
    AuthenticationError,
    MessageTooLargeError,
)

# rule arguments: a partition is drawn as an index, reduced modulo the partition count
# at run time (subclasses choose the count)
_indices = st.integers(min_value=0, max_value=1023)
#: a route: round robin (None), a partition index, or a partition key
_routes: st.SearchStrategy[int | str | None] = st.one_of(st.none(), _indices, partition_keys())
_templates = events(
    bodies=event_bodies(max_size=24), properties=event_properties(max_entries=2, max_size=8)
)


class StreamingProducerStateMachine(RuleBasedStateMachine):
    """Drive a streaming producer on an in-memory hub and check it against a model.

    Configure a subclass with the class attributes; plug your own publishing code in
    with the hooks. Hypothesis makes a fresh machine (event loop thread, hub and
    producer) for each example; :meth:`teardown` closes them.
    """

    #: the AnyIO backend the producer runs on: ``"asyncio"`` or ``"trio"``
    backend: ClassVar[str] = "asyncio"
    #: options for the backend (as ``anyio.run`` takes them)
    backend_options: ClassVar[dict[str, Any] | None] = None
    #: the in-memory hub's partitions
    partition_count: ClassVar[int] = 3
    #: the in-memory hub's largest batch, in bytes (small: batches fill up)
    max_message_size: ClassVar[int] = 600
    #: the producer's ``max_queued_events`` (small: queue_for_send waits for room)
    max_queued_events: ClassVar[int] = 6
    #: the producer's retry policy (retries without delay: nothing waits on real time)
    retry_options: ClassVar[RetryOptions] = RetryOptions(max_retries=2, delay=0, jitter=0)
    #: the producer's ``max_wait_time`` (``None``: batches go when full or flushed)
    max_wait_time: ClassVar[float | None] = None
    #: check that handlers receive the very objects that were queued
    check_event_identity: ClassVar[bool] = True
    #: give up letting the asyncio event loop settle after this many loop iterations
    settle_limit: ClassVar[int] = 100_000
    #: with a frozen Trio ``MockClock``: how far to jump the clock at a time while
    #: waiting for ``flush()`` or ``aclose()``, and how many jumps at most
    clock_step: ClassVar[float] = 0.5
    max_clock_steps: ClassVar[int] = 1000

    def __init__(self) -> None:
        super().__init__()
        self._counter = 0
        self._reports: list[Report] = []
        self._anomalies: list[str] = []
        #: how many more failure reports the default handler answers with force_resend()
        self.resend_budget = 0
        #: partitions whose sends may be held (a superset: since the last release)
        self._held: frozenset[str] | None = None
        self.races = RaceRules(self)
        self._producer_cm: AbstractContextManager[StreamingProducer] | None = None
        self._portal_cm: AbstractContextManager[BlockingPortal] | None = start_blocking_portal(
            self.backend, self.make_backend_options()
        )
        self.portal = self._portal_cm.__enter__()
        try:
            self.hub = self.portal.call(self._make_hub_on_loop)
            #: the event loop's clock, when it is a frozen Trio MockClock the rules move
            self.clock: Any = self.portal.call(self._find_frozen_clock)
            self.model = ProducerModel(tuple(self.hub.partition_ids))
            self._baseline_tasks = self.portal.call(self._count_tasks)
            options: dict[str, Any] = {
                "on_publish_succeeded": self._on_published,
                "on_publish_failed": self._on_failed,
                "max_wait_time": self.max_wait_time,
                "max_queued_events": self.max_queued_events,
                "max_concurrent_sends_per_partition": 1,
                "retry_options": self.retry_options,
                "close_timeout": 5.0,
            }
            options.update(self.producer_options())
            # whether a call still waiting once the loop settled can only be waiting on
            # held sends (no back-off sleeps, no global send limit starving a partition)
            self._strict_liveness = (
                self.retry_options.delay == 0 and options.get("max_concurrent_sends") is None
            )
            self._producer_cm = self.portal.wrap_async_context_manager(
                self.open_producer(self.hub, **options)
            )
            self.producer = self._producer_cm.__enter__()
        except BaseException:
            self._close_portal(sys.exception())
            raise

    # -- hooks ---------------------------------------------------------------------------

    def make_backend_options(self) -> dict[str, Any] | None:
        """The backend options for this example's event loop (default: :attr:`backend_options`).

        Override it for a fresh object per example. On Trio, a frozen
        ``trio.testing.MockClock()`` (rate 0, no autojump) puts the producer on virtual
        time that only the ``advance_clock`` rule (and waiting for ``flush()`` or
        ``aclose()``) moves: ``max_wait_time`` deadlines, retry back-offs and
        ``try_timeout`` then run deterministically.
        """
        return self.backend_options

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

    # -- running on the event loop ---------------------------------------------------------

    def _make_hub_on_loop(self) -> InMemoryEventHub:
        return self.make_hub()

    def _find_frozen_clock(self) -> Any:
        if self.backend != "trio":
            return None
        import trio.testing  # only on the trio backend

        clock = trio.lowlevel.current_clock()
        if (
            isinstance(clock, trio.testing.MockClock)
            and clock.rate == 0
            and clock.autojump_threshold == math.inf
        ):
            return clock
        return None

    async def _finish_on_loop(self, func: Any, *args: Any) -> Any:
        """Await ``func(*args)``; on a frozen clock, jump it while that waits on time."""
        result: list[Any] = []

        async def run() -> None:
            result.append(await func(*args))

        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            await self.settle()
            steps = 0
            while not result and self.clock is not None:
                assert steps < self.max_clock_steps, (
                    f"{func!r} did not return within {steps} jumps of the clock"
                )
                self.clock.jump(self.clock_step)
                steps += 1
                await self.settle()
        await self.settle()
        return result[0]

    def finish_on_loop(self, func: Any, *args: Any) -> Any:
        """Call the async *func* on the event loop until it returns (moving a frozen clock)."""
        return self.portal.call(self._finish_on_loop, func, *args)

    def _wait_future(self, future: Future[Any]) -> Any:
        """Wait for a task started with ``portal.start_task_soon`` (moving a frozen clock)."""
        self.portal.call(self.settle)
        steps = 0
        while not future.done() and self.clock is not None:
            assert steps < self.max_clock_steps, f"a task did not finish in {steps} clock jumps"
            self.run_on_loop(self.clock.jump, self.clock_step)
            steps += 1
        return future.result()

    async def settle(self) -> None:
        """Return once every other task of the event loop is blocked.

        On Trio this is ``anyio.wait_all_tasks_blocked()``; on asyncio, anyio's version
        sleeps 0.1 s whenever a task is runnable, so this polls at each loop iteration.
        """
        if self.backend == "trio":
            await anyio.wait_all_tasks_blocked()
            return
        this = asyncio.current_task()
        for _ in range(self.settle_limit):
            await asyncio.sleep(0)
            if all(task is this or _is_blocked(task) for task in asyncio.all_tasks()):
                return
        raise AssertionError(f"the event loop did not settle in {self.settle_limit} iterations")

    def _count_tasks(self) -> int:
        if self.backend == "trio":
            import trio  # only on the trio backend

            def count(task: trio.lowlevel.Task) -> int:
                children = [c for nursery in task.child_nurseries for c in nursery.child_tasks]
                return 1 + sum(count(child) for child in children)

            root = trio.lowlevel.current_root_task()
            assert root is not None
            return count(root)
        return len(asyncio.all_tasks())

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

    def _full_held_partition(self) -> bool:
        if self._held is None:
            return False
        return any(
            self.producer.get_partition_queued_event_count(pid) >= self.max_queued_events
            for pid in self._held
        )

    async def _publish_on_loop(
        self, event: EventLike, partition_id: str | None, partition_key: str | None
    ) -> _Attempt:
        """Publish; if it still waits for room once the loop settled, cancel it."""
        before = self._accepted_totals()
        outcome: list[Exception | None] = []
        scope = anyio.CancelScope()

        async def attempt() -> None:
            with scope:
                try:
                    await self.publish(
                        self.producer, event, partition_id=partition_id, partition_key=partition_key
                    )
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
        return _Attempt(
            _growth(before, self._accepted_totals()),
            outcome[0] if outcome else None,
            cancelled=not outcome,
            full_held=full_held,
        )

    async def _try_publish_on_loop(
        self, event: EventLike, partition_id: str | None, partition_key: str | None
    ) -> tuple[bool | Exception, dict[str, int]]:
        before = self._accepted_totals()
        result: bool | Exception
        try:
            result = self.try_publish(
                self.producer, event, partition_id=partition_id, partition_key=partition_key
            )
        except Exception as exc:
            result = exc
        await self.settle()
        return result, _growth(before, self._accepted_totals())

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

    async def _call_and_settle(self, func: Any, *args: Any) -> Any:
        result = func(*args)
        if inspect.isawaitable(result):
            result = await result
        await self.settle()
        return result

    def run_on_loop(self, func: Any, *args: Any) -> Any:
        """Call *func* (sync or async) on the event loop, let the loop settle, return."""
        return self.portal.call(self._call_and_settle, func, *args)

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

    # -- rules ---------------------------------------------------------------------------

    def _queue_one(self, template: EventLike, route: int | str | None) -> _Attempt:
        event, body = self._make_event(template)
        partition_id, partition_key = self._route(route)
        attempt: _Attempt = self.portal.call(
            self._publish_on_loop, event, partition_id, partition_key
        )
        if attempt.error is not None:
            if isinstance(attempt.error, ProducerClosedError) and self.model.closed:
                assert not any(attempt.grown.values()), attempt.grown
                return attempt
            raise attempt.error
        assert not self.model.closed, "publishing was accepted by a closed producer"
        if attempt.cancelled:
            assert not any(attempt.grown.values()), (
                f"a cancelled queue_for_send changed the producer: {attempt.grown}"
            )
            if self._strict_liveness:
                assert attempt.full_held, (
                    "queue_for_send waited although no held partition was full"
                )
            return attempt
        self._record_acceptance(attempt.grown, body, event, partition_id, partition_key)
        return attempt

    @rule(template=_templates, route=_routes)
    def queue_event(self, template: EventLike, route: int | str | None) -> None:
        """``queue_for_send`` one event (cancelled if it still waits once the loop settled)."""
        self._queue_one(template, route)

    @rule(templates=st.lists(_templates, min_size=2, max_size=12), route=_routes)
    def queue_events(self, templates: list[EventLike], route: int | str | None) -> None:
        """``queue_for_send`` several events, one after the other, on one route."""
        for template in templates:
            self._queue_one(template, route)

    @rule(template=_templates, route=_routes)
    def try_queue_event(self, template: EventLike, route: int | str | None) -> None:
        """``try_queue_for_send`` one event."""
        event, body = self._make_event(template)
        partition_id, partition_key = self._route(route)
        result, grown = self.portal.call(
            self._try_publish_on_loop, event, partition_id, partition_key
        )
        if isinstance(result, Exception):
            if isinstance(result, ProducerClosedError) and self.model.closed:
                return
            raise result
        assert not self.model.closed, "try_queue_for_send accepted an event after close"
        if result:
            self._record_acceptance(grown, body, event, partition_id, partition_key)
            return
        assert not any(grown.values()), f"a refused event changed the producer: {grown}"
        expected = self._expected_partition(partition_id, partition_key)
        candidates = self.model.partition_ids if expected is None else (expected,)
        assert any(self.model.outstanding(p) >= self.max_queued_events for p in candidates), (
            f"try_queue_for_send refused an event although {candidates} had room"
        )

    def _fill_held_partition(self, index: int, template: EventLike) -> str:
        """Hold a partition's sends and fill it to ``max_queued_events``; return its id."""
        pid = self.model.partition_ids[index % len(self.model.partition_ids)]
        self._hold([pid])
        self.sync_model()
        for _ in range(self.max_queued_events + 1):
            event, body = self._make_event(template)
            result, grown = self.portal.call(self._try_publish_on_loop, event, pid, None)
            if isinstance(result, Exception):
                raise result
            if not result:
                break
            self._record_acceptance(grown, body, event, pid, None)
        assert self.model.outstanding(pid) >= self.max_queued_events, (
            "try_queue_for_send refused an event before its partition was full"
        )
        return pid

    def _start_waiting_publish(self, pid: str, template: EventLike) -> Future[None]:
        event, _ = self._make_event(template)
        future = self.portal.start_task_soon(self._publish_to, event, pid)
        self.portal.call(self.settle)
        assert not future.done(), (
            f"queue_for_send returned although partition {pid!r} was full and its "
            f"sends held: {future.exception() or 'accepted'}"
        )
        return future

    @precondition(lambda self: not self.model.closed)
    @rule(index=_indices, template=_templates)
    def cancel_queue_for_send_waiting_for_room(self, index: int, template: EventLike) -> None:
        """Fill a partition while its sends are held, then cancel a waiting queue_for_send."""
        pid = self._fill_held_partition(index, template)
        before = self.portal.call(self._accepted_totals)
        future = self._start_waiting_publish(pid, template)
        assert future.cancel()
        self.portal.call(self.settle)
        after = self.portal.call(self._accepted_totals)
        assert after == before, (
            f"a cancelled queue_for_send changed the producer: {before} -> {after}"
        )

    @precondition(lambda self: not self.model.closed and self.model.next_seq >= 40)
    @rule(index=_indices, template=_templates)
    def close_while_queue_for_send_waits(self, index: int, template: EventLike) -> None:
        """Close while a queue_for_send waits for room: it raises ProducerClosedError."""
        pid = self._fill_held_partition(index, template)
        before = self.portal.call(self._accepted_totals)
        waiter = self._start_waiting_publish(pid, template)
        closer = self.portal.start_task_soon(self.producer.aclose)
        self.portal.call(self.settle)
        assert waiter.done(), "queue_for_send still waits for room after aclose() began"
        assert isinstance(waiter.exception(), ProducerClosedError), waiter.exception()
        assert self.portal.call(self._accepted_totals) == before
        assert not closer.done(), "aclose() returned although sends were held"
        self._release()
        if self._strict_liveness and self.clock is None:
            assert closer.done(), "aclose() still waits after the held sends were released"
        self._wait_future(closer)
        self.model.closed = True
        self.sync_model()
        self.check_all_resolved(after="aclose()")
        self.check_hub_contents()

    async def _publish_to(self, event: EventLike, partition_id: str) -> None:
        await self.publish(self.producer, event, partition_id=partition_id, partition_key=None)

    @rule()
    def flush(self) -> None:
        """Release held sends, then ``flush()``: every event accepted before has its outcome."""
        self._release()
        target = self.model.next_seq
        self.finish_on_loop(self.producer.flush)
        self.sync_model()
        self.check_all_resolved(target, after="flush()")
        self.check_hub_contents()

    @rule()
    def cancel_flush(self) -> None:
        """Start ``flush()`` and cancel it once the loop settled: nothing is lost."""
        before = self.portal.call(self._accepted_totals)
        future = self.portal.start_task_soon(self.producer.flush)
        self.portal.call(self.settle)
        if future.cancel():
            self.portal.call(self.settle)
            if self._strict_liveness:
                held = self._held or frozenset()
                assert any(self.model.outstanding(pid) for pid in held), (
                    "flush() was still waiting although no held partition had events"
                )
        else:
            future.result()  # it finished: it must not have raised
        assert self.portal.call(self._accepted_totals) == before

    @rule()
    def clear(self) -> None:
        """``clear()``: everything outstanding is reported cleared, and counted."""
        cleared_before = self.model.cleared
        dropped = self.run_on_loop(self.producer.clear)
        self.sync_model()
        assert dropped == self.model.cleared - cleared_before, (
            f"clear() returned {dropped}; {self.model.cleared - cleared_before} events "
            "were reported cleared"
        )
        self.check_all_resolved(after="clear()")

    @rule(
        count=st.integers(min_value=1, max_value=4),
        error=st.sampled_from(_TRANSIENT_ERRORS + _PERMANENT_ERRORS),
        index=st.none() | _indices,
    )
    def fail_next_sends(self, count: int, error: type[TransportError], index: int | None) -> None:
        """Make the next *count* sends (to one partition, or any) fail with *error*."""
        pids = self.model.partition_ids
        pid = None if index is None else pids[index % len(pids)]
        self.portal.call(lambda: self.hub.fail_next_sends(count, error=error, partition_id=pid))

    @rule(indices=st.none() | st.lists(_indices, min_size=1, max_size=3))
    def hold_sends(self, indices: list[int] | None) -> None:
        """Make sends (to some partitions, or all) hang until released."""
        pids = self.model.partition_ids
        self._hold(None if indices is None else [pids[i % len(pids)] for i in indices])

    @precondition(lambda self: self._held is not None)
    @rule()
    def release_sends(self) -> None:
        """Let held sends complete."""
        self._release()

    def _release(self) -> None:
        self.run_on_loop(self.hub.release_sends)
        self._held = None

    @precondition(lambda self: self.clock is not None)
    @rule(seconds=st.sampled_from([0.001, 0.01, 0.1, 0.25, 0.5, 1.0, 5.0, 60.0]))
    def advance_clock(self, seconds: float) -> None:
        """Jump the frozen clock: batch deadlines, back-offs and attempt timeouts pass."""
        self.run_on_loop(self.clock.jump, seconds)

    @rule(count=st.integers(min_value=1, max_value=3))
    def allow_force_resends(self, count: int) -> None:
        """Let the failure handler call ``force_resend()`` for the next *count* failures."""
        self.resend_budget += count

    @precondition(lambda self: self.model.next_seq >= 40)
    @rule()
    def close(self) -> None:
        """Release held sends, then ``aclose()`` (idempotent): every event has its outcome."""
        self._release()
        self.finish_on_loop(self.producer.aclose)
        self.model.closed = True
        self.sync_model()
        self.check_all_resolved(after="aclose()")
        self.check_hub_contents()

    # -- hostile rules: no settling in between (``_stateful_races``) ---------------------

    @precondition(lambda self: not self.model.closed)
    @rule(templates=st.lists(st.just(b"race"), min_size=1, max_size=8), index=st.none() | _indices)
    def queue_then_clear(self, templates: list[EventLike], index: int | None) -> None:
        """Queue events and ``clear()`` at once, before the batchers wake."""
        self.races.queue_then_clear(templates, index)

    @rule(count=st.integers(min_value=2, max_value=3))
    def concurrent_clears(self, count: int) -> None:
        """Several ``clear()`` calls at once: each event is counted by exactly one."""
        self.races.concurrent_clears(count)

    @rule(count=st.integers(min_value=1, max_value=4))
    def mutate_handler_arguments(self, count: int) -> None:
        """The handlers change the ``args.events`` list of the next *count* reports."""
        self.races.mutate_reports += count

    # not on a frozen clock: flush() may wait for back-offs that only the rules move
    @precondition(lambda self: not self.model.closed and self._held is None and self.clock is None)
    @rule(index=_indices, failures=st.integers(min_value=3, max_value=12))
    def resend_storm(self, index: int, failures: int) -> None:
        """Sends that fail without yielding, each resent by the handler: others still run."""
        self.races.resend_storm(index, failures)

    # -- invariants and teardown ---------------------------------------------------------

    @invariant()
    def producer_agrees_with_model(self) -> None:
        """Outcomes, order and counts agree with the model (see :meth:`sync_model`)."""
        self.sync_model()

    def teardown(self) -> None:
        """Close the producer and check what is left; then stop the event loop.

        When a step already failed, only clean up (so that its error is the one reported).
        """
        failure = sys.exception()
        try:
            if failure is None:
                self._close_and_check()
        finally:
            self._clean_up(sys.exception())

    def _close_and_check(self) -> None:
        self._release()
        self.finish_on_loop(self.producer.aclose)
        self.model.closed = True
        self.sync_model()
        self.check_all_resolved(after="close")
        self.check_hub_contents()
        cm, self._producer_cm = self._producer_cm, None
        assert cm is not None
        cm.__exit__(None, None, None)
        self.portal.call(self.settle)
        stats = self.producer.statistics()
        assert self.producer.is_closed
        assert stats.queued == 0, stats
        assert stats.in_flight == 0, stats
        assert self.hub.sends_in_flight == 0
        left = self.portal.call(self._count_tasks)
        assert left == self._baseline_tasks, (
            f"{left - self._baseline_tasks} task(s) are still running after the producer closed"
        )

    def _clean_up(self, failure: BaseException | None) -> None:
        try:
            if self._producer_cm is not None and self._portal_cm is not None:
                cm, self._producer_cm = self._producer_cm, None
                try:
                    self.run_on_loop(self.hub.clear_faults)
                    self.run_on_loop(self.producer.clear)
                    cm.__exit__(None, None, None)
                except Exception:
                    if failure is None:
                        raise
        finally:
            self._close_portal(failure)

    def _close_portal(self, failure: BaseException | None) -> None:
        portal_cm, self._portal_cm = self._portal_cm, None
        if portal_cm is not None:
            if failure is None:
                portal_cm.__exit__(None, None, None)
            else:  # cancels whatever is left
                portal_cm.__exit__(type(failure), failure, failure.__traceback__)
