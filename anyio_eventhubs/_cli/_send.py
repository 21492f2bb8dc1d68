"""``anyio-eventhubs send [FILE]``: publish newline-delimited events from a file or stdin."""

from __future__ import annotations

import io
import os
import signal
import stat
import threading
from collections.abc import AsyncGenerator, Callable
from contextlib import AbstractContextManager
from typing import Any, BinaryIO, Literal, TypeVar

import anyio
import click
from rich.console import Console

from .._exceptions import ConnectError, EventHubsError
from ._connection import Connection, connection_options
from ._lines import read_line_batches
from ._network import network_arguments, network_options
from ._outcomes import FailedOut
from ._position import JournalSettings, identify
from ._progress import InputPosition, ProgressMode, ProgressView, make_view
from ._publish import Outcome, PublishSettings, publish_lines
from ._signals import presses
from ._summary import summary

__all__ = ["backend_option", "producer_options", "progress_option", "run_publish", "send"]

F = TypeVar("F", bound=Callable[..., Any])

backend_option = click.option(
    "--backend",
    type=click.Choice(["asyncio", "trio"]),
    default="asyncio",
    show_default=True,
    help="The event loop to run the producer on.",
)


def producer_options(func: F) -> F:
    """``--max-wait-time``, ``--max-queued-events``, ``--max-retries``, the timeouts."""
    options = [
        click.option(
            "--max-wait-time",
            type=click.FloatRange(min=0),
            default=1.0,
            show_default=True,
            help="Seconds a partial batch waits for more events before it is sent.",
        ),
        click.option(
            "--max-queued-events",
            type=click.IntRange(min=1),
            default=1500,
            show_default=True,
            help="Per partition, events without an outcome before reading input waits.",
        ),
        click.option(
            "--max-retries",
            type=click.IntRange(min=0),
            default=3,
            show_default=True,
            help="Retries of a batch after a transient failure (0: none).",
        ),
        click.option(
            "--try-timeout",
            type=click.FloatRange(min=0, min_open=True),
            default=60.0,
            show_default=True,
            help="Seconds one attempt to send a batch may take; its outcome is then unknown.",
        ),
        click.option(
            "--open-timeout",
            type=click.FloatRange(min=0, min_open=True, max=1e9),
            default=60.0,
            show_default=True,
            help="Seconds connecting to the hub may take before send gives up.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


progress_option = click.option(
    "--progress",
    type=click.Choice(["auto", "bar", "plain", "off"]),
    default="auto",
    show_default=True,
    help="A live bar (auto: on a terminal), a line of counts each second, or nothing.",
)


async def _with_signals(
    batches: AsyncGenerator[list[bytes], None],
    producer_arguments: dict[str, Any],
    settings: PublishSettings,
    view: ProgressView,
    failed_out: FailedOut | None,
    position: InputPosition | None,
) -> Outcome:
    if threading.current_thread() is not threading.main_thread():
        return await publish_lines(
            batches, producer_arguments, settings, view, failed_out=failed_out, position=position
        )
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        return await publish_lines(
            batches,
            producer_arguments,
            settings,
            view,
            presses(signals),
            failed_out=failed_out,
            position=position,
        )


def run_publish(
    batches: AsyncGenerator[list[bytes], None],
    connection: AbstractContextManager[dict[str, Any]],
    settings: PublishSettings,
    view: ProgressView,
    backend: str,
    *,
    failed_out: FailedOut | None = None,
    position: InputPosition | None = None,
) -> Outcome:
    """Run :func:`publish_lines` on *backend*, Ctrl-C handled; errors as click's.

    :raises click.ClickException: if the hub cannot be reached or an option is bad.
    """
    try:
        with connection as producer_arguments:
            return anyio.run(
                _with_signals,
                batches,
                producer_arguments,
                settings,
                view,
                failed_out,
                position,
                backend=backend,
            )
    except (ValueError, TypeError) as exc:
        raise click.UsageError(str(exc)) from None
    except ConnectError as exc:
        raise click.ClickException(
            f"{type(exc).__name__}: {exc} (nothing was sent; --open-timeout sets how long to wait)"
        ) from None
    except EventHubsError as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from None


def _input_size(file: BinaryIO) -> int | None:
    """The size of a regular file; ``None`` for a pipe, a terminal or a stream."""
    try:
        status = os.fstat(file.fileno())
    except (AttributeError, OSError, io.UnsupportedOperation):
        return None
    return status.st_size if stat.S_ISREG(status.st_mode) else None


def _open_failed_out(path: str | None, file: BinaryIO) -> FailedOut | None:
    if path is None:
        return None
    size = _input_size(file)
    if size is not None and os.path.exists(path) and os.path.samefile(path, file.name):
        raise click.UsageError("--failed-out must not be the input file")
    try:
        return FailedOut(open(path, "wb"))
    except OSError as exc:
        raise click.UsageError(f"cannot write --failed-out {path}: {exc.strerror}") from None


@click.command()
@click.argument("file", type=click.File("rb"), default="-")
@connection_options
@network_options
@click.option("--partition-id", help="Send every event to this partition (default: round robin).")
@click.option(
    "--partition-key-field",
    metavar="FIELD",
    help="Each line is a JSON object; the value of its FIELD is the event's partition key.",
)
@click.option(
    "--failed-out",
    metavar="FILE",
    help="Write each line that was not published to FILE, as a JSON envelope with its line "
    "number, outcome (failed, unknown, skipped) and reason; send FILE to publish them again.",
)
@click.option(
    "--skip",
    type=click.IntRange(min=0),
    default=0,
    metavar="N",
    help="Pass over the first N lines of the input (to resume after an interruption).",
)
@click.option(
    "--journal",
    metavar="DIR",
    help="Keep every accepted line in a crash-safe journal in DIR until it has an outcome. "
    "Run again after a crash or kill: what DIR holds is published first, and reading a "
    "FILE resumes after the last line accepted.",
)
@click.option(
    "--durability",
    type=click.Choice(["buffered", "interval", "always"]),
    default=None,
    help="With --journal: survive a kill of the process (buffered, the default), or also a "
    "power loss but for the last second (interval), or entirely (always: slower).",
)
@click.option(
    "--idempotent",
    is_flag=True,
    help="Ask the service to store a retried batch only once (idempotent publishing). With "
    "--journal, a send run again after a kill re-sends the batch that was in flight under "
    "its original numbers, so the service does not store it twice.",
)
@producer_options
@backend_option
@progress_option
@click.pass_context
def send(
    ctx: click.Context,
    file: BinaryIO,
    connection_string: str | None,
    eventhub_name: str | None,
    namespace: str | None,
    partition_id: str | None,
    partition_key_field: str | None,
    failed_out: str | None,
    skip: int,
    journal: str | None,
    durability: Literal["buffered", "interval", "always"] | None,
    idempotent: bool,
    max_wait_time: float,
    max_queued_events: int,
    max_retries: int,
    try_timeout: float,
    open_timeout: float,
    backend: str,
    progress: ProgressMode,
) -> None:
    """Publish each line of FILE (default: standard input) as one event.

    Empty lines are skipped. With --partition-key-field, each line must be a JSON object
    and lines without that field are skipped and counted. Every event ends published,
    failed (not stored) or of unknown outcome (it may have been stored).

    \b
    Exit status:
      0    every line was published
      1    a line was not published (failed, or not a valid event), or no connection
      2    a usage error
      3    an event's outcome is unknown (it may have been stored)
      130  interrupted by Ctrl-C (143: by SIGTERM)

    Ctrl-C stops reading and publishes what is already queued; a second Ctrl-C (0.5 s or
    more later) drops it. The summary says which --skip resumes. With --journal DIR,
    running the same command again resumes by itself, even after a kill or a crash.

    \b
    Examples:
      anyio-eventhubs send events.jsonl --connection-string "$CONN" --eventhub-name eh1
      tail -f app.log | anyio-eventhubs send --namespace ns.servicebus.windows.net --hub eh1
      anyio-eventhubs send events.jsonl --failed-out failed.jsonl && echo all published
    """
    if partition_id is not None and partition_key_field is not None:
        raise click.UsageError("give --partition-id or --partition-key-field, not both")
    if durability is not None and journal is None:
        raise click.UsageError("--durability needs --journal DIR")
    connection = Connection.from_options(
        connection_string, eventhub_name, namespace, network_arguments(ctx)
    )
    settings = PublishSettings(
        partition_id=partition_id,
        partition_key_field=partition_key_field,
        max_wait_time=max_wait_time,
        max_queued_events=max_queued_events,
        max_retries=max_retries,
        try_timeout=try_timeout,
        skip=skip,
        target=connection.target,
        journal=None
        if journal is None
        else JournalSettings(journal, durability or "buffered", identify(file)),
        idempotent=idempotent,
    )
    position = InputPosition(total_bytes=_input_size(file))
    sink = _open_failed_out(failed_out, file)
    view = make_view(progress, Console(stderr=True), "sending")
    try:
        outcome = run_publish(
            read_line_batches(file),
            connection.producer_arguments(open_timeout),
            settings,
            view,
            backend,
            failed_out=sink,
            position=position,
        )
    finally:
        if sink is not None:
            sink.file.close()
    for line in summary(outcome):
        click.echo(line)
    ctx.exit(outcome.exit_code)
