"""Our AMQP 1.0 message codec: ``EventData`` and ``AmqpAnnotatedMessage`` to bytes and back.

Sans-IO, in the style of h11 and wsproto: pure functions over ``bytes``, no I/O, no
anyio, and no private azure-eventhub import. Encoding gives exactly the bytes that
azure-eventhub sends for the same event (a Hypothesis suite in ``tests/codec`` proves it
against azure's own encoder); decoding gives an ``EventData`` as a consumer receives it.

- :func:`encode_event_data`, :func:`encode_annotated_message`: one event, one message,
  optionally stamped with a partition key as azure stamps it.
- :func:`decode_message`: the reverse, built with azure's public constructors.
- :func:`plain_body`: the body of an event that has nothing else (the fast path).
- :func:`encode_batch`: a batch's transfer payload, from its events' encoded bytes.
"""

from __future__ import annotations

from ._batch import BATCH_MESSAGE_FORMAT, batch_envelope, encode_batch
from ._decode import decode_message, decode_value
from ._message import (
    DURABLE_HEADER,
    PARTITION_KEY_ANNOTATION,
    encode_annotated_message,
    encode_event_data,
    plain_body,
)
from ._scalars import DECIMAL128

__all__ = [
    "BATCH_MESSAGE_FORMAT",
    "DECIMAL128",
    "DURABLE_HEADER",
    "PARTITION_KEY_ANNOTATION",
    "batch_envelope",
    "decode_message",
    "decode_value",
    "encode_annotated_message",
    "encode_batch",
    "encode_event_data",
    "plain_body",
]
