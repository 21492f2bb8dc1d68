"""What every reliability test checks: each accepted event has exactly one outcome.

:class:`Ledger` queues events with unique bodies, records the order they were accepted
in and every outcome its handlers are given, and :meth:`Ledger.check` compares that with
what the emulator stored. :class:`SpyTransport` wraps a real transport and lets a test
wait until a send has failed (instead of sleeping until it probably has).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import anyio

from anyio_eventhubs import (
    PublishFailedEventArgs,
    PublishSucceededEventArgs,
    StreamingProducer,
    TransportError,
    partition_for_key,
)
from anyio_eventhubs.testing.emulator import EventHubsEmulator
from anyio_eventhubs.transport import OutgoingBatch, Transport, TransportConnection

#: the ``small`` hub's largest message: batches of ~100-byte events are cut at ~20 events
from ..emulator_fixtures import SMALL_MAX_MESSAGE_SIZE as SMALL_MAX_MESSAGE_SIZE


def body(tag: str, index: int, size: int = 0) -> bytes:
    """A unique event body: ``<tag>-<index>|`` padded with ``.`` to *size* bytes."""
    head = f"{tag}-{index:06d}|".encode()
    return head + b"." * max(0, size - len(head))


@dataclass
class Outcome:
    kind: str  # "published" or "failed"
    partition_id: str
    exception: BaseException | None = None
    #: what the failure report said: the service may have stored the events
    may_have_been_published: bool = False


@dataclass
class Summary:
    """What :meth:`Ledger.check` found."""

    published: int
    failed: int
    duplicates: int
    failures: list[BaseException]


@dataclass
class Ledger:
    """Queue events, record their outcomes, check them against the emulator."""

    seq: dict[bytes, int] = field(default_factory=dict)
    #: where an event was sent to (when the test chose: partition id or key)
    expected_partition: dict[bytes, str] = field(default_factory=dict)
    outcomes: dict[bytes, list[Outcome]] = field(default_factory=dict)
    #: published bodies per partition, in the order the handler was told
    published_order: dict[str, list[bytes]] = field(default_factory=dict)
    _changed: anyio.Event | None = None

    # -- queueing --------------------------------------------------------------------------

    def accepted(self, event: bytes, *, partition_id: str | None = None) -> None:
        assert event not in self.seq, f"the test made a body twice: {event!r}"
        self.seq[event] = len(self.seq)
        if partition_id is not None:
            self.expected_partition[event] = partition_id

    async def queue(
        self,
        producer: StreamingProducer,
        event: bytes,
        *,
        partition_id: str | None = None,
        partition_key: str | None = None,
    ) -> None:
        """``queue_for_send`` and, once it returned, count the event as accepted."""
        await producer.queue_for_send(event, partition_id=partition_id, partition_key=partition_key)
        if partition_key is not None:
            partition_id = partition_for_key(partition_key, await producer.get_partition_ids())
        self.accepted(event, partition_id=partition_id)

    # -- the handlers ----------------------------------------------------------------------

    def on_succeeded(self, args: PublishSucceededEventArgs) -> None:
        for event in args.events:
            assert isinstance(event, bytes)
            self.outcomes.setdefault(event, []).append(Outcome("published", args.partition_id))
        self.published_order.setdefault(args.partition_id, []).extend(
            e for e in args.events if isinstance(e, bytes)
        )
        self._poke()

    def on_failed(self, args: PublishFailedEventArgs) -> None:
        for event in args.events:
            assert isinstance(event, bytes)
            self.outcomes.setdefault(event, []).append(
                Outcome("failed", args.partition_id, args.exception, args.may_have_been_published)
            )
        self._poke()

    def handlers(self) -> dict[str, Any]:
        return {"on_publish_succeeded": self.on_succeeded, "on_publish_failed": self.on_failed}

    def _poke(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    async def wait_outcomes(self, count: int) -> None:
        """Wait until *count* events have an outcome (bound it with ``fail_after``)."""
        while self.outcome_count() < count:
            if self._changed is None:
                self._changed = anyio.Event()
            await self._changed.wait()

    # -- reading -----------------------------------------------------------------------

    def outcome_count(self) -> int:
        return sum(len(v) for v in self.outcomes.values())

    def with_outcome(self, kind: str) -> list[bytes]:
        return [e for e, o in self.outcomes.items() if o and o[-1].kind == kind]

    @property
    def published(self) -> list[bytes]:
        return self.with_outcome("published")

    @property
    def failed(self) -> list[bytes]:
        return self.with_outcome("failed")

    def failures(self) -> list[BaseException]:
        """The distinct exceptions events failed with, in the order first reported."""
        seen: dict[int, BaseException] = {}
        for outcomes in self.outcomes.values():
            for outcome in outcomes:
                if outcome.exception is not None:
                    seen.setdefault(id(outcome.exception), outcome.exception)
        return list(seen.values())

    # -- the check ---------------------------------------------------------------------

    def check(
        self,
        emulator: EventHubsEmulator,
        eventhub_name: str,
        *,
        duplicates_allowed: bool = False,
        stored_failures_allowed: bool = False,
    ) -> Summary:
        """Assert the promise: each accepted event has exactly one outcome.

        - no outcome for an event that was not accepted, none reported twice;
        - per partition, events were reported published in the order they were accepted;
        - the emulator stored every event reported published, on the partition reported,
          and nothing that was not accepted; in each partition the first copies of the
          events stored are in acceptance order;
        - an event is stored more than once only if *duplicates_allowed*; an event
          reported failed is stored only if its failure says that it may have been
          published, or if *stored_failures_allowed*.
        """
        unknown = set(self.outcomes) - set(self.seq)
        assert not unknown, f"outcomes for events never accepted: {sorted(unknown)[:3]}"
        missing = [e for e in self.seq if not self.outcomes.get(e)]
        assert not missing, f"{len(missing)} accepted event(s) have no outcome: {missing[:3]}"
        twice = {e: o for e, o in self.outcomes.items() if len(o) > 1}
        assert not twice, f"{len(twice)} event(s) have several outcomes: {list(twice.items())[:2]}"
        for pid, order in self.published_order.items():
            seqs = [self.seq[e] for e in order]
            assert all(a < b for a, b in pairwise(seqs)), (
                f"partition {pid!r} reported events published out of queue order: {order[:10]}"
            )
        for event, expected in self.expected_partition.items():
            reported = self.outcomes[event][0].partition_id
            assert reported == expected, f"{event!r} went to {reported!r}, not {expected!r}"

        stored_on: dict[bytes, str] = {}
        duplicates = 0
        partitions = emulator.hubs[eventhub_name]
        for pid in (str(i) for i in range(partitions)):
            stored = [e.body for e in emulator.published_events(eventhub_name, pid)]
            counts = Counter(stored)
            strangers = [e for e in counts if e not in self.seq]
            assert not strangers, f"partition {pid!r} stored unknown events: {strangers[:3]}"
            duplicates += sum(n - 1 for n in counts.values())
            if not duplicates_allowed:
                again = [e for e, n in counts.items() if n > 1]
                assert not again, f"partition {pid!r} stored events twice: {again[:3]}"
            first_copies = list(dict.fromkeys(stored))
            seqs = [self.seq[e] for e in first_copies]
            assert all(a < b for a, b in pairwise(seqs)), (
                f"partition {pid!r} stored events out of queue order: {first_copies[:10]}"
            )
            for event in first_copies:
                stored_on[event] = pid
        for event, outcomes in self.outcomes.items():
            (outcome,) = outcomes
            if outcome.kind == "published":
                assert stored_on.get(event) == outcome.partition_id, (
                    f"{event!r} was reported published to partition {outcome.partition_id!r}; "
                    f"the emulator has it on {stored_on.get(event)!r}"
                )
            elif event in stored_on and not stored_failures_allowed:
                assert outcome.may_have_been_published, (
                    f"{event!r} was stored although reported failed with {outcome.exception!r} "
                    "and may_have_been_published=False"
                )
        return Summary(
            published=len(self.published),
            failed=len(self.failed),
            duplicates=duplicates,
            failures=self.failures(),
        )


# -- a transport that lets a test see failed attempts ------------------------------------------


class SpyConnection:
    """A connection that passes everything through and records each send's outcome."""

    def __init__(self, inner: TransportConnection, spy: SpyTransport) -> None:
        self._inner = inner
        self._spy = spy

    @property
    def eventhub_name(self) -> str:
        return self._inner.eventhub_name

    @property
    def fully_qualified_namespace(self) -> str:
        return self._inner.fully_qualified_namespace

    @property
    def partition_ids(self) -> Sequence[str]:
        return self._inner.partition_ids

    @property
    def max_message_size(self) -> int:
        return self._inner.max_message_size

    async def send(self, batch: OutgoingBatch) -> None:
        await self._spy.pass_gate()
        try:
            await self._inner.send(batch)
        except TransportError as exc:
            self._spy.record(exc)
            raise
        self._spy.record(None)


