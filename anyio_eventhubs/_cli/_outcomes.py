"""Every input line's outcome: published, failed, or unknown (it may have been stored).

The producer's handlers only add to :class:`Counters` (plain integers, on the caller's
event loop, no task switch). Each line is queued as a :class:`Line`, a ``bytes`` whose
identity is its own (never an interned singleton), so a failure report leads back to
the input line numbers of its events.

A line that was not published goes, with ``--failed-out``, to a JSON-lines file of
envelopes, one per line, the line's place in the input and why::

    {"anyio-eventhubs-failed": "unknown", "line": 17, "reason": "...", "data": "..."}

``"failed"`` (the service did not store it), ``"unknown"`` (it may have been stored:
re-sending it may store it twice) or ``"skipped"`` (not a valid event; never sent).
``data`` is the line as it was read, or ``data_base64`` when it is not UTF-8. ``send``
reads an envelope back as the line it holds, so the file can be sent again as it is.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Literal

from .._events import Event, PublishFailedEventArgs, PublishSucceededEventArgs

__all__ = [
    "ENVELOPE_PREFIX",
    "Counters",
    "FailedOut",
    "Line",
    "Verdict",
    "plural",
    "unwrap",
]

Verdict = Literal["failed", "unknown", "skipped"]

#: how an envelope line starts (``json.dumps`` and ``jq -c`` both write it so)
ENVELOPE_PREFIX = b'{"anyio-eventhubs-failed"'
_MARK = "anyio-eventhubs-failed"


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``"1 event"``, ``"2 events"``, ``"1,000 events"``."""
    return f"{count:,} {noun if count == 1 else (nouns or noun + 's')}"


class Line(bytes):
    """An input line as queued: its identity (``id``) maps it back to its line number."""

    __slots__ = ()


def unwrap(line: bytes) -> bytes:
    """The line an envelope holds, or *line* itself if it is not an envelope.

    :raises ValueError: for a line that starts like an envelope but is not one.
    """
    if not line.startswith(ENVELOPE_PREFIX):
        return line
    try:
        envelope = json.loads(line)
        if "data_base64" in envelope:
            return base64.b64decode(envelope["data_base64"], validate=True)
        data = envelope["data"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"a malformed --failed-out envelope ({exc})") from None
    if not isinstance(data, str):
        raise ValueError("a malformed --failed-out envelope (data is not a string)")
    return data.encode("utf-8")


class FailedOut:
    """Writes envelopes to *file*, flushed after each report (a later kill loses none)."""

    def __init__(self, file: BinaryIO) -> None:
        self.file = file
        self.name = getattr(file, "name", "?")
        self.written = 0

    def write(self, entries: Sequence[tuple[int, bytes]], verdict: Verdict, reason: str) -> None:
        for number, data in entries:
            envelope: dict[str, object] = {_MARK: verdict, "line": number, "reason": reason}
            try:
                envelope["data"] = data.decode("utf-8")
            except UnicodeDecodeError:
                envelope["data_base64"] = base64.b64encode(data).decode("ascii")
            self.file.write(json.dumps(envelope, ensure_ascii=False).encode("utf-8") + b"\n")
        self.written += len(entries)
        self.file.flush()


def _body(event: Event) -> bytes:
    """The body of an event recovered from the journal (``send`` queues bytes only)."""
    if isinstance(event, bytes):
        return event
    if isinstance(event, str):
        return event.encode("utf-8")
    body: Any = event.body  # a data body: bytes, or its sections
    return body if isinstance(body, bytes) else b"".join(body)


def describe_error(exception: BaseException) -> str:
    """``"ErrorClass: message"``."""
    return f"{type(exception).__name__}: {exception}"


@dataclass
class Counters:
    """Every event's fate, as the send loop and the producer's handlers see it."""

    #: events accepted by the producer
    queued: int = 0
    #: events the service stored
    published: int = 0
    #: events that were not stored: refused, or dropped before they were sent
    failed: int = 0
    #: events that failed but may have been stored (a lost acknowledgement, a timeout,
    #: a send cancelled in flight): re-sending them may store them twice
    unknown: int = 0
    #: input lines that could not be made into events (not sent)
    invalid: int = 0
    #: "failed"/"unknown" -> "ErrorClass: message" -> how many events
    errors: dict[str, Counter[str]] = field(
        default_factory=lambda: {"failed": Counter(), "unknown": Counter()}
    )
    #: where lines that were not published go (``--failed-out``)
    failed_out: FailedOut | None = None
    #: ``id(line)`` -> (the line, its number), while the producer holds it
    _numbers: dict[int, tuple[bytes, int]] = field(default_factory=dict)

    def track(self, line: bytes, number: int) -> None:
        """Remember *line*'s number until its outcome (only with ``--failed-out``)."""
        if self.failed_out is not None:
            self._numbers[id(line)] = (line, number)

    def untrack(self, line: bytes) -> None:
        """Forget a line the producer did not accept."""
        self._numbers.pop(id(line), None)

    def _take(self, events: Sequence[Event]) -> list[tuple[int, bytes]]:
        numbers = self._numbers
        taken = []
        for event in events:
            entry = numbers.pop(id(event), None)
            if entry is not None:
                taken.append((entry[1], bytes(entry[0])))
            elif not isinstance(event, Line):  # recovered from the journal: line 0
                taken.append((0, _body(event)))
        return taken

    def on_published(self, args: PublishSucceededEventArgs) -> None:
        self.published += len(args.events)
        if self._numbers:
            for event in args.events:
                self._numbers.pop(id(event), None)

    def on_failed(self, args: PublishFailedEventArgs) -> None:
        # PublishFailedEventArgs.may_have_been_published (issue #16); before it, the
        # exception's own flag (EventClearedError, TransportError) is the best guess
        fallback = getattr(args.exception, "may_have_been_published", True)
        unknown = bool(getattr(args, "may_have_been_published", fallback))
        verdict: Verdict = "unknown" if unknown else "failed"
        count = len(args.events)
        if unknown:
            self.unknown += count
        else:
            self.failed += count
        reason = describe_error(args.exception)
        self.errors[verdict][reason] += count
        if self.failed_out is not None:
            self.failed_out.write(sorted(self._take(args.events)), verdict, reason)

    def on_invalid(self, number: int, line: bytes, reason: str) -> None:
        self.invalid += 1
        if self.failed_out is not None:
            self.failed_out.write([(number, line)], "skipped", reason)

    @property
    def not_published(self) -> int:
        """Accepted events that the service did not (or may not have) stored."""
        return self.failed + self.unknown

    @property
    def done(self) -> int:
        """Accepted events with an outcome."""
        return self.published + self.failed + self.unknown
