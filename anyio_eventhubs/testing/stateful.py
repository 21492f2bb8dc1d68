"""A reusable Hypothesis state machine for a streaming producer.

:class:`StreamingProducerStateMachine` opens a real producer on an
:class:`~anyio_eventhubs.testing.InMemoryEventHub`, in an event loop of its own (a
blocking portal, ``anyio.from_thread.start_blocking_portal``), and drives it from
Hypothesis' synchronous rules: queue events (by partition id, by key, round robin;
``bytes``, ``str`` or ``EventData``), ``try_queue_for_send``, ``queue_many_for_send``
(on one partition, cancelled if it waits: exactly the prefix its ``QueueManyProgress``
names is accepted), flush, clear, close, inject
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

import sys
from contextlib import AbstractContextManager
from typing import Any, ClassVar

from anyio.from_thread import BlockingPortal, start_blocking_portal

from .._producer import StreamingProducer
from .._retry import RetryOptions
from ._stateful_model import Observation, ProducerModel, Report, body_bytes
from ._stateful_races import RaceRules
from ._stateful_rules import ProducerRules

__all__ = [
    "Observation",
    "ProducerModel",
    "Report",
    "StreamingProducerStateMachine",
    "body_bytes",
]


class StreamingProducerStateMachine(ProducerRules):
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

    # -- teardown ------------------------------------------------------------------------

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
