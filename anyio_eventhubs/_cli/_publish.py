"""The engine of ``send`` and ``demo``: lines in, events out through the streaming producer.

Ctrl-C (or SIGTERM) is a signal the engine receives as an async iterable, so tests can
send it too. What it does depends on the phase:

- while connecting: stop at once;
- while reading input: stop reading, publish what is queued;
- while publishing what is queued: drop it (``clear()``), each dropped event counted as
  not published.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio
import click

from .._exceptions import EventTooLargeError
from .._open import open_streaming_producer
from .._producer import StreamingProducer
from ._progress import Counters, ProgressView, Sampler, refresh_forever

__all__ = ["Outcome", "PublishSettings", "partition_key_of", "publish_lines"]

#: invalid lines reported one by one; after that they are only counted
_SHOWN_INVALID = 5


@dataclass(frozen=True)
class PublishSettings:
    """How lines become events, and the producer's options."""

    partition_id: str | None = None
    #: a top-level field of each line (a JSON object) whose value is the partition key
    partition_key_field: str | None = None
    max_wait_time: float | None = 1.0
    max_queued_events: int = 1500


@dataclass
class Outcome:
    """What happened to the input."""

    counters: Counters = field(default_factory=Counters)
    #: whether a Ctrl-C (or SIGTERM) stopped it
    interrupted: bool = False
    #: whether the producer connected
    connected: bool = False
    #: seconds from the first event read to the last outcome
    elapsed: float = 0.0

    @property
    def exit_code(self) -> int:
        """130 if interrupted, 1 if any line or event was not published, else 0."""
        if self.interrupted:
            return 130
        c = self.counters
        return 1 if c.failed or c.dropped or c.invalid else 0


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


class _Control:
    """Where a Ctrl-C lands: the phase decides what it stops."""

    def __init__(self, view: ProgressView) -> None:
        self.view = view
        self.phase: Literal["connecting", "reading", "flushing", "done"] = "connecting"
        self.interrupted = False
        self.scope = anyio.CancelScope()
        self.read_scope = anyio.CancelScope()
        self.producer: StreamingProducer | None = None

    async def watch(self, interrupts: AsyncIterable[object]) -> None:
        async for _ in interrupts:
            self.interrupted = True
            if self.phase == "connecting":
                self.scope.cancel()
            elif self.phase == "reading":
                self.read_scope.cancel()
            elif self.phase == "flushing" and self.producer is not None:
                self.view.message(
                    f"interrupted: dropping the {self.producer.total_queued_event_count:,} "
                    "events still queued"
                )
                await self.producer.clear()


async def publish_lines(
    batches: AsyncGenerator[list[bytes], None],
    producer_arguments: dict[str, Any],
    settings: PublishSettings,
    view: ProgressView,
    interrupts: AsyncIterable[object] | None = None,
) -> Outcome:
    """Publish each non-empty line of *batches* as one event; return what happened.

    :param producer_arguments: how to connect (``connection_string=``, ``transport=``, ...).
    :param interrupts: each item is a Ctrl-C (see the module's docstring).
    :raises ValueError: (or ``TypeError``) for bad connection options.
    :raises click.UsageError: for a partition id the hub does not have.
    :raises ~anyio_eventhubs.EventHubsError: if the hub cannot be reached.
    """
    outcome = Outcome()
    control = _Control(view)
    error: Exception | None = None
    async with anyio.create_task_group() as task_group:
        if interrupts is not None:
            task_group.start_soon(control.watch, interrupts)
        try:
            with control.scope:
                await _publish(batches, producer_arguments, settings, view, outcome, control)
        except Exception as exc:
            error = exc
        finally:
            control.phase = "done"
            task_group.cancel_scope.cancel()
    outcome.interrupted = control.interrupted
    if error is not None:
        raise error
    return outcome


async def _publish(
    batches: AsyncGenerator[list[bytes], None],
    producer_arguments: dict[str, Any],
    settings: PublishSettings,
    view: ProgressView,
    outcome: Outcome,
    control: _Control,
) -> None:
    counters = outcome.counters
    async with open_streaming_producer(
        **producer_arguments,
        on_publish_succeeded=counters.on_published,
        on_publish_failed=counters.on_failed,
        max_wait_time=settings.max_wait_time,
        max_queued_events=settings.max_queued_events,
    ) as producer:
        control.producer = producer
        outcome.connected = True
        partition_ids = await producer.get_partition_ids()
        if settings.partition_id is not None and settings.partition_id not in partition_ids:
            raise click.UsageError(
                f"Event Hub {producer.eventhub_name!r} has no partition "
                f"{settings.partition_id!r}; its partitions are {', '.join(partition_ids)}"
            )
        sample = Sampler(counters)
        view.start()
        try:
            async with anyio.create_task_group() as task_group:
                task_group.start_soon(refresh_forever, view, sample)
                control.phase = "reading"
                with control.read_scope:
                    await _queue_all(producer, batches, settings, counters, view)
                control.phase = "flushing"
                if control.read_scope.cancel_called:
                    view.message(
                        f"interrupted: publishing the {producer.total_queued_event_count:,} "
                        "events already queued (Ctrl-C again to drop them)"
                    )
                await producer.flush()
                task_group.cancel_scope.cancel()
        finally:
            final = sample.final()
            outcome.elapsed = final.elapsed
            view.update(final)
            view.stop()


async def _queue_all(
    producer: StreamingProducer,
    batches: AsyncGenerator[list[bytes], None],
    settings: PublishSettings,
    counters: Counters,
    view: ProgressView,
) -> None:
    key_field = settings.partition_key_field
    partition_id = settings.partition_id
    line_number = 0

    def skip(reason: str) -> None:
        counters.invalid += 1
        if counters.invalid <= _SHOWN_INVALID:
            view.message(f"line {line_number}: {reason}; skipped")
        if counters.invalid == _SHOWN_INVALID:
            view.message("further invalid lines are counted, not shown")

    async with aclosing(batches):
        async for lines in batches:
            for line in lines:
                line_number += 1
                if not line.strip():
                    continue
                key = None
                if key_field is not None:
                    try:
                        key = partition_key_of(line, key_field)
                    except ValueError as exc:
                        skip(str(exc))
                        continue
                try:
                    await producer.queue_for_send(
                        line, partition_id=partition_id, partition_key=key
                    )
                except EventTooLargeError as exc:
                    skip(str(exc))
                    continue
                counters.queued += 1
