"""Every use of azure-eventhub's private internals, behind one small adapter.

azure-eventhub has no public API to encode one ``EventData`` to AMQP bytes, to decode
such bytes back, or to fill an ``EventDataBatch`` with events already encoded. This
module does those three things with the client's own private encoder and decoder, and
:func:`check_internals` proves, at import time, that the internals still behave as
assumed: a newer azure-eventhub that moves them fails loudly here, with
:class:`IncompatibleAzureEventHubError`, instead of sending something else.
"""

from __future__ import annotations

from typing import Any

from azure.eventhub import EventData, EventDataBatch
from azure.eventhub import __version__ as azure_eventhub_version

try:
    from azure.eventhub._pyamqp._decode import decode_payload
    from azure.eventhub._pyamqp._encode import encode_payload
    from azure.eventhub._transport._pyamqp_transport import PyamqpTransport
except ImportError as exc:  # pragma: no cover - exercised only by a changed client
    raise ImportError(
        f"anyio-eventhubs needs the private AMQP encoder of azure-eventhub 5.15.x; "
        f"the installed azure-eventhub {azure_eventhub_version} does not have it ({exc}). "
        "Install azure-eventhub>=5.15,<5.16."
    ) from exc

__all__ = [
    "IncompatibleAzureEventHubError",
    "check_internals",
    "decode_event",
    "encode_event_data",
    "fill_batch",
]


class IncompatibleAzureEventHubError(RuntimeError):
    """The installed azure-eventhub's internals are not the ones this adapter knows."""


def encode_event_data(event: EventData, partition_key: str | None) -> bytes:
    """Encode *event* as one AMQP message, stamping *partition_key* as azure-eventhub does."""
    message = PyamqpTransport.to_outgoing_amqp_message(event.raw_amqp_message)
    if partition_key is not None:
        message = PyamqpTransport.set_message_partition_key(message, partition_key)
    out = bytearray()
    encode_payload(out, message)
    return bytes(out)


def decode_event(encoded: bytes) -> EventData:
    """Decode one encoded AMQP message into an ``EventData``, as a consumer would see it."""
    message = decode_payload(memoryview(encoded))
    return EventData._from_message(message)  # noqa: SLF001


def fill_batch(batch: EventDataBatch, encoded: list[bytes], size_in_bytes: int) -> None:
    """Put already-encoded events into an empty *batch*, as ``batch.add`` would have.

    :param encoded: one complete encoded AMQP message per event.
    :param size_in_bytes: the batch size these events add up to.
    """
    message: Any = batch._message  # noqa: SLF001
    message[5].extend(encoded)
    batch._size = size_in_bytes  # noqa: SLF001
    batch._count = len(encoded)  # noqa: SLF001


def check_internals() -> None:
    """Check that the private pieces used here still behave as this adapter assumes.

    :raises IncompatibleAzureEventHubError: naming what changed.
    """
    probe = EventData(b"probe")
    probe.properties = {"k": "v"}
    try:
        encoded = encode_event_data(probe, "key")
        back = decode_event(encoded)
        batch = EventDataBatch(max_size_in_bytes=1024)
        batch.add(EventData(b"probe"))
        reference = list(batch._message[5])  # noqa: SLF001
        empty = EventDataBatch(max_size_in_bytes=1024)
        fill_batch(empty, [encode_event_data(EventData(b"probe"), None)], batch.size_in_bytes)
        filled = list(empty._message[5])  # noqa: SLF001
    except Exception as exc:
        raise IncompatibleAzureEventHubError(
            f"azure-eventhub {azure_eventhub_version}: its private AMQP encoder changed "
            f"({type(exc).__name__}: {exc}); anyio-eventhubs supports azure-eventhub 5.15.x"
        ) from exc
    problems = []
    if back.body_as_str() != "probe" or back.partition_key != b"key":
        problems.append("an encoded event does not decode to the same body and key")
    if back.properties != {b"k": b"v"}:
        problems.append("application properties do not survive encoding")
    if filled != reference or len(empty) != 1:
        problems.append("a batch filled with pre-encoded events differs from batch.add()")
    if problems:
        raise IncompatibleAzureEventHubError(
            f"azure-eventhub {azure_eventhub_version}: " + "; ".join(problems)
            + " (anyio-eventhubs supports azure-eventhub 5.15.x)"
        )


check_internals()
