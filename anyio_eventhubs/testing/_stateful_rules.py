"""The state machine's rules (the hostile ones delegate to ``_stateful_races``).

A base class of :class:`~anyio_eventhubs.testing.stateful.StreamingProducerStateMachine`.
Every rule but the hostile ones lets the event loop settle after each call it makes;
the invariant compares the producer with the model after every step.
"""

from __future__ import annotations

from concurrent.futures import Future

from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition, rule

from .._exceptions import (
    AuthenticationError,
    ConnectionLostError,
    MessageTooLargeError,
    NotFoundError,
    OperationTimeoutError,
    ProducerClosedError,
    ServerBusyError,
    ThrottledError,
    TransportError,
)
from .._many import QueueManyProgress
from ._stateful_harness import ProducerHarness
from ._stateful_model import EventLike, _Attempt
from .strategies import event_bodies, event_properties, events, partition_keys

__all__ = ["ProducerRules"]

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


class ProducerRules(ProducerHarness):
    """The rules and the invariant."""

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

    async def _publish_many_on_loop(
        self, events: list[EventLike], partition_id: str | None, partition_key: str | None
    ) -> tuple[int, Exception | None, dict[str, int], bool]:
        """``queue_many_for_send``; if it still waits for room once the loop settled,
        cancel it. Return how many it accepted, its error, the growth and whether it was
        cancelled while a held partition was full."""
        progress = QueueManyProgress()
        error, _, full_held, grown = await self._run_until_settled(
            lambda: self.producer.queue_many_for_send(
                events, partition_id=partition_id, partition_key=partition_key, progress=progress
            )
        )
        return progress.accepted, error, grown, full_held

    @rule(
        templates=st.lists(_templates, min_size=1, max_size=12), route=_indices | partition_keys()
    )
    def queue_many_events(self, templates: list[EventLike], route: int | str) -> None:
        """``queue_many_for_send`` on one partition (by id or key), cancelled if it still
        waits once the loop settled: exactly the prefix ``progress.accepted`` names was
        accepted, in order."""
        made = [self._make_event(template) for template in templates]
        partition_id, partition_key = self._route(route)
        accepted, error, grown, full_held = self.portal.call(
            self._publish_many_on_loop, [event for event, _ in made], partition_id, partition_key
        )
        if error is not None:
            if isinstance(error, ProducerClosedError) and self.model.closed:
                assert accepted == 0, accepted
                assert not any(grown.values()), grown
                return
            raise error
        assert not self.model.closed, "queue_many_for_send accepted events after close"
        pid = self._expected_partition(partition_id, partition_key)
        assert pid is not None
        assert {p: n for p, n in grown.items() if n} == ({pid: accepted} if accepted else {}), (
            f"queue_many_for_send says it accepted {accepted} events for partition {pid!r}; "
            f"the partitions grew by {grown}"
        )
        if accepted < len(made) and self._strict_liveness:
            assert full_held, "queue_many_for_send waited although no held partition was full"
        for event, body in made[:accepted]:
            self.model.accept(body, event, pid)

    @rule(template=_templates, route=_routes)
    def try_queue_event(self, template: EventLike, route: int | str | None) -> None:
        """``try_queue_for_send`` one event."""
        event, body = self._make_event(template)
        partition_id, partition_key = self._route(route)
        result, grown, full = self.portal.call(
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
        assert any(p in full for p in candidates), (
            f"try_queue_for_send refused an event although {candidates} had room"
        )

    def _fill_held_partition(self, index: int, template: EventLike) -> str:
        """Hold a partition's sends and fill it until it is full; return its id."""
        pid = self.model.partition_ids[index % len(self.model.partition_ids)]
        self._hold([pid])
        self.sync_model()
        # at most: a batch in flight, the head batch, then max_queued_events behind it
        for _ in range(self.max_queued_events + 2 * self.max_message_size + 1):
            event, body = self._make_event(template)
            result, grown, _ = self.portal.call(self._try_publish_on_loop, event, pid, None)
            if isinstance(result, Exception):
                raise result
            if not result:
                break
            self._record_acceptance(grown, body, event, pid, None)
        assert self.is_full(pid), (
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

    # -- the invariant -------------------------------------------------------------------

    @invariant()
    def producer_agrees_with_model(self) -> None:
        """Outcomes, order and counts agree with the model (see :meth:`sync_model`)."""
        self.sync_model()
