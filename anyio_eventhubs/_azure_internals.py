"""Every use of azure-eventhub's private internals, behind one small adapter.

azure-eventhub has no public API to encode one ``EventData`` to AMQP bytes, to decode
such bytes back, or to fill an ``EventDataBatch`` with events already encoded. This
module does those three things with the client's own private encoder and decoder, and
:func:`check_internals` proves, at import time, that the internals still behave as
assumed: a newer azure-eventhub that moves them fails loudly here, with
:class:`IncompatibleAzureEventHubError`, instead of sending something else.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

from azure.core.credentials import AzureNamedKeyCredential
from azure.eventhub import EventData, EventDataBatch
from azure.eventhub import __version__ as azure_eventhub_version

try:
    from azure.eventhub._pyamqp._decode import decode_payload
    from azure.eventhub._pyamqp._encode import encode_payload
    from azure.eventhub._transport._pyamqp_transport import PyamqpTransport
    from azure.eventhub.aio import EventHubProducerClient
    from azure.eventhub.aio._producer_async import EventHubProducer
except ImportError as exc:  # pragma: no cover - exercised only by a changed client
    raise ImportError(
        f"anyio-eventhubs needs the private AMQP encoder of azure-eventhub 5.15.x; "
        f"the installed azure-eventhub {azure_eventhub_version} does not have it ({exc}). "
        "Install azure-eventhub>=5.15,<5.16."
    ) from exc

__all__ = [
    "IncompatibleAzureEventHubError",
    "check_internals",
    "client_namespace",
    "close_partition_producer",
    "create_partition_producer",
    "decode_event",
    "encode_event_data",
    "fill_batch",
    "open_partition_producer",
    "reset_partition_producer",
    "send_batch_once",
]


class IncompatibleAzureEventHubError(RuntimeError):
    """The installed azure-eventhub's internals are not the ones this adapter knows."""


def encode_event_data(event: EventData, partition_key: str | None) -> bytes:
    """Encode *event* as one AMQP message, stamping *partition_key* as azure-eventhub does."""
    message = PyamqpTransport.to_outgoing_amqp_message(  # type: ignore[no-untyped-call]
        event.raw_amqp_message
    )
    if partition_key is not None:
        message = PyamqpTransport.set_message_partition_key(message, partition_key)
    out = bytearray()
    encode_payload(out, message)
    return bytes(out)


def decode_event(encoded: bytes) -> EventData:
    """Decode one encoded AMQP message into an ``EventData``, as a consumer would see it."""
    message = decode_payload(memoryview(encoded))
    return EventData._from_message(message)


def fill_batch(batch: EventDataBatch, encoded: list[bytes], size_in_bytes: int) -> None:
    """Put already-encoded events into an empty *batch*, as ``batch.add`` would have.

    :param encoded: one complete encoded AMQP message per event.
    :param size_in_bytes: the batch size these events add up to.
    """
    message: Any = batch._message
    message[5].extend(encoded)
    batch._size = size_in_bytes
    batch._count = len(encoded)


# -- the aio client's per-partition producer (used by anyio_eventhubs._azure) ----------------
#
# ``EventHubProducerClient.send_batch`` re-sends once after any error, and the partition
# producer's ``send`` retries ``retry_total`` times under its own back-off. The producer of
# anyio-eventhubs owns the retry policy, so it drives the partition producer one level
# lower: open the link, send one message, convert a failure the way the client does (which
# also closes what the failure broke, so the next send reopens it).


def client_namespace(client: EventHubProducerClient) -> str:
    """Return the namespace host *client* connects to (the client has no public property)."""
    return str(client._address.hostname)


def create_partition_producer(client: EventHubProducerClient, partition_id: str) -> Any:
    """Return a new producer for *partition_id* on *client*'s connection settings.

    The client does not track it: the caller opens it and must close it
    (:func:`close_partition_producer`).
    """
    return client._create_producer(partition_id=partition_id)


async def open_partition_producer(producer: Any) -> int:
    """Open *producer*'s connection and link; return the link's maximum message size."""
    await producer._open()
    return int(producer._max_message_size_on_link)


async def send_batch_once(producer: Any, batch: EventDataBatch) -> None:
    """Send *batch* on *producer*'s link exactly once, reopening the link if it is closed.

    :raises azure.eventhub.exceptions.EventHubError: (a subclass) as the client would
        have raised it, with the AMQP error in ``details``.
    """
    try:
        await producer._open()
        await producer._handler.send_message_async(batch._message, timeout=0)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        # closes the link or connection that the error broke, then converts the error
        converted = await producer._amqp_transport._handle_exception_async(exc, producer)
        raise converted from exc


async def reset_partition_producer(producer: Any) -> None:
    """Close *producer*'s link and connection (after an abandoned send); the next send reopens."""
    await producer._close_handler_async()


async def close_partition_producer(producer: Any) -> None:
    """Close *producer* for good."""
    await producer.close()


def _check_partition_producer() -> list[str]:
    """Check the pieces of the aio client the functions above rely on, without any I/O."""
    client = EventHubProducerClient(
        "probe.servicebus.windows.net", "probe", AzureNamedKeyCredential("probe", "probe")
    )
    producer = create_partition_producer(client, "7")
    problems = []
    if client_namespace(client) != "probe.servicebus.windows.net":
        problems.append("EventHubProducerClient._address.hostname changed")
    if not isinstance(producer, EventHubProducer) or not producer._target.endswith("/Partitions/7"):
        problems.append("EventHubProducerClient._create_producer(partition_id=) changed")
    for name in ("_open", "_close_handler_async", "close"):
        if not inspect.iscoroutinefunction(getattr(producer, name, None)):
            problems.append(f"EventHubProducer.{name} is no longer a coroutine function")
    handle = getattr(producer._amqp_transport, "_handle_exception_async", None)
    if not inspect.iscoroutinefunction(handle):
        problems.append("the aio transport has no _handle_exception_async")
    for attribute in ("_handler", "_max_message_size_on_link", "running"):
        if not hasattr(producer, attribute):
            problems.append(f"EventHubProducer has no attribute {attribute}")
    if not hasattr(EventDataBatch(max_size_in_bytes=64), "_message"):
        problems.append("EventDataBatch has no _message")
    return problems


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
        reference = list(batch._message[5])
        empty = EventDataBatch(max_size_in_bytes=1024)
        fill_batch(empty, [encode_event_data(EventData(b"probe"), None)], batch.size_in_bytes)
        filled = list(empty._message[5])
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
    try:
        problems.extend(_check_partition_producer())
    except Exception as exc:
        problems.append(f"the aio partition producer changed ({type(exc).__name__}: {exc})")
    if problems:
        raise IncompatibleAzureEventHubError(
            f"azure-eventhub {azure_eventhub_version}: "
            + "; ".join(problems)
            + " (anyio-eventhubs supports azure-eventhub 5.15.x)"
        )


check_internals()
