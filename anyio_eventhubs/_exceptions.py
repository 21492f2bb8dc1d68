"""The exceptions of anyio-eventhubs: one tree, one base class.

::

    EventHubsError
    ├── ProducerClosedError           the producer is closed (or closing)
    ├── EventTooLargeError            (also a ValueError) an event can never fit a batch
    ├── PublishError                  a batch failed and no on_publish_failed handler took it
    ├── EventClearedError             clear() or a late close dropped the events
    ├── JournalError                  the journal cannot be used as asked: .path
    │   ├── JournalLockedError        another producer holds the journal's lock
    │   ├── JournalMismatchError      the journal belongs to another namespace or hub
    │   ├── JournalVersionError       written by a newer (or unknown) format version
    │   ├── JournalCorruptError       a damaged record, not at the end: .path, .offset
    │   └── JournalWriteError         a write failed (disk full, permission): not accepted
    └── TransportError                the service or the connection said no; is_transient
        ├── ConnectError              could not open a connection or link (transient)
        ├── ConnectionLostError       the connection or link went away (transient)
        ├── OperationTimeoutError     an attempt exceeded try_timeout (transient)
        ├── ServerBusyError           com.microsoft:server-busy (transient)
        ├── ThrottledError            amqp:resource-limit-exceeded (transient)
        ├── InternalServerError       amqp:internal-error (transient)
        ├── AuthenticationError       the credential was refused (not transient)
        ├── NotFoundError             unknown hub or partition (not transient)
        └── MessageTooLargeError      the service refused the size (not transient)

Transports map what their client raises to these classes at their boundary, most
specific first, always ``raise ... from exc``. The retry policy looks only at
``is_transient``.

Whether a failed attempt may have stored its batch is ``may_have_been_published`` on
each :class:`TransportError` class: ``False`` only where the failure proves the service
did not store it (it refused the transfer, or no connection was ever made); ``True``
wherever the outcome is unknown (a lost connection, a timeout, an internal error). A
failure report (:class:`PublishError`, ``PublishFailedEventArgs``) says
``may_have_been_published=True`` if *any* attempt of its batch may have stored it, so
an application that re-sends failures knows which may duplicate.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "AuthenticationError",
    "ConnectError",
    "ConnectionLostError",
    "EventClearedError",
    "EventHubsError",
    "EventTooLargeError",
    "InternalServerError",
    "JournalCorruptError",
    "JournalError",
    "JournalLockedError",
    "JournalMismatchError",
    "JournalVersionError",
    "JournalWriteError",
    "MessageTooLargeError",
    "NotFoundError",
    "OperationTimeoutError",
    "ProducerClosedError",
    "PublishError",
    "ServerBusyError",
    "ThrottledError",
    "TransportError",
]


class EventHubsError(Exception):
    """Base class of every exception raised by anyio-eventhubs."""


class ProducerClosedError(EventHubsError):
    """The producer is closed, or closing, and accepts no more events."""


class EventTooLargeError(EventHubsError, ValueError):
    """An event is larger than the largest batch the hub accepts.

    :ivar size: the event's encoded size in bytes (including its batch wrapping).
    :ivar max_size: the hub's maximum message size in bytes.
    """

    def __init__(self, size: int, max_size: int) -> None:
        super().__init__(
            f"the event is {size} bytes once encoded, larger than the hub's maximum "
            f"message size of {max_size} bytes"
        )
        self.size = size
        self.max_size = max_size


class PublishError(EventHubsError):
    """A batch could not be published and no ``on_publish_failed`` handler was given.

    Raised from the next :meth:`~anyio_eventhubs.StreamingProducer.flush` or from the exit
    of the ``async with`` block. Several at once arrive as an ``ExceptionGroup``: catch
    them with ``except* PublishError``.

    :ivar events: the events of the batch, as they were queued. An ``EventData`` is the
        object that was queued if the producer holds it (it has an
        ``on_publish_succeeded`` handler, or a journal); otherwise the producer kept only
        its encoded message, and this is an ``EventData`` decoded from it (the same body,
        properties and partition key, as sent).
    :ivar partition_id: the partition the batch was for.
    :ivar may_have_been_published: ``True`` if any attempt may have reached the service
        and been stored (a lost acknowledgement, a timeout, a cancelled send): re-sending
        these events may store them twice. ``False`` only when no attempt can have
        stored them.
    :ivar __cause__: the exception that made the publish fail.
    """

    def __init__(
        self,
        events: Sequence[Any],
        partition_id: str,
        cause: BaseException,
        *,
        may_have_been_published: bool = True,
    ) -> None:
        outcome = (
            "failed to publish but may have been stored"
            if may_have_been_published
            else "were not published"
        )
        super().__init__(
            f"{len(events)} event(s) for partition {partition_id!r} {outcome}: "
            f"{type(cause).__name__}: {cause}"
        )
        self.events = events
        self.partition_id = partition_id
        self.may_have_been_published = may_have_been_published
        self.__cause__ = cause


class EventClearedError(EventHubsError):
    """The events were dropped unpublished: by ``clear()``, or by a close that ran out of time.

    :ivar may_have_been_published: ``True`` when the events were being sent as the send was
        cancelled: the service may have stored them.
    :ivar reason: what dropped them.
    """

    def __init__(
        self, *, may_have_been_published: bool, reason: str = "clear() was called"
    ) -> None:
        if may_have_been_published:
            detail = "their send was cancelled; they may have reached the service"
        else:
            detail = "they were dropped before they were sent"
        super().__init__(f"{reason}: {detail}")
        self.may_have_been_published = may_have_been_published
        self.reason = reason


class TransportError(EventHubsError):
    """The service or the connection failed an operation.

    :ivar is_transient: whether trying again may succeed; drives the retry policy.
    :ivar may_have_been_published: whether the failed operation may still have stored
        what it sent (``True`` unless the failure proves otherwise).
    """

    is_transient: bool = False
    may_have_been_published: bool = True

    def __init__(self, *args: object, is_transient: bool | None = None) -> None:
        super().__init__(*args)
        if is_transient is not None:
            self.is_transient = is_transient


class ConnectError(TransportError):
    """A connection or link could not be opened."""

    is_transient = True
    may_have_been_published = False


class ConnectionLostError(TransportError):
    """The connection or link went away during an operation."""

    is_transient = True


class OperationTimeoutError(TransportError):
    """An attempt took longer than ``RetryOptions.try_timeout``.

    The service may still have stored what was sent: a retry can duplicate it (unless
    idempotent retries are on).
    """

    is_transient = True


class ServerBusyError(TransportError):
    """The service is busy (``com.microsoft:server-busy``)."""

    is_transient = True
    may_have_been_published = False


class ThrottledError(TransportError):
    """The namespace is throttled (``amqp:resource-limit-exceeded``)."""

    is_transient = True
    may_have_been_published = False


class InternalServerError(TransportError):
    """The service failed internally (``amqp:internal-error``)."""

    is_transient = True


class AuthenticationError(TransportError):
    """The credential was refused."""

    may_have_been_published = False


class NotFoundError(TransportError):
    """The Event Hub or partition does not exist."""

    may_have_been_published = False


class MessageTooLargeError(TransportError):
    """The service refused a message as too large."""

    may_have_been_published = False


class JournalError(EventHubsError):
    """The journal cannot be used as asked.

    :ivar path: the file or directory concerned.
    """

    def __init__(self, message: str, path: Path | str) -> None:
        super().__init__(message)
        self.path = Path(path)


class JournalLockedError(JournalError):
    """Another producer (in this process or another) holds the journal directory."""


class JournalMismatchError(JournalError):
    """The journal was written for another namespace or Event Hub."""


class JournalVersionError(JournalError):
    """The journal was written in a format version this version cannot read."""


class JournalCorruptError(JournalError):
    """A record is damaged somewhere other than at the very end of the journal.

    :ivar offset: the byte offset, in :attr:`path`, where the damage was found.
    """

    def __init__(self, message: str, path: Path | str, offset: int) -> None:
        super().__init__(f"{message} (in {path} at byte offset {offset})", path)
        self.offset = offset


class JournalWriteError(JournalError):
    """Writing to the journal failed (disk full, permission denied, ...).

    The events of the failed call were not journaled, so they were not accepted.

    :ivar errno: the operating system's error number, if any.
    """

    def __init__(self, message: str, path: Path | str, errno: int | None = None) -> None:
        super().__init__(message, path)
        self.errno = errno
