"""Turning one ``queue_for_send`` call into an encoded event and its partition.

Synchronous and free of anyio: validation, encoding and routing (round robin, or the
service's key hash). The event is encoded, and its size checked, before a partition
key is hashed, so a key that can never fit costs no hashing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import repeat

from azure.eventhub import EventData

from ._codec import plain_body
from ._encoding import (
    BATCH_ENVELOPE_SIZE,
    SMALL_BODY_HEADS,
    batch_entry_size,
    batch_entry_sizes,
    encode_bodies,
    encode_body,
)
from ._events import Event, QueuedEvent, encode_event
from ._exceptions import EventTooLargeError
from ._partitioning import RoundRobin, partition_for_key
from ._runs import PreparedRuns

__all__ = ["Intake"]

#: how many partition keys the intake remembers the partition of
_KEY_CACHE_SIZE = 4096


class Intake:
    """Validates, encodes and routes events for one producer's partitions.

    :param partition_ids: the hub's partition ids, in the service's order.
    :param max_message_size: the hub's largest batch, in bytes.
    :param reserved_per_event: bytes added to each event later (the idempotent stamp).
    :param encode: what encodes an event (the telemetry's, to stamp trace context).
    """

    def __init__(
        self,
        eventhub_name: str,
        partition_ids: tuple[str, ...],
        max_message_size: int,
        reserved_per_event: int = 0,
        encode: Callable[[Event, str | None], bytes] | None = None,
    ) -> None:
        self._encode = encode_event if encode is None else encode
        #: bodies up to 255 bytes, round robin, are encoded inline (see prepare)
        self._inline_limit = 256 if encode is None and not reserved_per_event else 0
        self._inline_room = max_message_size - BATCH_ENVELOPE_SIZE
        self._eventhub_name = eventhub_name
        self._partition_ids = partition_ids
        self._known = frozenset(partition_ids)
        self._max_message_size = max_message_size
        self._reserved = reserved_per_event
        self._round_robin = RoundRobin(partition_ids)
        #: key -> partition id: most streams reuse a small set of keys, and the hash is
        #: pure Python (about 3 us); bounded by emptying it when full
        self._key_partitions: dict[str, str] = {}

    def set_partition_ids(self, partition_ids: tuple[str, ...]) -> None:
        """The hub gained partitions: route over *partition_ids* from now on (keys map
        with the new count, as the service maps them)."""
        self._partition_ids = partition_ids
        self._known = frozenset(partition_ids)
        self._round_robin = RoundRobin(partition_ids)
        self._key_partitions.clear()

    def check_partition_id(self, partition_id: object) -> str:
        """Return *partition_id* if the hub has it.

        :raises TypeError: if it is not a ``str``.
        :raises ValueError: if the hub has no such partition.
        """
        if not isinstance(partition_id, str):
            raise TypeError(f"partition_id must be a str, got {type(partition_id).__name__}")
        if partition_id not in self._known:
            raise ValueError(
                f"Event Hub {self._eventhub_name!r} has no partition {partition_id!r}; "
                f"its partition ids are {list(self._partition_ids)}"
            )
        return partition_id

    def prepare(
        self, event: Event, partition_id: str | None, partition_key: str | None
    ) -> tuple[str, QueuedEvent]:
        """Validate and encode *event*; return its partition id and the queued form.

        :raises TypeError: if an argument has the wrong type.
        :raises ValueError: if the partition does not exist, if both a partition id and
            a key are given, if the key is empty or not valid Unicode, or if the event
            cannot be encoded.
        :raises ~anyio_eventhubs.EventTooLargeError: if the event can never fit a batch.
        """
        if partition_key is not None or partition_id is not None:
            self.check_route(partition_id, partition_key)
        elif type(event) is bytes and len(event) < self._inline_limit:
            # the common case, without a call per step: encode_body(event) is the
            # body's data-section head for its length, then the body
            item = QueuedEvent(event, SMALL_BODY_HEADS[len(event)] + event)
            if item.size > self._inline_room:
                raise EventTooLargeError(item.size, self._max_message_size)
            return self._round_robin.next(), item
        item = QueuedEvent(event, self._encode(event, partition_key))
        item.size += self._reserved  # room for the idempotent stamp, counted in the batch
        if BATCH_ENVELOPE_SIZE + item.size > self._max_message_size:
            raise EventTooLargeError(item.size, self._max_message_size)
        if partition_key is not None:
            partition_id = self._key_partitions.get(partition_key)
            if partition_id is None:
                partition_id = self._partition_of_key(partition_key)
        elif partition_id is None:
            partition_id = self._round_robin.next()
        return partition_id, item

    def prepare_small_body(self, event: bytes) -> tuple[str, bytes, int] | None:
        """:meth:`prepare` of a ``bytes`` event for round robin, as its parts: its
        partition id, encoded message and size in a batch; ``None`` (nothing changed)
        unless the body is at most 255 bytes and events are encoded plainly (no
        telemetry, no idempotent stamp).

        :raises ~anyio_eventhubs.EventTooLargeError: if the event can never fit a batch.
        """
        n = len(event)
        if n >= self._inline_limit:
            return None
        # encode_body(event): the data section's head for its length, then the body;
        # batch_entry_size: 5 bytes more below 256 bytes, 8 from there on
        size = n + 10 if n < 251 else n + 13
        if size > self._inline_room:
            raise EventTooLargeError(size, self._max_message_size)
        return self._round_robin.next(), SMALL_BODY_HEADS[n] + event, size

    def prepare_plain_event_data(self, event: EventData) -> tuple[str, bytes, int] | None:
        """:meth:`prepare_small_body` of an ``EventData`` for round robin that encodes as
        its body alone (most do: :func:`~anyio_eventhubs._codec.plain_body`), of any
        size: its partition id, encoded message and size in a batch; ``None`` (nothing
        changed) if it has more than a body, or events are not encoded plainly.

        :raises ~anyio_eventhubs.EventTooLargeError: if the event can never fit a batch.
        """
        if not self._inline_limit:
            return None
        body = plain_body(event)
        if body is None:
            return None
        small = self.prepare_small_body(body)  # up to 255 bytes
        if small is not None:
            return small
        message = encode_body(body)
        size = batch_entry_size(len(message))
        if size > self._inline_room:
            raise EventTooLargeError(size, self._max_message_size)
        return self._round_robin.next(), message, size

    def check_route(self, partition_id: str | None, partition_key: str | None) -> None:
        """Check a call's *partition_id* and *partition_key* (at most one, well formed).

        :raises TypeError: if one has the wrong type.
        :raises ValueError: if the partition does not exist, if both are given, or if the
            key is empty or not valid Unicode.
        """
        if partition_key is not None:
            if partition_id is not None:
                raise ValueError(
                    "give partition_id or partition_key, not both "
                    f"(got partition_id={partition_id!r}, partition_key={partition_key!r})"
                )
            if not isinstance(partition_key, str):
                raise TypeError(f"partition_key must be a str, got {type(partition_key).__name__}")
            if not partition_key:
                raise ValueError("partition_key must not be empty (use None for round robin)")
            if not partition_key.isascii():  # isascii() is O(1); most keys are ASCII
                try:
                    partition_key.encode("utf-8")
                except UnicodeEncodeError as exc:
                    raise ValueError(
                        "partition_key must be valid Unicode text (it is hashed as UTF-8): "
                        f"{exc.reason} at position {exc.start}"
                    ) from None
        elif partition_id is not None:
            self.check_partition_id(partition_id)

    def _partition_of_key(self, partition_key: str) -> str:
        """Hash *partition_key* (a cache miss) and remember where it goes."""
        partition_id = partition_for_key(partition_key, self._partition_ids)
        if len(self._key_partitions) >= _KEY_CACHE_SIZE:
            self._key_partitions.clear()
        self._key_partitions[partition_key] = partition_id
        return partition_id

    def prepare_many(
        self, events: Sequence[Event], partition_id: str | None, partition_key: str | None
    ) -> tuple[tuple[str, ...], list[QueuedEvent]]:
        """Validate and encode every event of *events*; return their route and queued
        forms, in order.

        The route is the partition ids in turn: ``events[i]`` goes to
        ``route[i % len(route)]`` (one id for a key or an explicit id; every id, from the
        round robin's next, otherwise).

        Nothing changes (not even the round-robin position) unless every event is valid.
        The error of the first bad event is raised with a note naming its index.

        :raises TypeError: if *events* is not a sequence, or as :meth:`prepare`.
        :raises ValueError: as :meth:`prepare`.
        :raises ~anyio_eventhubs.EventTooLargeError: as :meth:`prepare`.
        """
        if isinstance(events, (str, bytes, bytearray, memoryview)) or not isinstance(
            events, Sequence
        ):
            raise TypeError(
                "events must be a sequence (a list or a tuple) of events, got "
                f"{type(events).__name__}"
            )
        if partition_key is not None or partition_id is not None:
            self.check_route(partition_id, partition_key)
        encode = self._encode
        reserved = self._reserved
        room = self._max_message_size - BATCH_ENVELOPE_SIZE
        items: list[QueuedEvent] = []
        append = items.append
        index = 0
        try:
            for index, event in enumerate(events):  # noqa: B007 - the handler reads it
                item = QueuedEvent(event, encode(event, partition_key))
                item.size += reserved
                if item.size > room:
                    raise EventTooLargeError(item.size, self._max_message_size)
                append(item)
        except Exception as exc:
            exc.add_note(_not_accepted(index, len(events)))
            raise
        return self._route_many(len(items), partition_id, partition_key), items

    def _route_many(
        self, count: int, partition_id: str | None, partition_key: str | None
    ) -> tuple[str, ...]:
        if partition_key is not None:
            partition_id = self._key_partitions.get(partition_key)
            if partition_id is None:
                partition_id = self._partition_of_key(partition_key)
        if partition_id is not None:
            return (partition_id,)
        return self._round_robin.take(count)

    def prepare_runs(
        self, events: Sequence[Event], partition_id: str | None, partition_key: str | None
    ) -> tuple[tuple[str, ...], PreparedRuns] | None:
        """:meth:`prepare_many` for a list or tuple of ``bytes`` only, with no object
        per event: each partition's share is queued as one run (``_runs``).

        :returns: ``None`` (and nothing changed) if *events* is not a non-empty list or
            tuple of ``bytes`` alone: then call :meth:`prepare_many`.
        :raises: as :meth:`prepare_many`.
        """
        if type(events) is not list and type(events) is not tuple:
            return None
        if not events or set(map(type, events)) != {bytes}:
            return None
        if partition_key is not None or partition_id is not None:
            self.check_route(partition_id, partition_key)
        bodies: Sequence[bytes] = events  # (every one is bytes: checked above)
        if partition_key is None and self._encode is encode_event:
            messages = encode_bodies(bodies)
        else:
            messages = list(map(self._encode, bodies, repeat(partition_key)))
        sizes = batch_entry_sizes(messages, self._reserved)
        room = self._max_message_size - BATCH_ENVELOPE_SIZE
        if max(sizes) > room:
            index = next(i for i, size in enumerate(sizes) if size > room)
            error = EventTooLargeError(sizes[index], self._max_message_size)
            error.add_note(_not_accepted(index, len(events)))
            raise error
        route = self._route_many(len(messages), partition_id, partition_key)
        return route, PreparedRuns(events, messages, sizes)


def _not_accepted(index: int, total: int) -> str:
    return f"raised for events[{index}] of the {total} given; none of them was accepted"
