"""AMQP 1.0 encoding of single events and the size arithmetic of a batch.

Pure code: no I/O, no anyio. An event is encoded once, when it is accepted; the encoded
bytes travel with it to the transport, which wraps them in a batch (a message of format
``0x80013700`` whose body is one ``data`` section per event).

A body-only event (``bytes`` or ``str`` handed to ``queue_for_send``) is encoded here
directly; the bytes are identical to what azure-eventhub produces for ``EventData(body)``
(a test pins that). Richer :class:`~azure.eventhub.EventData` objects go through the
message codec (``_codec``), byte-identical to azure-eventhub's encoder.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Mapping, Sequence

__all__ = [
    "BATCH_ENVELOPE_SIZE",
    "SMALL_BODY_HEADS",
    "application_properties_section",
    "batch_entry_size",
    "batch_entry_sizes",
    "encode_bodies",
    "encode_body",
    "encode_body_with_properties",
]

_DATA_SECTION = b"\x00\x53\x75"
# header section: list8 of five fields, durable=true then four nulls (azure-eventhub sets it
# whenever a partition key is stamped on a message)
_DURABLE_HEADER = b"\x00\x53\x70\xc0\x07\x05\x56\x01\x40\x40\x40\x40"
_ANNOTATIONS_SECTION = b"\x00\x53\x72"
_APPLICATION_PROPERTIES_SECTION = b"\x00\x53\x74"
_PARTITION_KEY_SYMBOL = b"\xa3\x13x-opt-partition-key"

#: Bytes of an empty batch message; azure-eventhub counts an empty ``EventDataBatch`` as 0.
BATCH_ENVELOPE_SIZE = 0

_pack_b = struct.Struct(">B").pack
_pack_l = struct.Struct(">L").pack


def _binary(value: bytes) -> bytes:
    n = len(value)
    if n <= 255:
        return b"\xa0" + _pack_b(n) + value
    return b"\xb0" + _pack_l(n) + value


def _string(value: bytes) -> bytes:
    n = len(value)
    if n <= 255:
        return b"\xa1" + _pack_b(n) + value
    return b"\xb1" + _pack_l(n) + value


@functools.lru_cache(maxsize=4096)  # most streams reuse a small set of keys
def _partition_key_annotations(partition_key: str) -> bytes:
    items = _PARTITION_KEY_SYMBOL + _string(partition_key.encode("utf-8"))
    n = len(items)
    if n < 255:
        return _ANNOTATIONS_SECTION + b"\xc1" + _pack_b(n + 1) + b"\x02" + items
    return _ANNOTATIONS_SECTION + b"\xd1" + _pack_l(n + 4) + _pack_l(2) + items


def encode_body(body: bytes, partition_key: str | None = None) -> bytes:
    """Encode a body-only event as one complete AMQP message.

    :param body: the event body; a ``str`` body is encoded to UTF-8 by the caller.
    :param partition_key: stamped as the ``x-opt-partition-key`` message annotation.
    """
    if partition_key is None:
        n = len(body)
        if n <= 255:
            return b"\x00\x53\x75\xa0" + _pack_b(n) + body
        return b"\x00\x53\x75\xb0" + _pack_l(n) + body
    return (
        _DURABLE_HEADER + _partition_key_annotations(partition_key) + _DATA_SECTION + _binary(body)
    )


#: a body-only message up to 255 bytes long: its data section's head, per body length
SMALL_BODY_HEADS = tuple(_DATA_SECTION + b"\xa0" + bytes((n,)) for n in range(256))


def encode_bodies(bodies: Sequence[bytes]) -> list[bytes]:
    """:func:`encode_body` (without a partition key) of each of *bodies*.

    When no body is longer than 255 bytes (most events), each message is its
    precomputed head for that length plus the body, with no Python code per event.
    """
    lengths = list(map(len, bodies))
    if lengths and max(lengths) <= 255:
        return list(map(bytes.__add__, map(SMALL_BODY_HEADS.__getitem__, lengths), bodies))
    return list(map(encode_body, bodies))


def application_properties_section(properties: Mapping[str, str]) -> bytes:
    """The application-properties section of a message with these string properties."""
    items = b"".join(
        _string(key.encode("utf-8")) + _string(value.encode("utf-8"))
        for key, value in properties.items()
    )
    count = 2 * len(properties)
    n = len(items)
    if n < 255 and count <= 255:
        return _APPLICATION_PROPERTIES_SECTION + b"\xc1" + _pack_b(n + 1) + _pack_b(count) + items
    return _APPLICATION_PROPERTIES_SECTION + b"\xd1" + _pack_l(n + 4) + _pack_l(count) + items


def encode_body_with_properties(
    body: bytes, partition_key: str | None, properties: Mapping[str, str] | bytes
) -> bytes:
    """Encode a body-only event with string application properties (trace context).

    The bytes are what azure-eventhub produces for ``EventData(body)`` whose
    ``properties`` are *properties* (a test pins that); :func:`encode_body` stays the
    fast path for events without them.

    :param properties: the properties, or their :func:`application_properties_section`
        (made once for many events).
    """
    if isinstance(properties, bytes):
        section = properties
    else:
        section = application_properties_section(properties)
    if partition_key is None:
        return section + _DATA_SECTION + _binary(body)
    return (
        _DURABLE_HEADER
        + _partition_key_annotations(partition_key)
        + section
        + _DATA_SECTION
        + _binary(body)
    )


def batch_entry_size(encoded_size: int) -> int:
    """Return what one encoded event adds to a batch: its bytes plus its ``data`` wrapping.

    This is azure-eventhub's own arithmetic (``EventDataBatch.add``): 5 bytes of overhead
    below 256 bytes, 8 from there on.
    """
    return encoded_size + (5 if encoded_size < 256 else 8)


def batch_entry_sizes(messages: Sequence[bytes], reserved: int = 0) -> list[int]:
    """:func:`batch_entry_size` of each of *messages*, plus *reserved* bytes each."""
    return [n + reserved + (5 if n < 256 else 8) for n in map(len, messages)]
