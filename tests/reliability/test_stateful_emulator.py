"""A Hypothesis state machine drives a producer against the emulator, on both backends.

``anyio_eventhubs.testing.stateful.StreamingProducerStateMachine`` drives a producer on
the in-memory hub with many steps (``tests/test_stateful_producer.py``); it relies on
the loop settling after each step, on holding sends inside the hub and on the hub
holding exactly what was reported published, none of which holds over a real socket.
This machine keeps its plain-data model (:class:`ProducerModel`, fed by the handlers'
reports: one final outcome per accepted event, per-partition order, the counts) and
adds what a real service brings: faults armed on the emulator (rejections, detached
links, dropped connections, lost acknowledgements), sends held back in a wrapping
transport, cancelled ``queue_for_send`` and ``flush()`` calls, and the task group that
holds the producer cancelled while sends are in flight (the producer is then reopened).

After every step: ``total_queued_event_count``, the per-partition counts and
``statistics()`` equal the model's. After each flush, clear, close and cancellation:
every accepted event has its outcome, and the emulator stored every event reported
published, in acceptance order, nothing unknown, and a failed event only if its failure
says it may have been stored (or a lost acknowledgement made that possible). After the
last close: no task and no thread of the producer is left.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from concurrent.futures import Future
from contextlib import AbstractContextManager
from itertools import pairwise
from typing import Any, ClassVar

import anyio
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from anyio_eventhubs import (
    PublishFailedEventArgs,
    PublishSucceededEventArgs,
    RetryOptions,
    StreamingProducer,
    open_streaming_producer,
)
from anyio_eventhubs._azure import azure_transport
from anyio_eventhubs.testing.emulator import (
    INTERNAL_ERROR,
    SERVER_BUSY,
    THROTTLED,
    EventHubsEmulator,
)
from anyio_eventhubs.testing.stateful import ProducerModel, Report
from anyio_eventhubs.testing.strategies import partition_keys

from .helpers import SpyTransport

HUB = "eh"
#: a rule's call on the loop that takes longer than this has hung
STEP_TIMEOUT = 30.0
#: conditions the emulator rejects a transfer with: retried ones, and one that is not
_CONDITIONS = [SERVER_BUSY, THROTTLED, INTERNAL_ERROR, "amqp:not-allowed"]
_FAULTS = ["reject", "detach", "drop_connection", "lose_ack"]
_indices = st.integers(min_value=0, max_value=63)
_routes: st.SearchStrategy[int | str | None] = st.one_of(
    st.none(), _indices, partition_keys(max_size=12)
)
_payloads = st.binary(max_size=300)
#: the threads of the test's own tools, not the producer's
_TOOL_THREADS = ("AnyIO worker thread", "Trio thread", "eventhubs-emulator", "MainThread")


class EmulatorProducerMachine(RuleBasedStateMachine):
    """Random events, keys, flushes, clears, cancellations and faults, on the emulator."""

    backend: ClassVar[str] = "asyncio"
    partition_count: ClassVar[int] = 3
    #: small messages: batches fill up after a few events
    max_message_size: ClassVar[int] = 2048
    max_queued_events: ClassVar[int] = 12
    retry_options: ClassVar[RetryOptions] = RetryOptions(
        max_retries=2, delay=0.005, jitter=0, try_timeout=10
    )

    def __init__(self) -> None:
        super().__init__()
        self.emulator = EventHubsEmulator(
            {HUB: self.partition_count}, max_message_size=self.max_message_size
        )
        self.emulator.start()
        self._counter = 0
        self._reports: list[Report] = []
        #: whether a fault that can store a batch twice was armed (lost acknowledgement)
        self.ambiguous = False
        self.held = False
        #: why each failed event failed (written by the failure handler, on the loop)
        #: what each failure report said: the service may have stored the events
        self.failure_of: dict[bytes, bool] = {}
        self._producer: StreamingProducer | None = None
        self._host: Future[None] | None = None
        self._host_scope: anyio.CancelScope | None = None
        self._portal_cm: AbstractContextManager[BlockingPortal] | None = start_blocking_portal(
            self.backend
        )
        self.portal = self._portal_cm.__enter__()
        try:
            self.spy: SpyTransport = self.portal.call(self._make_spy)
            self.model = ProducerModel(tuple(str(i) for i in range(self.partition_count)))
            self._baseline_tasks = self.portal.call(self._count_tasks)
            self._baseline_threads = self._threads()
            self._open()
        except BaseException:
            self._clean_up()
            raise

    # -- the producer's life -------------------------------------------------------------

    async def _make_spy(self) -> SpyTransport:
        return SpyTransport(azure_transport(self.emulator.connection_string(HUB)))

    async def _host_producer(
        self, *, task_status: anyio.abc.TaskStatus[StreamingProducer] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        with anyio.CancelScope() as scope:
            self._host_scope = scope
            async with open_streaming_producer(
                transport=self.spy,
                max_wait_time=None,
                max_queued_events=self.max_queued_events,
                retry_options=self.retry_options,
                close_timeout=0.5,
                on_publish_succeeded=self._on_succeeded,
                on_publish_failed=self._on_failed,
            ) as producer:
                task_status.started(producer)
                await anyio.sleep_forever()

    def _open(self) -> None:
        # a fresh producer counts from zero: remember where the model stood
        self._base = {
            pid: (len(self.model.published[pid]), self.model.failed_count[pid])
            for pid in self.model.partition_ids
        }
        self._host, self._producer = self.portal.start_task(self._host_producer)

    @property
    def producer(self) -> StreamingProducer:
        assert self._producer is not None
        return self._producer

    def _end_host(self) -> None:
        """Cancel the task group that holds the producer; wait until it is gone."""
        host, self._host = self._host, None
        if host is None:
            return
        scope = self._host_scope
        assert scope is not None
        self.portal.call(scope.cancel)
        host.result(timeout=STEP_TIMEOUT)

    def _on_succeeded(self, args: PublishSucceededEventArgs) -> None:
        self._reports.append(Report("published", args.partition_id, tuple(args.events)))

    def _on_failed(self, args: PublishFailedEventArgs) -> None:
        for event in args.events:
            assert isinstance(event, bytes)
            self.failure_of[event] = args.may_have_been_published
        self._reports.append(
            Report("failed", args.partition_id, tuple(args.events), args.exception)
        )

    # -- running on the loop -------------------------------------------------------------

    def _totals(self) -> dict[str, int]:
        """What each partition ever accepted (only grows when an event is accepted)."""
        return {
            pid: p.queued + p.in_flight + p.published + p.failed
            for pid, p in self.producer.statistics().partitions.items()
        }

    async def _queue_on_loop(
        self, event: bytes, partition_id: str | None, partition_key: str | None, wait: bool
    ) -> tuple[bool, dict[str, int]]:
        before = self._totals()
        with anyio.fail_after(STEP_TIMEOUT):
            if wait:
                await self.producer.queue_for_send(
                    event, partition_id=partition_id, partition_key=partition_key
                )
                accepted = True
            else:
                accepted = self.producer.try_queue_for_send(
                    event, partition_id=partition_id, partition_key=partition_key
                )
        after = self._totals()
        return accepted, {pid: after[pid] - before[pid] for pid in after}

    async def _cancel_when_blocked(self, call: Any) -> tuple[bool, dict[str, int]]:
        """Start *call*, cancel it once every task waits; return whether it finished."""
        before = self._totals()
        finished: list[bool] = []
        with anyio.fail_after(STEP_TIMEOUT):
            async with anyio.create_task_group() as tg:

                async def attempt() -> None:
                    await call()
                    finished.append(True)

                tg.start_soon(attempt)
                await anyio.wait_all_tasks_blocked()
                tg.cancel_scope.cancel()
        after = self._totals()
        return bool(finished), {pid: after[pid] - before[pid] for pid in after}

    async def _observe(self) -> tuple[list[Report], int, dict[str, int], Any]:
        reports, self._reports = self._reports, []
        producer = self.producer
        queued = {
            pid: producer.get_partition_queued_event_count(pid) for pid in self.model.published
        }
        return reports, producer.total_queued_event_count, queued, producer.statistics()

    def _count_tasks(self) -> int:
        if self.backend == "trio":
            import trio

            def count(task: trio.lowlevel.Task) -> int:
                children = [c for nursery in task.child_nurseries for c in nursery.child_tasks]
                return 1 + sum(count(child) for child in children)

            root = trio.lowlevel.current_root_task()
            assert root is not None
            return count(root)
        return len(asyncio.all_tasks())

    @staticmethod
    def _threads() -> set[str]:
        return {t.name for t in threading.enumerate() if not t.name.startswith(_TOOL_THREADS)}

    # -- the model -----------------------------------------------------------------------

    def _new_event(self, payload: bytes) -> bytes:
        self._counter += 1
        return b"<%06d>" % self._counter + payload

    def _record(self, event: bytes, grown: dict[str, int]) -> None:
        changed = {pid: n for pid, n in grown.items() if n}
        assert list(changed.values()) == [1], f"one acceptance grew the partitions by {changed}"
        (pid,) = changed
        self.model.accept(event, event, pid)

    def sync_model(self) -> None:
        """Feed the handlers' reports to the model; compare the producer's counts with it."""
        reports, total, queued, stats = self.portal.call(self._observe)
        for report in reports:
            self.model.apply(report, [e for e in report.events if isinstance(e, bytes)])
        model = self.model
        assert total == model.outstanding(), (total, model.outstanding())
        for pid, count in queued.items():
            assert count == model.outstanding(pid), (pid, count, model.outstanding(pid))
            part = stats.partitions[pid]
            assert part.queued + part.in_flight == count, part
            published_before, failed_before = self._base[pid]
            assert part.published == len(model.published[pid]) - published_before, part
            assert part.failed == model.failed_count[pid] - failed_before, part
        assert stats.queued + stats.in_flight == total

    def check_resolved(self, after: str) -> None:
        self.sync_model()
        missing = self.model.unresolved_below(self.model.next_seq)
        assert not missing, f"after {after}, {len(missing)} events have no outcome"
        self.check_emulator()

    def check_emulator(self) -> None:
        """The emulator holds what was reported published, in order, once (see module doc)."""
        model = self.model
        stored_on: dict[bytes, str] = {}
        for pid in model.partition_ids:
            stored = [e.body for e in self.emulator.published_events(HUB, pid)]
            counts = Counter(stored)
            unknown = [e for e in counts if e not in model.accepted]
            assert not unknown, f"partition {pid!r} stored unknown events {unknown[:3]}"
            again = [e for e, n in counts.items() if n > 1]
            assert not again or self.ambiguous, f"partition {pid!r} stored twice: {again[:3]}"
            first = list(dict.fromkeys(stored))
            seqs = [model.accepted[e].seq for e in first]
            assert all(a < b for a, b in pairwise(seqs)), f"partition {pid!r} out of order"
            for event in first:
                assert model.accepted[event].partition_id == pid, event
                stored_on[event] = pid
        for pid, published in model.published.items():
            for event in published:
                assert stored_on.get(event) == pid, f"{event!r} published but not stored"
        self._check_failures_not_stored(stored_on)

    def _check_failures_not_stored(self, stored_on: dict[bytes, str]) -> None:
        # lost acknowledgements included: the report must say the events may be stored
        for event, outcome in self.model.final.items():
            if outcome == "failed" and event in stored_on:
                assert self.failure_of.get(event), (
                    f"{event!r} stored, reported failed with may_have_been_published=False"
                )

    # -- rules ---------------------------------------------------------------------------

    def _route(self, route: int | str | None) -> tuple[str | None, str | None]:
        if isinstance(route, int):
            return self.model.partition_ids[route % self.partition_count], None
        return None, route

    @rule(payloads=st.lists(_payloads, min_size=1, max_size=10), route=_routes)
    def queue_events(self, payloads: list[bytes], route: int | str | None) -> None:
        """``queue_for_send`` (``try_queue_for_send`` while sends are held)."""
        partition_id, partition_key = self._route(route)
        for payload in payloads:
            event = self._new_event(payload)
            accepted, grown = self.portal.call(
                self._queue_on_loop, event, partition_id, partition_key, not self.held
            )
            if accepted:
                self._record(event, grown)
            else:
                assert not any(grown.values()), grown

    @rule()
    def flush(self) -> None:
        """Let held sends go, then ``flush()``: everything accepted has its outcome."""
        self._release()
        self.portal.call(self._flush_on_loop)
        self.check_resolved("flush()")

    async def _flush_on_loop(self) -> None:
        with anyio.fail_after(STEP_TIMEOUT):
            await self.producer.flush()

    @rule()
    def cancel_flush(self) -> None:
        """Start ``flush()`` and cancel it once every task waits: nothing changes."""
        _, grown = self.portal.call(self._cancel_when_blocked, self.producer.flush)
        assert not any(grown.values()), grown

    @rule(index=_indices, payload=_payloads)
    def cancel_queue_for_send_waiting_for_room(self, index: int, payload: bytes) -> None:
        """Hold sends, fill a partition, cancel a ``queue_for_send`` that waits for room."""
        pid = self.model.partition_ids[index % self.partition_count]
        self._hold()
        while True:
            event = self._new_event(payload)
            accepted, grown = self.portal.call(self._queue_on_loop, event, pid, None, False)
            if not accepted:
                break
            self._record(event, grown)
        event = self._new_event(payload)

        async def queue() -> None:
            await self.producer.queue_for_send(event, partition_id=pid)

        finished, grown = self.portal.call(self._cancel_when_blocked, queue)
        if finished:  # a send that was already on the wire freed room
            self._record(event, grown)
        else:
            assert not any(grown.values()), f"a cancelled queue_for_send changed {grown}"

    @rule()
    def clear(self) -> None:
        """``clear()``: what is queued and in flight is reported, and counted."""
        cleared_before = self.model.cleared
        dropped = self.portal.call(self.producer.clear)
        self.check_resolved("clear()")
        assert dropped == self.model.cleared - cleared_before

    @rule(
        fault=st.sampled_from(_FAULTS),
        count=st.integers(min_value=1, max_value=3),
        condition=st.sampled_from(_CONDITIONS),
        index=st.none() | _indices,
    )
    def arm_fault(self, fault: str, count: int, condition: str, index: int | None) -> None:
        """Arm a fault on the emulator for the next transfers (to one partition, or any)."""
        pid = None if index is None else self.model.partition_ids[index % self.partition_count]
        faults = self.emulator.faults
        where: dict[str, Any] = {"eventhub_name": HUB, "partition_id": pid}
        if fault == "reject":
            faults.reject_next(count, condition=condition, **where)
        elif fault == "detach":
            faults.detach_next(count, **where)
        elif fault == "drop_connection":
            faults.drop_connection_on_next_transfer(count, **where)
            # the producer's one connection carries every partition: a batch of another
            # partition stored just before the drop loses its acknowledgement too
            self.ambiguous = True
        else:
            faults.lose_next_ack(count, **where)
            self.ambiguous = True

    @rule()
    def hold_sends(self) -> None:
        self._hold()

    @precondition(lambda self: self.held)
    @rule()
    def release_sends(self) -> None:
        self._release()

    def _hold(self) -> None:
        if not self.held:
            self.portal.call(self.spy.hold)
            self.held = True

    def _release(self) -> None:
        if self.held:
            self.portal.call(self.spy.release)
            self.held = False

    @rule()
    def close_and_reopen(self) -> None:
        """``aclose()``: everything has its outcome; then a fresh producer."""
        self._release()
        self.portal.call(self._close_on_loop)
        self.check_resolved("aclose()")
        self._end_host()
        self._open()

    async def _close_on_loop(self) -> None:
        with anyio.fail_after(STEP_TIMEOUT):
            await self.producer.aclose()

    @rule()
    def cancel_the_producer_and_reopen(self) -> None:
        """Cancel the task group holding the producer, sends in flight or held."""
        self._end_host()
        self.check_resolved("cancelling the producer's task group")
        assert self.producer.is_closed
        self._open()

    # -- invariants, teardown ------------------------------------------------------------

    @invariant()
    def counts_agree_with_the_model(self) -> None:
        self.sync_model()

    def teardown(self) -> None:
        try:
            if self._portal_cm is not None and self._host is not None:
                self._release()
                self.emulator.faults.clear()
                self.portal.call(self._close_on_loop)
                self.check_resolved("the last close")
                self._end_host()
                assert self.portal.call(self._count_tasks) == self._baseline_tasks, (
                    "a task of the producer is still running after it closed"
                )
                assert self._threads() <= self._baseline_threads, self._threads()
        finally:
            self._clean_up()

    def _clean_up(self) -> None:
        try:
            if self._host is not None and self._portal_cm is not None:
                if self._host_scope is not None:
                    self.portal.call(self._host_scope.cancel)
                self._host.exception(timeout=STEP_TIMEOUT)
                self._host = None
        finally:
            portal_cm, self._portal_cm = self._portal_cm, None
            if portal_cm is not None:
                portal_cm.__exit__(None, None, None)
            self.emulator.stop()


class AsyncioEmulatorMachine(EmulatorProducerMachine):
    backend = "asyncio"


class TrioEmulatorMachine(EmulatorProducerMachine):
    backend = "trio"


_COMMON: dict[str, Any] = {
    "deadline": None,
    "database": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
MACHINES = [
    pytest.param(AsyncioEmulatorMachine, id="asyncio"),
    pytest.param(TrioEmulatorMachine, id="trio"),
]


@pytest.mark.parametrize("machine", MACHINES)
def test_the_producer_keeps_its_promises_against_the_emulator(
    machine: type[EmulatorProducerMachine],
) -> None:
    from hypothesis.stateful import run_state_machine_as_test

    run_state_machine_as_test(
        machine, settings=settings(max_examples=6, stateful_step_count=20, **_COMMON)
    )


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("machine", MACHINES)
def test_the_producer_keeps_its_promises_against_the_emulator_in_long_runs(
    machine: type[EmulatorProducerMachine],
) -> None:
    from hypothesis.stateful import run_state_machine_as_test

    run_state_machine_as_test(
        machine, settings=settings(max_examples=20, stateful_step_count=50, **_COMMON)
    )
