"""``anyio-eventhubs send [FILE]``: publish newline-delimited events from a file or stdin."""

from __future__ import annotations

import signal
import threading
from collections.abc import AsyncGenerator
from contextlib import AbstractContextManager
from typing import Any, BinaryIO

import anyio
import click
from rich.console import Console

from .._exceptions import EventHubsError
from ._connection import Connection, connection_options
from ._lines import read_line_batches
from ._progress import ProgressMode, ProgressView, make_view
from ._publish import Outcome, PublishSettings, publish_lines

__all__ = ["backend_option", "progress_option", "run_publish", "send", "summary"]

backend_option = click.option(
    "--backend",
    type=click.Choice(["asyncio", "trio"]),
    default="asyncio",
    show_default=True,
    help="The event loop to run the producer on.",
)
progress_option = click.option(
    "--progress",
    type=click.Choice(["auto", "bar", "plain", "off"]),
    default="auto",
    show_default=True,
    help="A live bar (auto: on a terminal), a line of counts each second, or nothing.",
)


def summary(outcome: Outcome) -> list[str]:
    """What to tell the user at the end."""
    c = outcome.counters
    rate = c.published / outcome.elapsed if outcome.elapsed > 0 else 0.0
    if outcome.interrupted:
        lines = [
            f"interrupted: {c.published:,} events published, {c.not_published:,} not "
            f"published ({c.failed:,} failed, {c.dropped:,} dropped)"
        ]
    else:
        lines = [
            f"published {c.published:,} of {c.queued:,} events in {outcome.elapsed:.2f} s "
            f"({rate:,.0f} events/s)"
        ]
        if c.not_published:
            lines.append(
                f"{c.not_published:,} events were not published "
                f"({c.failed:,} failed, {c.dropped:,} dropped)"
            )
    lines.extend(f"  {count:,} x {error}" for error, count in c.errors.most_common(5))
    if c.invalid:
        lines.append(f"{c.invalid:,} input lines were skipped (not valid events)")
    return lines


async def _with_signals(
    batches: AsyncGenerator[list[bytes], None],
    producer_arguments: dict[str, Any],
    settings: PublishSettings,
    view: ProgressView,
) -> Outcome:
    if threading.current_thread() is not threading.main_thread():
        return await publish_lines(batches, producer_arguments, settings, view)
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        return await publish_lines(batches, producer_arguments, settings, view, signals)


def run_publish(
    batches: AsyncGenerator[list[bytes], None],
    connection: AbstractContextManager[dict[str, Any]],
    settings: PublishSettings,
    view: ProgressView,
    backend: str,
) -> Outcome:
    """Run :func:`publish_lines` on *backend*, Ctrl-C handled; errors as click's.

    :raises click.ClickException: if the hub cannot be reached or an option is bad.
    """
    try:
        with connection as producer_arguments:
            return anyio.run(
                _with_signals, batches, producer_arguments, settings, view, backend=backend
            )
    except (ValueError, TypeError) as exc:
        raise click.UsageError(str(exc)) from None
    except EventHubsError as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from None


@click.command()
@click.argument("file", type=click.File("rb"), default="-")
@connection_options
@click.option("--partition-id", help="Send every event to this partition (default: round robin).")
@click.option(
    "--partition-key-field",
    metavar="FIELD",
    help="Each line is a JSON object; the value of its FIELD is the event's partition key.",
)
@click.option(
    "--max-wait-time",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Seconds a partial batch waits for more events before it is sent.",
)
@click.option(
    "--max-queued-events",
    type=click.IntRange(min=1),
    default=1500,
    show_default=True,
    help="Per partition, events without an outcome before reading input waits.",
)
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
    max_wait_time: float,
    max_queued_events: int,
    backend: str,
    progress: ProgressMode,
) -> None:
    """Publish each line of FILE (default: standard input) as one event.

    Empty lines are skipped. With --partition-key-field, each line must be a JSON object
    and lines without that field are skipped and counted. The exit status is 0 when every
    event was published, 1 when any was not (or a line was skipped), 130 after Ctrl-C.

    Ctrl-C stops reading and publishes what is already queued; a second Ctrl-C drops it.

    \b
    Examples:
      anyio-eventhubs send events.jsonl --connection-string "$CONN" --eventhub-name eh1
      tail -f app.log | anyio-eventhubs send --namespace ns.servicebus.windows.net --hub eh1
    """
    if partition_id is not None and partition_key_field is not None:
        raise click.UsageError("give --partition-id or --partition-key-field, not both")
    connection = Connection.from_options(connection_string, eventhub_name, namespace)
    settings = PublishSettings(
        partition_id=partition_id,
        partition_key_field=partition_key_field,
        max_wait_time=max_wait_time,
        max_queued_events=max_queued_events,
    )
    view = make_view(progress, Console(stderr=True), "sending")
    outcome = run_publish(
        read_line_batches(file), connection.producer_arguments(), settings, view, backend
    )
    for line in summary(outcome):
        click.echo(line)
    ctx.exit(outcome.exit_code)
