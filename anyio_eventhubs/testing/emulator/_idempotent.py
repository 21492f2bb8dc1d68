"""Idempotent publishing, the service's side: producer ids, epochs and sequence checks.

What the service does, as far as the SDKs' sources and live tests show (see "Resuming a
producer group" in ``docs/idempotent-publishing.md`` for the sources, and for what is
inferred):

- A sender link to a *partition* whose attach carries the desired capability
  ``com.microsoft:idempotent-producer`` is an idempotent producer. Its attach may carry
  the properties ``com.microsoft:producer-id`` (long), ``com.microsoft:producer-epoch``
  (short) and ``com.microsoft:producer-sequence-number`` (int), all or none, a null asking
  the service to choose. The attach reply carries all three.
- The service assigns producer ids. A new producer, and a producer taken over with a
  higher epoch, starts a fresh sequence: the reply reports the claimed sequence number,
  or ``0`` without a claim, and the first batch may start at that number or the next.
- A re-attach with the same epoch keeps the service's record. The reply reports the
  service's last stored number when none is claimed, and *echoes* a claimed number
  without adopting it: transfers are judged against the service's own record, so a batch
  continuing a stale claim is refused. A lower epoch is refused with
  ``com.microsoft:producer-epoch-stolen``; a producer id the service never assigned with
  ``amqp:not-allowed``; a negative epoch with ``com.microsoft:argument-out-of-range``.
- Each event of a transfer carries the same three keys as message annotations; the
  events of one transfer are numbered consecutively. A transfer that continues the
  producer's sequence is stored; an exact re-send of one of the producer's last few
  stored batches (same first and last number) is accepted and not stored again; anything
  else is rejected with ``com.microsoft:out-of-order-sequence``. A transfer on a link
  whose epoch was superseded is rejected with ``com.microsoft:producer-epoch-stolen``.

Sequence numbers are non-negative 32-bit ints that wrap to 0 after ``2**31 - 1`` (as the
.NET client counts).

proton's Python API does not expose a link's desired capabilities, so
:class:`AttachSniffer` reads the client's attach frames from the bytes before proton sees
them. Everything here runs on the server thread.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ._codec import Described, decode_value, skip_value

__all__ = [
    "IDEMPOTENT_PRODUCER",
    "OUT_OF_ORDER_SEQUENCE",
    "PRODUCER_EPOCH",
    "PRODUCER_EPOCH_STOLEN",
    "PRODUCER_ID",
    "PRODUCER_SEQUENCE_NUMBER",
    "AttachRefused",
    "AttachSniffer",
    "IdempotentLink",
    "ProducerRegistry",
    "Verdict",
    "next_sequence",
    "producer_stamp",
]

IDEMPOTENT_PRODUCER = "com.microsoft:idempotent-producer"
PRODUCER_ID = "com.microsoft:producer-id"
PRODUCER_EPOCH = "com.microsoft:producer-epoch"
PRODUCER_SEQUENCE_NUMBER = "com.microsoft:producer-sequence-number"
OUT_OF_ORDER_SEQUENCE = "com.microsoft:out-of-order-sequence"
PRODUCER_EPOCH_STOLEN = "com.microsoft:producer-epoch-stolen"
ARGUMENT_ERROR = "com.microsoft:argument-error"
ARGUMENT_OUT_OF_RANGE = "com.microsoft:argument-out-of-range"
NOT_ALLOWED = "amqp:not-allowed"

_SEQUENCE_SPACE = 2**31
_u32 = struct.Struct(">I")
_ATTACH = 0x12
_ANNOTATIONS = 0x72


def next_sequence(sequence: int) -> int:
    """The sequence number after *sequence* (``-1`` means none yet; wraps to 0)."""
    return (sequence + 1) % _SEQUENCE_SPACE


# --- reading the client's attach frames --------------------------------------------------


class AttachSniffer:
    """Record the desired capabilities and properties of each attach the client sends.

    Feed it the AMQP bytes (after SASL) before they go to proton; frames are cut by their
    size and only attach frames are kept and decoded, so a large transfer costs no copy.
    """

    def __init__(self) -> None:
        self._skip = 8  # the AMQP protocol header
        self._head = bytearray()
        self._frame: bytearray | None = None
        self._size = 0
        #: link name -> (desired capabilities, properties) of a sender link being attached
        self.links: dict[str, tuple[frozenset[str], dict[str, Any]]] = {}
        #: the same for a receiver link (owner level, runtime metric)
        self.receivers: dict[str, tuple[frozenset[str], dict[str, Any]]] = {}

    def feed(self, data: bytes) -> None:
        pos, end = 0, len(data)
        while pos < end:
            if self._skip:
                taken = min(self._skip, end - pos)
                self._skip -= taken
                pos += taken
            elif self._frame is not None:
                chunk = data[pos : pos + self._size - len(self._frame)]
                self._frame += chunk
                pos += len(chunk)
                if len(self._frame) == self._size:
                    frame, self._frame = bytes(self._frame), None
                    self._read(frame)
            else:
                pos = self._read_head(data, pos)

    def _read_head(self, data: bytes, pos: int) -> int:
        head = self._head
        need = 8 if len(head) < 8 else head[4] * 4 + 3
        chunk = data[pos : pos + need - len(head)]
        head += chunk
        pos += len(chunk)
        if len(head) < need:
            return pos
        size = _u32.unpack_from(head, 0)[0]
        doff = head[4] * 4
        if len(head) == 8 and (head[5] != 0 or doff < 8 or size < doff + 3):
            self._skip = max(size - 8, 0)  # an empty (heartbeat) or non-AMQP frame
            head.clear()
        elif len(head) == doff + 3:
            if head[doff : doff + 3] == bytes((0x00, 0x53, _ATTACH)):
                self._frame, self._size = bytearray(head), size
            else:
                self._skip = size - len(head)
            head.clear()
        return pos

    def _read(self, frame: bytes) -> None:
        try:
            performative, _ = decode_value(frame, frame[4] * 4)
        except (ValueError, IndexError):
            return  # proton will refuse the frame
        fields = performative.value if isinstance(performative, Described) else None
        if not isinstance(fields, list) or len(fields) < 3 or not isinstance(fields[2], bool):
            return
        desired = fields[12] if len(fields) > 12 else None
        if desired is None:
            capabilities: frozenset[str] = frozenset()
        elif isinstance(desired, list):
            capabilities = frozenset(str(c) for c in desired)
        else:
            capabilities = frozenset({str(desired)})
        properties = fields[13] if len(fields) > 13 and isinstance(fields[13], dict) else {}
        records = self.receivers if fields[2] else self.links
        records[str(fields[0])] = (capabilities, {str(k): v for k, v in properties.items()})


# --- the producers' state -----------------------------------------------------------------


class AttachRefused(Exception):
    """An idempotent attach the service refuses (detach with ``condition``)."""

    def __init__(self, condition: str, description: str) -> None:
        super().__init__(description)
        self.condition = condition
        self.description = description


#: how many of a producer's latest stored batches an exact re-send is recognised for
RECENT_BATCHES = 5


@dataclass
class _ProducerState:
    epoch: int
    #: what the attach reply reports while nothing is stored under this epoch
    start: int = 0
    #: the last sequence number stored under this epoch (None: nothing yet)
    last: int | None = None
    #: (first, last) of the latest stored batches, oldest first
    recent: list[tuple[int, int]] = field(default_factory=list)
    #: (first, last) of the transfer judged "store" and not yet recorded by ``stored``
    pending: tuple[int, int] | None = None

    def reported(self) -> int:
        return self.start if self.last is None else self.last


@dataclass(frozen=True)
class IdempotentLink:
    """What an attached idempotent sender link publishes as."""

    eventhub_name: str
    partition_id: str
    producer_id: int
    epoch: int


class Verdict(NamedTuple):
    """What to do with one transfer of an idempotent producer."""

    action: str
    """``"store"``, ``"duplicate"`` (accept, store nothing) or ``"reject"``."""
    condition: str = ""
    description: str = ""
    last: int = -1
    """For ``"store"``: the producer's last sequence number once stored."""


