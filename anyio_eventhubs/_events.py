"""What an accepted event looks like inside the producer, and the handler arguments.

An accepted event is encoded once, here, when it is accepted (a fast path for ``bytes``
and ``str`` bodies; the message codec, byte-identical to azure-eventhub's encoder, for
:class:`~azure.eventhub.EventData`).
Handlers see the events exactly as they were queued: the same ``EventData``, ``bytes``
or ``str`` objects, in queue order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeAlias

from azure.eventhub import EventData
from azure.eventhub.amqp import AmqpMessageBodyType

from ._codec import encode_event_data
from ._codec import plain_body as body_only
from ._encoding import batch_entry_size, encode_body

__all__ = [
    "Event",
    "PublishFailedEventArgs",
    "PublishSucceededEventArgs",
    "QueuedEvent",
    "encode_event",
]

#: What ``queue_for_send`` accepts: an ``EventData`` or a body given as ``bytes`` or ``str``.
Event: TypeAlias = "EventData | bytes | str"


class QueuedEvent:
    """An accepted event: the original object, its encoding and its place in the queue."""

    __slots__ = ("arrived", "encoded", "event", "seq", "size")

    def __init__(self, event: Event, encoded: bytes, seq: int = 0) -> None:
        self.event = event
        self.encoded = encoded
        #: what the event adds to a batch, in bytes
        self.size = batch_entry_size(len(encoded))
        #: acceptance order within its partition
        self.seq = seq
        #: when its batcher first saw it (the batch deadline counts from here)
        self.arrived = 0.0

    def __repr__(self) -> str:
        return f"<QueuedEvent seq={self.seq} size={self.size}>"


def encode_event(event: object, partition_key: str | None) -> bytes:
    """Encode *event* as one AMQP message.

    :raises TypeError: if *event* is not ``EventData``, ``bytes`` or ``str``.
    :raises ValueError: if it cannot be encoded (a ``str`` that is not valid Unicode, an
        ``EventData`` with a property AMQP cannot carry).
    """
    if isinstance(event, bytes):
        return encode_body(event, partition_key)
    if isinstance(event, str):
        try:
            utf8 = event.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(
                f"a str event must be valid Unicode text (it is sent as UTF-8): {exc.reason} "
                f"at position {exc.start}"
            ) from None
        return encode_body(utf8, partition_key)
    if isinstance(event, EventData):
        body = body_only(event)
        if body is not None:
            return encode_body(body, partition_key)
        raw = event.raw_amqp_message
        if raw.body_type == AmqpMessageBodyType.DATA and next(iter(raw.body), None) is None:
            raise ValueError(
                "an EventData must have a body: AMQP 1.0 messages carry one, and this one "
                "has no data section (body=[]); give it b'' for an event with an empty body"
            )
        try:
            return encode_event_data(event, partition_key)
        except Exception as exc:  # what azure's encoder raises: ValueError, struct.error...
            raise ValueError(f"the event cannot be encoded as AMQP: {exc}") from exc
    if isinstance(event, (bytearray, memoryview)):
        raise TypeError(
            f"event must be EventData, bytes or str, got {type(event).__name__} "
            "(convert it with bytes() first: the producer keeps a reference until it is sent)"
        )
    raise TypeError(f"event must be EventData, bytes or str, got {type(event).__name__}")


class PublishSucceededEventArgs:
    """What ``on_publish_succeeded`` receives: a batch the service accepted.

    :ivar events: the events of the batch, as they were queued, in queue order.
    :ivar partition_id: the partition they were published to.
    """

    __slots__ = ("events", "partition_id")

    def __init__(self, events: Sequence[Event], partition_id: str) -> None:
        self.events = events
        self.partition_id = partition_id

    def __repr__(self) -> str:
        return (
            f"PublishSucceededEventArgs(events=<{len(self.events)} events>, "
            f"partition_id={self.partition_id!r})"
        )


class PublishFailedEventArgs:
    """What ``on_publish_failed`` receives: a batch the producer gave up on.

    :ivar events: the events of the batch, as they were queued, in queue order.
    :ivar partition_id: the partition they were for.
    :ivar exception: why they were not published (the last attempt's error, or an
        :class:`~anyio_eventhubs.EventClearedError`).
    :ivar may_have_been_published: ``True`` if any attempt may have reached the service
        and been stored (a lost acknowledgement, a timeout, a cancelled send), even when
        *exception* is a later attempt's plain refusal: re-sending these events may store
        them twice. ``False`` only when no attempt can have stored them.
    """

    __slots__ = ("_resend", "events", "exception", "may_have_been_published", "partition_id")

    def __init__(
        self,
        events: Sequence[Event],
        partition_id: str,
        exception: BaseException,
        *,
        may_have_been_published: bool = True,
        _resend: Callable[[], None] | None = None,
    ) -> None:
        self.events = events
        self.partition_id = partition_id
        self.exception = exception
        self.may_have_been_published = may_have_been_published
        self._resend = _resend

    def force_resend(self) -> None:
        """Publish this batch again, in the background, with a fresh retry budget.

        Call it from within the ``on_publish_failed`` handler. The events are then not
        failed after all: they keep their place in the queue count and get one more
        outcome (success, or another failure report). While ordering is on
        (``max_concurrent_sends_per_partition=1``) the batch goes ahead of later batches
        of its partition.

        :raises RuntimeError: if called after the handler returned, twice, or on events
            that cannot be resent (cleared events, or arguments made by hand).
        """
        if self._resend is None:
            raise RuntimeError(
                "force_resend() can only be called once, from within the on_publish_failed "
                "handler, for events the producer failed to publish (not cleared ones)"
            )
        resend, self._resend = self._resend, None
        resend()

    def __repr__(self) -> str:
        return (
            f"PublishFailedEventArgs(events=<{len(self.events)} events>, "
            f"partition_id={self.partition_id!r}, exception={self.exception!r}, "
            f"may_have_been_published={self.may_have_been_published})"
        )
