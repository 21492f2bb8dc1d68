"""The plain-data model behind :mod:`anyio_eventhubs.testing.stateful`.

What the state machine believes the producer holds: accepted events, their outcomes,
and what a snapshot of the producer looked like. No event loop, no producer here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Literal, TypeAlias, cast

from azure.eventhub import EventData

from .._exceptions import EventClearedError
from .._statistics import ProducerStatistics

#: what ``queue_for_send`` accepts
EventLike: TypeAlias = "EventData | bytes | str"


# -- the plain-data model ------------------------------------------------------------------


@dataclass
class AcceptedEvent:
    """An event the producer accepted, as the model knows it."""

    seq: int  # acceptance order over the whole producer
    partition_id: str
    body: bytes
    event: object


@dataclass(frozen=True)
class Report:
    """One call of a handler, as recorded on the event loop."""

    kind: Literal["published", "failed"]
    partition_id: str
    events: tuple[object, ...]
    exception: BaseException | None = None
    #: whether the failure handler called ``force_resend()`` (then it is not final)
    resent: bool = False


@dataclass
class ProducerModel:
    """What the producer should have done: plain data, no I/O.

    :ivar accepted: the accepted events, by body.
    :ivar final: each event's final outcome, by body: ``"published"`` or ``"failed"``.
    """

    partition_ids: tuple[str, ...]
    accepted: dict[bytes, AcceptedEvent] = field(default_factory=dict)
    order: list[bytes] = field(default_factory=list)
    final: dict[bytes, Literal["published", "failed"]] = field(default_factory=dict)
    published: dict[str, list[bytes]] = field(default_factory=dict)
    failed_count: dict[str, int] = field(default_factory=dict)
    batches_published: dict[str, int] = field(default_factory=dict)
    batches_failed: dict[str, int] = field(default_factory=dict)
    cleared: int = 0
    closed: bool = False

    def __post_init__(self) -> None:
        for pid in self.partition_ids:
            self.published.setdefault(pid, [])
            self.failed_count.setdefault(pid, 0)
            self.batches_published.setdefault(pid, 0)
            self.batches_failed.setdefault(pid, 0)

    @property
    def next_seq(self) -> int:
        return len(self.order)

    def accept(self, body: bytes, event: object, partition_id: str) -> None:
        assert body not in self.accepted, f"the machine made a body twice: {body!r}"
        self.accepted[body] = AcceptedEvent(self.next_seq, partition_id, body, event)
        self.order.append(body)

    def outstanding(self, partition_id: str | None = None) -> int:
        """Accepted events without a final outcome (on *partition_id*, or all)."""
        if partition_id is None:
            return len(self.accepted) - len(self.final)
        return sum(
            1
            for body, acc in self.accepted.items()
            if acc.partition_id == partition_id and body not in self.final
        )

    def unresolved_below(self, seq: int) -> list[AcceptedEvent]:
        """Events accepted before *seq* that have no final outcome."""
        return [self.accepted[body] for body in self.order[:seq] if body not in self.final]

    def apply(
        self, report: Report, bodies: Sequence[bytes], *, check_identity: bool = True
    ) -> None:
        """Record *report* (whose events have *bodies*), checking it against the model."""
        pid = report.partition_id
        assert report.events, f"a handler was called without events: {report}"
        assert pid in self.published, f"an outcome for an unknown partition {pid!r}"
        seqs = []
        for event, body in zip(report.events, bodies, strict=True):
            acc = self.accepted.get(body)
            assert acc is not None, f"an outcome was reported for an event never accepted: {body!r}"
            assert acc.partition_id == pid, (
                f"event {body!r} was queued for partition {acc.partition_id!r} "
                f"but its outcome came for partition {pid!r}"
            )
            assert body not in self.final, (
                f"event {body!r} got a second final outcome ({report.kind}, "
                f"after {self.final[body]})"
            )
            if check_identity:
                assert event is acc.event, f"the handler got another object for {body!r}"
            seqs.append(acc.seq)
        assert all(a < b for a, b in pairwise(seqs)), (
            f"a batch of partition {pid!r} is not in queue order: {list(bodies)}"
        )
        if report.kind == "published":
            assert not report.resent
            done = self.published[pid]
            if done:
                last = self.accepted[done[-1]].seq
                assert last < seqs[0], (
                    f"partition {pid!r} published {bodies[0]!r} after {done[-1]!r}, "
                    "which was queued later"
                )
            done.extend(bodies)
            self.batches_published[pid] += 1
            for body in bodies:
                self.final[body] = "published"
        elif not report.resent:
            self.failed_count[pid] += len(bodies)
            self.batches_failed[pid] += 1
            if isinstance(report.exception, EventClearedError):
                self.cleared += len(bodies)
            for body in bodies:
                self.final[body] = "failed"


@dataclass(frozen=True)
class Observation:
    """What the machine saw of the producer and the hub at one moment (on the loop)."""

    total_queued: int
    repr: str
    queued: dict[str, int]
    statistics: ProducerStatistics
    is_closed: bool
    hub_counts: dict[str, int]
    sends_in_flight: int
    reports: list[Report]
    anomalies: list[str]


@dataclass(frozen=True)
class _Attempt:
    """The result of one publish attempt, made on the loop."""

    grown: dict[str, int]  # partition -> accepted events added by the attempt
    error: Exception | None
    cancelled: bool
    full_held: bool  # whether a held partition was full (queue_for_send would wait)


# -- the machine ---------------------------------------------------------------------------


def body_bytes(event: EventData) -> bytes:
    """The body of a data event as ``bytes`` (``EventData.body`` yields its sections)."""
    return b"".join(cast("Iterable[bytes]", event.body))


def _is_blocked(task: asyncio.Task[Any]) -> bool:
    waiter = getattr(task, "_fut_waiter", None)  # what anyio's own check looks at
    return waiter is not None and not waiter.done()


def _growth(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {pid: after[pid] - before.get(pid, 0) for pid in after}