def _as_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def producer_stamp(raw: bytes) -> tuple[int | None, int | None, int | None]:
    """An event's ``(producer id, epoch, sequence number)`` annotations (``None`` if unset)."""
    pos, size = 0, len(raw)
    while pos + 3 <= size and raw[pos] == 0x00 and raw[pos + 1] == 0x53:
        code = raw[pos + 2]
        if code > _ANNOTATIONS:
            break
        if code == _ANNOTATIONS:
            annotations, _ = decode_value(raw, pos + 3)
            if not isinstance(annotations, dict):
                break
            return (
                _as_int(annotations.get(PRODUCER_ID)),
                _as_int(annotations.get(PRODUCER_EPOCH)),
                _as_int(annotations.get(PRODUCER_SEQUENCE_NUMBER)),
            )
        pos = skip_value(raw, pos + 3)
    return None, None, None


class ProducerRegistry:
    """Every idempotent producer's epoch and stored sequence numbers, per partition."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._states: dict[tuple[str, str, int], _ProducerState] = {}
        #: producer ids assigned, per event hub
        self._assigned: dict[str, set[int]] = {}
        #: transfers accepted as retries of what was stored already (not stored again)
        self.duplicates = 0

    def attach(
        self, eventhub_name: str, partition_id: str, properties: Mapping[str, Any]
    ) -> tuple[IdempotentLink, int]:
        """Attach a producer; return its link and the sequence number its reply reports.

        :raises AttachRefused: for properties of the wrong type or range, a producer id
            the service never assigned, or an epoch lower than the partition has seen for
            the producer id.
        """
        producer_id = properties.get(PRODUCER_ID)
        epoch = properties.get(PRODUCER_EPOCH)
        claimed = properties.get(PRODUCER_SEQUENCE_NUMBER)
        for name, value in (
            (PRODUCER_ID, producer_id),
            (PRODUCER_EPOCH, epoch),
            (PRODUCER_SEQUENCE_NUMBER, claimed),
        ):
            if value is not None and _as_int(value) is None:
                raise AttachRefused(ARGUMENT_ERROR, f"{name} must be an integer, got {value!r}")
        if epoch is not None and epoch < 0:
            raise AttachRefused(
                ARGUMENT_OUT_OF_RANGE, f"{PRODUCER_EPOCH} must not be negative, got {epoch}"
            )
        if claimed is not None and not 0 <= claimed < _SEQUENCE_SPACE:
            raise AttachRefused(
                ARGUMENT_OUT_OF_RANGE,
                f"{PRODUCER_SEQUENCE_NUMBER} must be between 0 and {_SEQUENCE_SPACE - 1}, "
                f"got {claimed}",
            )
        assigned = self._assigned.setdefault(eventhub_name, set())
        if producer_id is None:
            producer_id = next(self._ids)
            assigned.add(producer_id)
        elif producer_id not in assigned:
            raise AttachRefused(
                NOT_ALLOWED,
                f"producer id {producer_id} was not assigned by the service for event hub "
                f"{eventhub_name!r}; attach without one to be given a producer id",
            )
        key = (eventhub_name, partition_id, producer_id)
        state = self._states.get(key)
        if state is None or (epoch is not None and epoch > state.epoch):
            # a new producer on the partition, or one taken over: a fresh sequence
            state = self._states[key] = _ProducerState(
                epoch if epoch is not None else 0, claimed if claimed is not None else 0
            )
            reported = state.start
        elif epoch is not None and epoch < state.epoch:
            raise AttachRefused(
                PRODUCER_EPOCH_STOLEN,
                f"producer {producer_id} on partition {partition_id!r} is owned by epoch "
                f"{state.epoch}; epoch {epoch} may no longer publish",
            )
        elif claimed is None:
            reported = state.reported()
        else:
            if state.last is None:
                state.start = claimed  # nothing stored yet: the claim sets the start
            reported = claimed  # echoed; transfers are judged against the record
        link = IdempotentLink(eventhub_name, partition_id, producer_id, state.epoch)
        return link, reported

    def check(self, link: IdempotentLink, events: list[bytes]) -> Verdict:
        """Judge a transfer of *link*: store it, accept it as a duplicate, or reject it."""
        state = self._states[link.eventhub_name, link.partition_id, link.producer_id]
        state.pending = None
        if link.epoch < state.epoch:
            return Verdict(
                "reject",
                PRODUCER_EPOCH_STOLEN,
                f"producer {link.producer_id} was superseded by epoch {state.epoch}",
            )
        stamps = [producer_stamp(raw) for raw in events]
        first = expected = stamps[0][2] or 0
        for producer_id, epoch, sequence in stamps:
            if (producer_id, epoch) != (link.producer_id, link.epoch) or sequence is None:
                return Verdict(
                    "reject",
                    ARGUMENT_ERROR,
                    f"every event of an idempotent producer must carry {PRODUCER_ID}="
                    f"{link.producer_id}, {PRODUCER_EPOCH}={link.epoch} and a "
                    f"{PRODUCER_SEQUENCE_NUMBER}; got {producer_id}, {epoch}, {sequence}",
                )
            if sequence != expected:
                return Verdict(
                    "reject",
                    OUT_OF_ORDER_SEQUENCE,
                    f"the events of a batch must be numbered consecutively: {sequence} "
                    f"where {expected} was expected",
                )
            expected = next_sequence(sequence)
        last = (first + len(events) - 1) % _SEQUENCE_SPACE
        where = f"for producer {link.producer_id} on partition {link.partition_id!r}"
        if state.last is None:
            if first in (state.start, next_sequence(state.start)):
                state.pending = (first, last)
                return Verdict("store", last=last)
            return Verdict(
                "reject",
                OUT_OF_ORDER_SEQUENCE,
                f"sequence number {first} {where} is out of order: nothing is stored under "
                f"epoch {state.epoch} yet, so {state.start} or {next_sequence(state.start)} "
                "was expected",
            )
        if first == next_sequence(state.last):
            state.pending = (first, last)
            return Verdict("store", last=last)
        if (first, last) in state.recent:
            return Verdict("duplicate")
        if (state.last - first) % _SEQUENCE_SPACE < _SEQUENCE_SPACE // 2:
            problem = (
                f"it repeats numbers up to the last stored, {state.last}, without being a "
                f"re-send of one of the last {RECENT_BATCHES} stored batches"
            )
        else:
            problem = f"the last stored is {state.last}"
        return Verdict(
            "reject",
            OUT_OF_ORDER_SEQUENCE,
            f"sequence number {first} {where} is out of order: {problem}, so "
            f"{next_sequence(state.last)} was expected",
        )

    def stored(self, link: IdempotentLink, last: int) -> None:
        """Record that a transfer of *link* ending at sequence number *last* is stored."""
        state = self._states[link.eventhub_name, link.partition_id, link.producer_id]
        pending, state.pending = state.pending, None
        if pending is not None and pending[1] == last:
            state.recent = [*state.recent, pending][-RECENT_BATCHES:]
        state.last = last

    def rewind(self, link: IdempotentLink, by: int) -> None:
        """Forget the last *by* sequence numbers of *link*'s producer (a fault)."""
        state = self._states[link.eventhub_name, link.partition_id, link.producer_id]
        if state.last is None:
            return
        state.last = (state.last - by) % _SEQUENCE_SPACE
        state.recent = [  # a batch ending in the forgotten numbers is forgotten too
            batch
            for batch in state.recent
            if not 0 < (batch[1] - state.last) % _SEQUENCE_SPACE <= by
        ]

    def snapshot(self) -> dict[tuple[str, str, int], tuple[int, int]]:
        """``(hub, partition, producer id) -> (epoch, sequence number an attach reports)``."""
        return {key: (s.epoch, s.reported()) for key, s in self._states.items()}
