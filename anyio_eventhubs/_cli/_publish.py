"""The engine of ``send`` and ``demo``: lines in, events out through the streaming producer.

Ctrl-C (or SIGTERM) is a signal the engine receives as an async iterable of signal
numbers (already debounced, see ``_signals``), so tests can send it too. What it does
depends on the phase:

- while connecting: stop at once;
- while reading input: stop reading, publish what is queued;
- while publishing what is queued: drop it (``clear()``); each dropped event is failed,
  or of unknown outcome if it was being sent.

Lines are numbered from 1 as they are read, empty and skipped ones included, so that
``--skip N`` resumes after line N of the same input. With a journal (``send --journal``),
the line number is also written to the journal's directory after each accepted line
(``_position``), so that running ``send`` again resumes by itself.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio
import click

from .._journal_options import JournalOptions
from .._open import open_streaming_producer
from .._producer import StreamingProducer
from .._retry import RetryOptions
from ._outcomes import Counters, FailedOut, plural
from ._position import JournalSettings, PositionFile, where_to_resume
from ._progress import InputPosition, ProgressView, Sampler, refresh_forever
from ._queueing import partition_key_of, queue_all
from ._signals import exit_status_for

__all__ = [
    "EXIT_NOT_PUBLISHED",
    "EXIT_UNKNOWN",
    "Outcome",
    "PublishSettings",
    "partition_key_of",
    "publish_lines",
]


#: exit statuses (besides 0, 2 for click's usage errors, and 128 + a signal's number)
EXIT_NOT_PUBLISHED = 1
EXIT_UNKNOWN = 3


@dataclass(frozen=True)
class PublishSettings:
    """How lines become events, and the producer's options."""

    partition_id: str | None = None
    #: a top-level field of each line (a JSON object) whose value is the partition key
    partition_key_field: str | None = None
    max_wait_time: float | None = 1.0
    max_queued_events: int = 1500
    max_retries: int = 3
    try_timeout: float = 60.0
    #: input lines to pass over before publishing (``--skip``)
    skip: int = 0
    #: where the producer connects, for "connecting to ..."
    target: str = "the Event Hub"
    #: ``--journal DIR``: journal accepted events, and resume the input where it stopped
    journal: JournalSettings | None = None
    #: ``--idempotent``: the producer's ``enable_idempotent_retries``
    idempotent: bool = False


@dataclass
class Outcome:
    """What happened to the input."""

    counters: Counters = field(default_factory=Counters)
    position: InputPosition = field(default_factory=InputPosition)
    #: the signal (SIGINT, SIGTERM) that stopped it, if one did
    interrupted_by: int | None = None
    #: whether the producer connected
    connected: bool = False
    #: seconds from the producer's opening to the last outcome
    elapsed: float = 0.0
    #: events of earlier runs that the journal held and this run published (or not)
    recovered: int = 0
    #: the journal's directory, if ``--journal`` was given
    journal: str | None = None

    @property
    def interrupted(self) -> bool:
        return self.interrupted_by is not None

    @property
    def exit_code(self) -> int:
        """128 + the signal if interrupted; 3 if any event's outcome is unknown; 1 if any
        line was not published; else 0."""
        if self.interrupted_by is not None:
            return exit_status_for(self.interrupted_by)
        c = self.counters
        if c.unknown:
            return EXIT_UNKNOWN
        return EXIT_NOT_PUBLISHED if c.failed or c.invalid else 0


class _Control:
    """Where a Ctrl-C lands: the phase decides what it stops."""

    def __init__(self, view: ProgressView) -> None:
        self.view = view
        self.phase: Literal["connecting", "reading", "flushing", "done"] = "connecting"
        self.interrupted_by: int | None = None
        self.scope = anyio.CancelScope()
        self.read_scope = anyio.CancelScope()
        self.producer: StreamingProducer | None = None

    async def watch(self, interrupts: AsyncIterable[int]) -> None:
        async for signum in interrupts:
            if self.interrupted_by is None:
                self.interrupted_by = signum
            if self.phase == "connecting":
                self.scope.cancel()
            elif self.phase == "reading":
                self.read_scope.cancel()
            elif self.phase == "flushing" and self.producer is not None:
                queued = self.producer.total_queued_event_count
                if queued:
                    self.view.message(
                        f"interrupted again: dropping the {plural(queued, 'event')} still queued"
                    )
                await self.producer.clear()


