"""Many ``bytes`` events of one ``queue_many_for_send`` call, queued as one item.

Pure code: no I/O, no anyio. ``queue_many_for_send`` hands a partition its share of a
call in one step; when every event of the call is ``bytes`` (and no journal records
them one by one), that share is queued as one :class:`QueuedRun` instead of one
:class:`~anyio_eventhubs._events.QueuedEvent` per event. A run keeps the caller's
objects, each event's encoded message and its size in three lists, and numbers its
events with consecutive sequence numbers from :attr:`QueuedRun.seq`; there is no
Python object per event for the garbage collector to track, and nothing to do per
event when the run is numbered or queued.

Single round-robin events of ``queue_for_send`` join the run at the queue's tail the
same way (:meth:`~anyio_eventhubs._batching.PartitionQueue.add_body`): ``bytes``, and
``EventData`` that encode as their body alone, which a run counts
(:attr:`QueuedRun.event_data`) because the producer holds them until their outcome.
A producer without handlers does not hold them: the run keeps :data:`UNHELD` in the
event's place, and the event's message alone (counted in :attr:`QueuedRun.unheld`); a
report (a ``PublishError``) gets the event decoded from that message.

The queue (:class:`~anyio_eventhubs._batching.PartitionQueue`) splits a run where a
batch ends, so a batch holds whole items; handlers, the transport and ``clear()`` see
the events one by one (:func:`events_of`, :func:`messages_of`), in queue order, each
exactly once.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from itertools import accumulate
from typing import TypeAlias

from azure.eventhub import EventData

from ._codec import decode_message
from ._events import Event, QueuedEvent

__all__ = [
    "UNHELD",
    "PreparedRuns",
    "QueuedItem",
    "QueuedRun",
    "end_seq",
    "event_count",
    "events_of",
    "messages_of",
]


class _Unheld(bytes):
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNHELD"


#: what a run holds in place of an ``EventData`` that the producer does not keep (it has
#: no handler to give it back to): the event's encoded message stands for it
UNHELD: bytes = _Unheld()


def _is_event_data(event: Event) -> bool:
    return type(event) is EventData


def _is_unheld(event: Event) -> bool:
    return event is UNHELD


class QueuedRun:
    """Consecutive events of one partition, accepted together: ``count`` events
    numbered ``seq`` to ``seq + count - 1``.

    :ivar events: the caller's objects, in order (a slice of the caller's sequence).
    :ivar messages: each event's complete encoded message.
    :ivar sizes: what each event adds to a batch, in bytes.
    :ivar size: their sum.
    :ivar event_data: how many of the events are the caller's ``EventData`` (held until
        their outcome: :attr:`~anyio_eventhubs._partition.PartitionState.held_event_data`);
        the others are ``bytes``, or :data:`UNHELD`.
    :ivar unheld: how many of the events are :data:`UNHELD` (an ``EventData`` of which
        only its message is kept).
    """

    __slots__ = (
        "arrivals",
        "arrived",
        "count",
        "event_data",
        "events",
        "messages",
        "seq",
        "size",
        "sizes",
        "unheld",
    )

    def __init__(
        self,
        events: Sequence[Event],
        messages: list[bytes],
        sizes: list[int],
        size: int | None = None,
        seq: int = 0,
        arrived: float = 0.0,
        event_data: int = 0,
        unheld: int = 0,
    ) -> None:
        self.events = events
        self.messages = messages
        self.sizes = sizes
        self.count = len(events)
        self.size = sum(sizes) if size is None else size
        self.seq = seq
        self.arrived = arrived
        self.event_data = event_data
        self.unheld = unheld
        #: each event's arrival, for a run that single events are appended to (see
        #: :meth:`~anyio_eventhubs._batching.PartitionQueue.add_body`); ``None``: all
        #: arrived at ``arrived``
        self.arrivals: list[float] | None = None

    def fitting(self, room: int) -> int:
        """How many of its first events add up to at most *room* bytes."""
        if self.size <= room:
            return self.count
        return bisect_right(list(accumulate(self.sizes)), room)

    def split(self, n: int) -> tuple[QueuedRun, QueuedRun]:
        """Its first *n* events and the rest, as two runs (0 < *n* < ``count``)."""
        sizes, arrivals = self.sizes, self.arrivals
        head_size = sum(sizes[:n])
        head = QueuedRun(
            self.events[:n], self.messages[:n], sizes[:n], head_size, self.seq, self.arrived
        )
        rest = QueuedRun(
            self.events[n:],
            self.messages[n:],
            sizes[n:],
            self.size - head_size,
            self.seq + n,
            self.arrived if arrivals is None else arrivals[n],
        )
        if arrivals is not None:
            head.arrivals, rest.arrivals = arrivals[:n], arrivals[n:]
        if self.event_data:
            head.event_data = self._in_head(self.event_data, head, _is_event_data)
            rest.event_data = self.event_data - head.event_data
        if self.unheld:
            head.unheld = self._in_head(self.unheld, head, _is_unheld)
            rest.unheld = self.unheld - head.unheld
        return head, rest

    def _in_head(self, total: int, head: QueuedRun, test: Callable[[Event], bool]) -> int:
        """How many of *head*'s events (its first) pass *test*, of *total* in the run: a
        run of such events alone splits by count; a mixed one is counted."""
        if total == self.count:
            return head.count
        return sum(1 for e in head.events if test(e))

    def __repr__(self) -> str:
        return f"<QueuedRun seq={self.seq} count={self.count} size={self.size}>"


class PreparedRuns:
    """The events of one ``queue_many_for_send`` call, validated and encoded, as three
    lists: what :meth:`run` cuts each partition's share from."""

    __slots__ = ("events", "messages", "sizes")

    def __init__(self, events: Sequence[Event], messages: list[bytes], sizes: list[int]) -> None:
        self.events = events
        self.messages = messages
        self.sizes = sizes

    def __len__(self) -> int:
        return len(self.messages)

    def run(self, first: int, stop: int, step: int) -> QueuedRun:
        """Events ``first``, ``first + step``, ... below *stop*, as one run."""
        if step == 1:
            return QueuedRun(
                self.events[first:stop], self.messages[first:stop], self.sizes[first:stop]
            )
        return QueuedRun(
            self.events[first:stop:step],
            self.messages[first:stop:step],
            self.sizes[first:stop:step],
        )


