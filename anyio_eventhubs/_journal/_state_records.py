"""The records of idempotent publishing's state (issue #10 item 4): defined, not used yet.

- ``PRODUCER_STATE``: ``producer group id i64, owner level i64, next sequence number
  i64, partition id length u8``, then the partition id.
- ``BATCH_SENT``: ``generation u64, first_seq u64, end_seq u64, sequence number i64,
  partition id length u8``, then the partition id: the batch of events ``first_seq`` to
  ``end_seq - 1`` was sent with that publishing sequence number (to re-send it after a
  crash with the same number and the same boundaries).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ._format import BATCH_SENT, PRODUCER_STATE, DamagedError, encode_pid, frame

__all__ = [
    "BatchSentRecord",
    "ProducerStateRecord",
    "decode_batch_sent",
    "decode_producer_state",
    "encode_batch_sent",
    "encode_producer_state",
]

_PRODUCER_STATE = struct.Struct("<qqqB")
_BATCH_SENT = struct.Struct("<QQQqB")


@dataclass(frozen=True, slots=True)
class ProducerStateRecord:
    """A partition's idempotent identity (not yet used by the store)."""

    partition_id: str
    producer_group_id: int
    owner_level: int
    next_sequence_number: int


@dataclass(frozen=True, slots=True)
class BatchSentRecord:
    """A batch of events ``first_seq`` to ``end_seq - 1`` sent with a publishing sequence
    number (not yet used by the store)."""

    partition_id: str
    generation: int
    first_seq: int
    end_seq: int
    sequence_number: int


def encode_producer_state(record: ProducerStateRecord) -> bytes:
    """A framed ``PRODUCER_STATE`` record."""
    pid = encode_pid(record.partition_id)
    fixed = _PRODUCER_STATE.pack(
        record.producer_group_id, record.owner_level, record.next_sequence_number, len(pid)
    )
    return frame(PRODUCER_STATE, fixed + pid)


def decode_producer_state(body: memoryview) -> ProducerStateRecord:
    try:
        group, owner, seq, n = _PRODUCER_STATE.unpack_from(body, 0)
        if _PRODUCER_STATE.size + n != len(body):
            raise ValueError("producer state does not add up")
        pid = bytes(body[_PRODUCER_STATE.size :]).decode("utf-8")
    except (struct.error, ValueError) as exc:
        raise DamagedError(f"malformed producer state record: {exc}", 0) from None
    return ProducerStateRecord(pid, group, owner, seq)


def encode_batch_sent(record: BatchSentRecord) -> bytes:
    """A framed ``BATCH_SENT`` record."""
    pid = encode_pid(record.partition_id)
    fixed = _BATCH_SENT.pack(
        record.generation, record.first_seq, record.end_seq, record.sequence_number, len(pid)
    )
    return frame(BATCH_SENT, fixed + pid)


def decode_batch_sent(body: memoryview) -> BatchSentRecord:
    try:
        generation, first, end, seq, n = _BATCH_SENT.unpack_from(body, 0)
        if _BATCH_SENT.size + n != len(body) or not first < end:
            raise ValueError("batch record does not add up")
        pid = bytes(body[_BATCH_SENT.size :]).decode("utf-8")
    except (struct.error, ValueError) as exc:
        raise DamagedError(f"malformed batch record: {exc}", 0) from None
    return BatchSentRecord(pid, generation, first, end, seq)
