"""Lines to events: ``send``'s loop that queues what it reads, and the key field.

Without a key field or a journal, the lines read go to the producer in
``queue_many_for_send`` calls of up to 1024 lines (and at most ``max_queued_events``, so
that the input position shown moves while the producer waits for room).
:class:`~anyio_eventhubs.QueueManyProgress` then says which lines were accepted when a
Ctrl-C interrupts a call, so the position (``--skip``) is exact and lines past it are as
if never read. With a key field (each line has its own
key) or a journal (its position file is written after each accepted line), lines go one
by one.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import TYPE_CHECKING

from .._exceptions import EventTooLargeError
from .._many import QueueManyProgress
from .._producer import StreamingProducer
from ._outcomes import ENVELOPE_PREFIX, Line, unwrap
from ._position import PositionFile
from ._progress import ProgressView

if TYPE_CHECKING:
    from ._publish import Outcome, PublishSettings

__all__ = ["partition_key_of", "queue_all"]

#: invalid lines reported one by one; after that they are only counted
_SHOWN_INVALID = 5
#: lines per queue_many_for_send call, at most
_MANY_LINES = 1024


def partition_key_of(line: bytes, name: str) -> str:
    """The partition key in field *name* of *line*, a JSON object.

    Strings are used as they are, numbers as their JSON text.

    :raises ValueError: if *line* is not a JSON object with such a field, or the value is
        empty or not a string or number.
    """
    try:
        document = json.loads(line)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise ValueError(f"not JSON ({exc})") from None
    if not isinstance(document, dict):
        raise ValueError(f"not a JSON object, so no field {name!r}")
    if name not in document:
        raise ValueError(f"no field {name!r}")
    value = document[name]
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return json.dumps(value)
    raise ValueError(f"field {name!r} is {json.dumps(value)}, not a non-empty string or number")


async def queue_all(
    producer: StreamingProducer,
    batches: AsyncGenerator[list[bytes], None],
    settings: PublishSettings,
    outcome: Outcome,
    view: ProgressView,
    skip: int,
    positions: PositionFile | None,
) -> None:
    """Queue every line of *batches*: a batch of lines per ``queue_many_for_send`` call,
    or line by line with a key field (each line has its own key) or a journal (whose
    position file is written after each accepted line)."""
    counters, position = outcome.counters, outcome.position
    key_field = settings.partition_key_field
    partition_id = settings.partition_id
    # the line's number goes to the journal's directory once the event is in the journal
    record = positions.record if positions is not None else None
    tracking = counters.failed_out is not None

    def invalid(number: int, line: bytes, reason: str) -> None:
        counters.on_invalid(number, line, reason)
        if counters.invalid <= _SHOWN_INVALID:
            view.message(f"line {number}: {reason}; skipped")
        if counters.invalid == _SHOWN_INVALID:
            view.message("further invalid lines are counted, not shown")

    def consume(
        number: int, raw: bytes, bad: list[tuple[int, bytes, str]] | None = None
    ) -> tuple[bytes, str | None] | None:
        """Line *number*'s event and key, or None (empty, skipped or invalid). An invalid
        line is reported, or added to *bad* to be reported later."""
        if number <= skip or not raw.strip():
            return None
        data = raw
        try:
            if raw.startswith(ENVELOPE_PREFIX):
                data = unwrap(raw)
            key = None if key_field is None else partition_key_of(data, key_field)
        except ValueError as exc:
            if bad is None:
                invalid(number, data, str(exc))
            else:
                bad.append((number, data, str(exc)))
            return None
        event: bytes = Line(data) if tracking else data
        if tracking:
            counters.track(event, number)
        return event, key

    async def queue_one(number: int, event: bytes, key: str | None) -> bool:
        """Queue one line's event; return whether it was accepted."""
        try:
            await producer.queue_for_send(event, partition_id=partition_id, partition_key=key)
        except EventTooLargeError as exc:
            counters.untrack(event)
            invalid(number, event, str(exc))
            return False
        except BaseException:
            counters.untrack(event)
            raise
        counters.queued += 1
        return True

    async def queue_lines(lines: list[bytes]) -> None:
        """Queue a batch of lines in one call. After an interruption, every line before
        the first event not accepted is done (invalid ones reported) and the others are
        as if never read, so that ``--skip`` resumes exactly."""
        start = (position.lines, position.bytes_read)
        ends: list[tuple[int, int]] = []  # the position after each line
        per_line: list[bytes | tuple[int, bytes, str] | None] = []  # event, invalid, nothing
        events: list[bytes] = []
        at: list[int] = []  # the index of each event's line
        number, read = start
        for raw in lines:
            number += 1
            read += len(raw) + 1
            bad: list[tuple[int, bytes, str]] = []
            entry = consume(number, raw, bad)
            if entry is not None:
                events.append(entry[0])
                at.append(len(ends))
            per_line.append(entry[0] if entry is not None else (bad[0] if bad else None))
            ends.append((number, read))

        def done(count: int) -> None:
            """The first *count* lines are done: report the invalid ones, move on."""
            for item in per_line[:count]:
                if isinstance(item, tuple):
                    invalid(*item)
            position.lines, position.bytes_read = ends[count - 1] if count else start

        progress = QueueManyProgress()
        try:
            await producer.queue_many_for_send(events, partition_id=partition_id, progress=progress)
        except EventTooLargeError:  # nothing was accepted: line by line skips that line
            handed = 0  # events handed to queue_one (which untracks the one it refuses)
            try:
                for index, item in enumerate(per_line):
                    if isinstance(item, tuple):
                        invalid(*item)
                    elif item is not None:
                        handed += 1
                        await queue_one(ends[index][0], item, None)
                    position.lines, position.bytes_read = ends[index]
            except BaseException:
                for event in events[handed:]:
                    counters.untrack(event)
                raise
        except BaseException:
            accepted = progress.accepted
            counters.queued += accepted
            for event in events[accepted:]:
                counters.untrack(event)
            done(at[accepted] if accepted < len(events) else len(lines))
            raise
        else:
            counters.queued += len(events)
            done(len(lines))

    async with aclosing(batches):
        async for lines in batches:
            if key_field is None and record is None:
                # in calls of at most max_queued_events lines: the progress view's input
                # position moves after each call, and a Ctrl-C soon finds reading going on
                step = max(1, min(_MANY_LINES, settings.max_queued_events))
                for start in range(0, len(lines), step):
                    await queue_lines(lines[start : start + step])
                continue
            for raw in lines:
                number = position.lines + 1
                entry = consume(number, raw)
                if entry is not None and await queue_one(number, *entry) and record is not None:
                    record(number)
                position.lines = number
                position.bytes_read += len(raw) + 1
            if record is not None and position.lines > skip:  # empty or invalid lines too
                record(position.lines)
    if position.total_bytes is not None:  # the whole file: CRLF endings counted too
        position.bytes_read = position.total_bytes