class SpyTransport:
    """Wraps a real transport: records each send's outcome, and can hold sends back.

    :meth:`wait_for` waits until the sends failed in a given way; :meth:`hold` makes
    sends wait (before they reach the real transport) until :meth:`release`.
    """

    def __init__(self, inner: Transport) -> None:
        self._inner = inner
        self.results: list[TransportError | None] = []
        self._changed: anyio.Event | None = None
        self._gate: anyio.Event | None = None
        #: sends waiting at the gate
        self.held = 0
        self.supports_idempotent_publishing = getattr(
            inner, "supports_idempotent_publishing", False
        )

    def record(self, result: TransportError | None) -> None:
        self.results.append(result)
        self._notify()

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    async def _wait(self, predicate: Callable[[], bool]) -> None:
        while not predicate():
            if self._changed is None:
                self._changed = anyio.Event()
            await self._changed.wait()

    def hold(self) -> None:
        if self._gate is None:
            self._gate = anyio.Event()

    def release(self) -> None:
        gate, self._gate = self._gate, None
        if gate is not None:
            gate.set()

    async def pass_gate(self) -> None:
        while self._gate is not None:
            self.held += 1
            self._notify()
            try:
                await self._gate.wait()
            finally:
                self.held -= 1

    async def wait_held(self, count: int) -> None:
        """Wait until *count* sends wait at the gate."""
        await self._wait(lambda: self.held >= count)

    @property
    def errors(self) -> list[TransportError]:
        return [r for r in self.results if r is not None]

    async def wait_for(self, predicate: Callable[[list[TransportError]], bool]) -> None:
        """Wait until *predicate* holds for the errors the sends raised so far."""
        await self._wait(lambda: predicate(self.errors))

    @asynccontextmanager
    async def _connect(self) -> AsyncIterator[TransportConnection]:
        async with self._inner.connect() as connection:
            yield SpyConnection(connection, self)

    def connect(self) -> Any:
        return self._connect()


async def in_thread(emulator: EventHubsEmulator, predicate: Callable[[], bool], what: str) -> None:
    """Wait (in a worker thread, at most 10 s) until *predicate* holds on the emulator."""
    held = await anyio.to_thread.run_sync(lambda: emulator.wait_until(predicate, timeout=10))
    assert held, f"timed out waiting until {what}"
