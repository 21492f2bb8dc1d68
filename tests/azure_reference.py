"""azure-eventhub's own encoder and decoder, for tests that compare our bytes with azure's.

The package encodes and decodes with its own codec (``anyio_eventhubs._codec``) and
imports none of this; the tests use azure's private pieces directly as the reference.
"""

from __future__ import annotations

from collections.abc import Mapping

from azure.eventhub import EventData
from azure.eventhub._pyamqp._decode import decode_payload
from azure.eventhub._pyamqp._encode import encode_payload
from azure.eventhub._transport._pyamqp_transport import PyamqpTransport

__all__ = ["decode_event", "encode_event_data"]


def encode_event_data(
    event: EventData, partition_key: str | None, extra_properties: Mapping[str, str] | None = None
) -> bytes:
    """*event* as azure-eventhub encodes it, stamped with *partition_key* as azure does.

    *extra_properties* (trace context) are added to the application properties; *event*
    itself is not changed.
    """
    message = PyamqpTransport.to_outgoing_amqp_message(  # type: ignore[no-untyped-call]
        event.raw_amqp_message
    )
    if partition_key is not None:
        message = PyamqpTransport.set_message_partition_key(message, partition_key)
    if extra_properties:
        merged = {**(message.application_properties or {}), **extra_properties}
        message = message._replace(application_properties=merged)
    out = bytearray()
    encode_payload(out, message)
    return bytes(out)


def decode_event(encoded: bytes) -> EventData:
    """One encoded AMQP message as azure-eventhub's consumer would hand it over."""
    return EventData._from_message(decode_payload(memoryview(encoded)))