#: what a partition's queue holds: single events and runs
QueuedItem: TypeAlias = "QueuedEvent | QueuedRun"


def end_seq(item: QueuedItem) -> int:
    """The sequence number after *item*'s last event."""
    if type(item) is QueuedRun:
        return item.seq + item.count
    return item.seq + 1


def event_count(items: Iterable[QueuedItem]) -> int:
    """How many events *items* hold."""
    return sum(item.count if type(item) is QueuedRun else 1 for item in items)


def events_of(items: Iterable[QueuedItem]) -> list[Event]:
    """The caller's objects of *items*, in order, in a new list (an :data:`UNHELD`
    event: decoded from its message, as a consumer would see it)."""
    out: list[Event] = []
    append, extend = out.append, out.extend
    for item in items:
        if type(item) is QueuedRun:
            if item.unheld:
                extend(
                    decode_message(m) if e is UNHELD else e
                    for e, m in zip(item.events, item.messages, strict=True)
                )
            else:
                extend(item.events)
        else:
            event = item.event  # type: ignore[union-attr]
            append(decode_message(item.encoded) if event is UNHELD else event)  # type: ignore[union-attr]
    return out


def messages_of(items: Iterable[QueuedItem]) -> list[bytes]:
    """Each event's encoded message, of *items*, in order, in a new list."""
    out: list[bytes] = []
    append, extend = out.append, out.extend
    for item in items:
        if type(item) is QueuedRun:
            extend(item.messages)
        else:
            append(item.encoded)  # type: ignore[union-attr]
    return out
