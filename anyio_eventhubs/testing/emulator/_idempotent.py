"""Idempotent publishing, the service's side: producer ids, epochs and sequence checks.

What the service does (see ``docs/idempotent-publishing.md`` for the sources):

- A sender link to a *partition* whose attach carries the desired capability
  ``com.microsoft:idempotent-producer`` is an idempotent producer. Its attach may carry
  the properties ``com.microsoft:producer-id`` (long), ``com.microsoft:producer-epoch``
  (short) and ``com.microsoft:producer-sequence-number`` (int), all or none, a null asking
  the service to choose. The attach reply carries all three: the producer id (assigned
  when none was given), its epoch, and the last sequence number stored for it on that
  partition.
- Each event of a transfer carries the same three keys as message annotations; the
  events of one transfer are numbered consecutively. A transfer that continues the
  producer's sequence is stored; one that lies wholly at or before the last stored number
  is a retry of something stored already: it is accepted and not stored again; anything
  else is rejected with ``com.microsoft:out-of-order-sequence``. A lower epoch than the
  partition has seen for the producer id is refused with
  ``com.microsoft:producer-epoch-stolen``.

Sequence numbers are non-negative 32-bit ints that wrap to 0 after ``2**31 - 1`` (as the
.NET client counts). A fresh producer reports ``-1``: nothing stored yet.

proton's Python API does not expose a link's desired capabilities, so
:class:`AttachSniffer` reads the client's attach frames from the bytes before proton sees
them. Everything here runs on the server thread.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Mapping
from dataclasses import dataclass
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
        if not isinstance(fields, list) or not fields or fields[2] is not False:
            return  # not a sender's attach
        desired = fields[12] if len(fields) > 12 else None
        if desired is None:
            capabilities: frozenset[str] = frozenset()
        elif isinstance(desired, list):
            capabilities = frozenset(str(c) for c in desired)
        else:
            capabilities = frozenset({str(desired)})
        properties = fields[13] if len(fields) > 13 and isinstance(fields[13], dict) else {}
        self.links[str(fields[0])] = (capabilities, {str(k): v for k, v in properties.items()})


# --- the producers' state -----------------------------------------------------------------


class AttachRefused(Exception):
    """An idempotent attach the service refuses (detach with ``condition``)."""

    def __init__(self, condition: str, description: str) -> None:
        super().__init__(description)
        self.condition = condition
        self.description = description


@dataclass
class _ProducerState:
    epoch: int
    last: int


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
    """Every idempotent producer's epoch and last sequence number, per partition."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._states: dict[tuple[str, str, int], _ProducerState] = {}
        #: transfers accepted as retries of what was stored already (not stored again)
        self.duplicates = 0

    def attach(
        self, eventhub_name: str, partition_id: str, properties: Mapping[str, Any]
    ) -> tuple[IdempotentLink, int]:
        """Attach a producer; return its link and its last sequence number on the partition.

        :raises AttachRefused: for an epoch lower than the partition has seen for the
            producer id, or for properties of the wrong type.
        """
        producer_id = properties.get(PRODUCER_ID)
        epoch = properties.get(PRODUCER_EPOCH)
        sequence = properties.get(PRODUCER_SEQUENCE_NUMBER)
        for name, value in (
            (PRODUCER_ID, producer_id),
            (PRODUCER_EPOCH, epoch),
            (PRODUCER_SEQUENCE_NUMBER, sequence),
        ):
            if value is not None and _as_int(value) is None:
                raise AttachRefused(ARGUMENT_ERROR, f"{name} must be an integer, got {value!r}")
        if producer_id is None:
            producer_id = next(self._ids)
            while any(key[2] == producer_id for key in self._states):
                producer_id = next(self._ids)
        key = (eventhub_name, partition_id, producer_id)
        state = self._states.get(key)
        if state is None:
            state = self._states[key] = _ProducerState(epoch or 0, -1)
        elif epoch is not None and epoch < state.epoch:
            raise AttachRefused(
                PRODUCER_EPOCH_STOLEN,
                f"producer {producer_id} on partition {partition_id!r} is owned by epoch "
                f"{state.epoch}; epoch {epoch} may no longer publish",
            )
        elif epoch is not None:
            state.epoch = epoch
        if sequence is not None:
            state.last = sequence
        link = IdempotentLink(eventhub_name, partition_id, producer_id, state.epoch)
        return link, state.last

    def check(self, link: IdempotentLink, events: list[bytes]) -> Verdict:
        """Judge a transfer of *link*: store it, accept it as a duplicate, or reject it."""
        state = self._states[link.eventhub_name, link.partition_id, link.producer_id]
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
        if first == next_sequence(state.last):
            return Verdict("store", last=last)
        if (state.last - last) % _SEQUENCE_SPACE < _SEQUENCE_SPACE // 2:
            return Verdict("duplicate")
        return Verdict(
            "reject",
            OUT_OF_ORDER_SEQUENCE,
            f"sequence number {first} for producer {link.producer_id} on partition "
            f"{link.partition_id!r} is out of order: the last stored is {state.last}, so "
            f"{next_sequence(state.last)} was expected",
        )

    def stored(self, link: IdempotentLink, last: int) -> None:
        """Record that a transfer of *link* ending at sequence number *last* is stored."""
        self._states[link.eventhub_name, link.partition_id, link.producer_id].last = last

    def rewind(self, link: IdempotentLink, by: int) -> None:
        """Forget the last *by* sequence numbers of *link*'s producer (a fault)."""
        state = self._states[link.eventhub_name, link.partition_id, link.producer_id]
        state.last = (state.last - by) % _SEQUENCE_SPACE if state.last >= 0 else state.last

    def snapshot(self) -> dict[tuple[str, str, int], tuple[int, int]]:
        """``(hub, partition, producer id) -> (epoch, last sequence number)``."""
        return {key: (s.epoch, s.last) for key, s in self._states.items()}
