"""The payload of a batch transfer, built from events already encoded.

A batch goes out as one AMQP message of format ``0x80013700`` (azure-eventhub's
``BatchMessage``): the envelope's own sections, then one ``data`` section per event whose
binary is that event's complete encoded message. azure-eventhub builds it by encoding
every event again inside ``encode_payload``; :func:`encode_batch` only wraps the bytes
each event was given when it was accepted, and gives exactly the bytes azure's
``encode_payload`` gives for the same ``EventDataBatch`` (a Hypothesis suite in
``tests/codec`` proves it). Pure code: no I/O, no anyio, no azure import.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from ._message import DURABLE_HEADER, PARTITION_KEY_ANNOTATION, _map
from ._values import encode_value

__all__ = ["BATCH_MESSAGE_FORMAT", "batch_envelope", "encode_batch"]

#: the transfer's ``message-format`` for a batch (Microsoft's batched message format)
BATCH_MESSAGE_FORMAT = 0x80013700

_ANNOTATIONS = b"\x00\x53\x72"
#: a data section's descriptor and binary constructor, with the 8-bit length, per length
_SMALL = tuple(b"\x00\x53\x75\xa0" + bytes((n,)) for n in range(256))
_LARGE = b"\x00\x53\x75\xb0"
_pack_length = struct.Struct(">L").pack


def batch_envelope(partition_key: str | None) -> bytes:
    """The sections azure-eventhub puts on a batch's own message, before its events.

    An ``EventDataBatch`` made with a partition key carries it, as azure stamps a keyed
    message (a durable header and the ``x-opt-partition-key`` annotation); one made
    without (or with an empty key, which azure ignores) has no sections of its own, as
    every batch of the producer's transport.
    """
    if not partition_key:
        return b""
    out = bytearray(DURABLE_HEADER)
    entry = bytearray(b"\xa3" + bytes((len(PARTITION_KEY_ANNOTATION),)) + PARTITION_KEY_ANNOTATION)
    encode_value(entry, partition_key)
    _map(out, _ANNOTATIONS, entry, 1)
    return bytes(out)


def encode_batch(messages: Iterable[bytes], envelope: bytes = b"") -> bytes:
    """The transfer payload of a batch: *envelope*, then each message as a ``data`` section.

    :param messages: each event's complete encoded AMQP message, in order.
    :param envelope: the batch message's own sections (:func:`batch_envelope`).
    """
    parts = [envelope]
    append = parts.append
    for message in messages:
        size = len(message)
        append(_SMALL[size] if size < 256 else _LARGE + _pack_length(size))
        append(message)
    return b"".join(parts)