async def publish_lines(
    batches: AsyncGenerator[list[bytes], None],
    producer_arguments: dict[str, Any],
    settings: PublishSettings,
    view: ProgressView,
    interrupts: AsyncIterable[int] | None = None,
    *,
    failed_out: FailedOut | None = None,
    position: InputPosition | None = None,
) -> Outcome:
    """Publish each non-empty line of *batches* as one event; return what happened.

    :param producer_arguments: how to connect (``connection_string=``, ``transport=``, ...).
    :param interrupts: signal numbers, each a Ctrl-C (see the module's docstring).
    :param failed_out: where lines that were not published go.
    :param position: the input's position (with its size, if known), updated as lines
        are consumed.
    :raises ValueError: (or ``TypeError``) for bad connection options.
    :raises click.UsageError: for a partition id the hub does not have.
    :raises ~anyio_eventhubs.EventHubsError: if the hub cannot be reached.
    """
    outcome = Outcome(position=position or InputPosition())
    outcome.counters.failed_out = failed_out
    control = _Control(view)
    sample = Sampler(outcome.counters, outcome.position, connecting=settings.target)
    error: Exception | None = None
    view.start()
    try:
        async with anyio.create_task_group() as task_group:
            if interrupts is not None:
                task_group.start_soon(control.watch, interrupts)
            view.update(sample())
            task_group.start_soon(refresh_forever, view, sample)
            try:
                with control.scope:
                    await _publish(batches, producer_arguments, settings, outcome, control, sample)
            except Exception as exc:
                error = exc
            finally:
                control.phase = "done"
                task_group.cancel_scope.cancel()
    finally:
        final = sample.final()
        if outcome.connected:
            outcome.elapsed = final.elapsed
            view.update(final)
        view.stop()
    outcome.interrupted_by = control.interrupted_by
    if error is not None:
        raise error
    return outcome


async def _publish(
    batches: AsyncGenerator[list[bytes], None],
    producer_arguments: dict[str, Any],
    settings: PublishSettings,
    outcome: Outcome,
    control: _Control,
    sample: Sampler,
) -> None:
    counters = outcome.counters
    retry_options = RetryOptions(max_retries=settings.max_retries, try_timeout=settings.try_timeout)
    journal = settings.journal
    if journal is not None:
        producer_arguments = {
            **producer_arguments,
            "journal": JournalOptions(journal.directory, durability=journal.durability),
        }
        outcome.journal = journal.directory
    async with open_streaming_producer(
        **producer_arguments,
        on_publish_succeeded=counters.on_published,
        on_publish_failed=counters.on_failed,
        max_wait_time=settings.max_wait_time,
        max_queued_events=settings.max_queued_events,
        retry_options=retry_options,
        enable_idempotent_retries=settings.idempotent,
    ) as producer:
        control.producer = producer
        outcome.connected = True
        partition_ids = await producer.get_partition_ids()
        if settings.partition_id is not None and settings.partition_id not in partition_ids:
            raise click.UsageError(
                f"Event Hub {producer.eventhub_name!r} has no partition "
                f"{settings.partition_id!r}; its partitions are {', '.join(partition_ids)}"
            )
        sample.connected()
        skip, positions = settings.skip, None
        if journal is not None:
            positions = _open_positions(journal)
            resume, note = where_to_resume(positions.saved, journal.identity)
            if note is not None:
                control.view.message(note)
            skip = max(skip, resume)
            positions.start(journal.identity)
        try:
            await _read_and_flush(producer, batches, settings, outcome, control, skip, positions)
        finally:
            outcome.recovered = producer.statistics().recovered
            if positions is not None:
                positions.close()


def _open_positions(journal: JournalSettings) -> PositionFile:
    try:
        return PositionFile.open(journal.directory, sync=journal.durability != "buffered")
    except OSError as exc:
        raise click.ClickException(
            f"cannot read or write the input position in the journal {journal.directory}: "
            f"{exc.strerror or exc}"
        ) from None


async def _read_and_flush(
    producer: StreamingProducer,
    batches: AsyncGenerator[list[bytes], None],
    settings: PublishSettings,
    outcome: Outcome,
    control: _Control,
    skip: int,
    positions: PositionFile | None,
) -> None:
    control.phase = "reading"
    with control.read_scope:
        await queue_all(producer, batches, settings, outcome, control.view, skip, positions)
    control.phase = "flushing"
    if control.read_scope.cancel_called:
        queued = producer.total_queued_event_count
        if queued:
            control.view.message(
                f"interrupted: stopped reading; publishing the {plural(queued, 'event')} "
                "already queued (Ctrl-C again to drop them)"
            )
        else:
            control.view.message("interrupted: stopped reading; nothing is left to publish")
        await producer.flush()
        return
    await producer.flush()
    if positions is not None:  # every line has an outcome: the next run starts afresh
        positions.finish()
