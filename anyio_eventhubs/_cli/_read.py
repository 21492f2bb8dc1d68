"""``anyio-eventhubs read``: print a hub's events as JSON lines (kcat's consumer mode).

Built on azure-eventhub's sync ``EventHubConsumerClient``, receiving in a worker thread
(the same on asyncio and Trio). Its callbacks, one thread per partition, write to
standard output under a lock and tell the event loop, through a blocking portal, that
events came (which pushes the idle deadline back) or that enough did. Closing the client
ends the receive.
"""

from __future__ import annotations

import base64
import importlib
import json
import signal
import sys
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import partial
from typing import Any, BinaryIO, cast

import anyio
import click
from anyio.from_thread import BlockingPortal
from azure.eventhub import EventData, EventHubConsumerClient, TransportType

from ._connection import Connection, connection_options
from ._network import network_arguments, network_options
from ._outcomes import plural
from ._signals import exit_status_for, presses

__all__ = ["event_record", "parse_position", "read"]


def parse_position(text: str) -> tuple[str | int | datetime, bool]:
    """``starting_position`` and ``starting_position_inclusive`` for azure-eventhub.

    ``earliest``, ``latest``, ``offset:N``, ``sequence:N`` or an ISO 8601 time (UTC
    unless it names its zone); an offset, sequence number or time is inclusive.

    :raises ValueError: for anything else.
    """
    lowered = text.strip().lower()
    if lowered == "earliest":
        return "-1", False
    if lowered == "latest":
        return "@latest", False
    kind, _, value = lowered.partition(":")
    if kind == "offset" and value.isdigit():
        return value, True
    if kind in ("sequence", "seq") and value.isdigit():
        return int(value), True
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"expected earliest, latest, offset:N, sequence:N or an ISO 8601 time, got {text!r}"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when, True


def _text(value: object) -> object:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return {"base64": base64.b64encode(value).decode("ascii")}
    return value


def event_record(partition_id: str, event: EventData) -> dict[str, Any]:
    """One event as a JSON object: where it is, its key and properties, and its body.

    The body is ``body`` (text) when it is UTF-8, otherwise ``body_base64``.
    """
    enqueued = event.enqueued_time
    record: dict[str, Any] = {
        "partition": partition_id,
        "sequence_number": event.sequence_number,
        "offset": event.offset,
        "enqueued_time": enqueued.isoformat() if enqueued is not None else None,
        "partition_key": _text(event.partition_key),
        "properties": {str(_text(k)): _text(v) for k, v in (event.properties or {}).items()},
    }
    raw = event.body  # a data body: bytes, or a list of sections
    body = raw if isinstance(raw, bytes) else b"".join(cast("Iterable[bytes]", raw))
    try:
        record["body"] = body.decode("utf-8")
    except UnicodeDecodeError:
        record["body_base64"] = base64.b64encode(body).decode("ascii")
    return record


class _Printer:
    """Writes events as JSON lines from the client's threads, up to *limit*."""

    def __init__(self, out: BinaryIO, limit: int | None) -> None:
        self.out = out
        self.limit = limit
        self.count = 0
        self.errors: list[str] = []
        #: whether a partition answered (events, or an empty batch after a wait)
        self.opened = False
        self._lock = threading.Lock()

    def print_batch(self, partition_id: str, events: list[EventData]) -> bool:
        """Print what is still wanted of *events*; ``True`` once the limit is reached."""
        with self._lock:
            self.opened = True
            if self.limit is not None:
                events = events[: max(0, self.limit - self.count)]
            for event in events:
                line = json.dumps(event_record(partition_id, event), default=str)
                self.out.write(line.encode("utf-8") + b"\n")
            self.out.flush()
            self.count += len(events)
            return self.limit is not None and self.count >= self.limit


async def _read(
    client: EventHubConsumerClient,
    printer: _Printer,
    receive_options: dict[str, Any],
    idle_timeout: float | None,
    open_timeout: float,
) -> int | None:
    """Receive until the limit, the idle timeout or a signal; return the signal, if any.

    The idle time counts from the first answer of a partition (events, or an empty
    batch after a wait); until then, *open_timeout* bounds the wait.
    """
    stopped_by: int | None = None
    async with BlockingPortal() as portal, anyio.create_task_group() as task_group:
        done = anyio.Event()
        deadline = anyio.CancelScope(deadline=anyio.current_time() + open_timeout)

        def activity() -> None:
            printer.opened = True
            deadline.deadline = (
                float("inf") if idle_timeout is None else anyio.current_time() + idle_timeout
            )

        def on_event_batch(context: Any, events: list[EventData]) -> None:
            if done.is_set():
                return
            if events and printer.print_batch(context.partition_id, events):
                portal.call(done.set)
            elif events or not printer.opened:
                portal.call(activity)

        def on_error(context: Any, error: Exception) -> None:
            printer.errors.append(f"{type(error).__name__}: {error}")
            click.echo(f"error: {type(error).__name__}: {error}", err=True)

        async def watch_signals() -> None:
            nonlocal stopped_by
            if threading.current_thread() is not threading.main_thread():
                return
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for signum in presses(signals):
                    stopped_by = signum
                    done.set()
                    return

        receive = partial(
            client.receive_batch,
            on_event_batch=on_event_batch,
            on_error=on_error,
            max_batch_size=300,
            max_wait_time=0.5,
            **receive_options,
        )
        task_group.start_soon(partial(anyio.to_thread.run_sync, receive))
        task_group.start_soon(watch_signals)
        try:
            with deadline:
                await done.wait()
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(client.close)
            task_group.cancel_scope.cancel()
    return stopped_by


@click.command()
@connection_options
@network_options
@click.option("--partition-id", help="Read only this partition (default: every partition).")
@click.option(
    "--from",
    "start",
    default="earliest",
    show_default=True,
    metavar="POSITION",
    help="earliest, latest, offset:N, sequence:N, or an ISO 8601 time (UTC by default).",
)
@click.option(
    "--count",
    type=click.IntRange(min=1),
    metavar="N",
    help="Stop after N events.",
)
@click.option(
    "--idle-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=5.0,
    show_default=True,
    help="Stop after this many seconds without an event.",
)
@click.option("--follow", "-f", is_flag=True, help="Keep reading until Ctrl-C (no idle timeout).")
@click.option(
    "--open-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=60.0,
    show_default=True,
    help="Seconds to wait for the first partition to answer.",
)
@click.option(
    "--consumer-group",
    default="$Default",
    show_default=True,
    help="The consumer group to read as.",
)
@click.option(
    "--backend",
    type=click.Choice(["asyncio", "trio"]),
    default="asyncio",
    show_default=True,
    help="The event loop that hosts the consumer client's thread.",
)
@click.pass_context
def read(
    ctx: click.Context,
    connection_string: str | None,
    eventhub_name: str | None,
    namespace: str | None,
    partition_id: str | None,
    start: str,
    count: int | None,
    idle_timeout: float,
    follow: bool,
    open_timeout: float,
    consumer_group: str,
    backend: str,
) -> None:
    """Print the events of a hub (or one partition) as JSON lines on standard output.

    Each line has partition, sequence_number, offset, enqueued_time, partition_key,
    properties and body (body_base64 when the body is not UTF-8). Events of different
    partitions arrive interleaved; each partition's in order.

    The exit status is 0 when it stopped after --count events or --idle-timeout seconds
    without one (counted from the first partition's answer), 1 when no partition answered
    within --open-timeout or the hub reported an error and no event was read, 130 after
    Ctrl-C (143 after SIGTERM).

    \b
    Examples:
      anyio-eventhubs read --connection-string "$CONN" --count 10
      anyio-eventhubs read --partition-id 0 --from sequence:1200 --follow
      anyio-eventhubs read --from 2026-05-01T12:00:00Z | jq .body
    """
    connection = Connection.from_options(
        connection_string, eventhub_name, namespace, network_arguments(ctx)
    )
    try:
        position, inclusive = parse_position(start)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx, param_hint="--from") from None
    if connection.network.get("transport_type") == TransportType.AmqpOverWebsocket:
        try:
            importlib.import_module("websocket")  # azure-eventhub's sync client needs it
        except ImportError:
            raise click.UsageError(
                "read over WebSockets needs the websocket-client package (azure-eventhub's "
                "sync client uses it): pip install websocket-client"
            ) from None
    receive_options: dict[str, Any] = {
        "starting_position": position,
        "starting_position_inclusive": inclusive,
    }
    if partition_id is not None:
        receive_options["partition_id"] = partition_id
    where = connection.target + (f" partition {partition_id}" if partition_id else "")
    click.echo(f"reading {where} from {start} ...", err=True)
    printer = _Printer(sys.stdout.buffer, count)
    with connection.consumer_client(consumer_group) as client:
        stopped_by = anyio.run(
            _read,
            client,
            printer,
            receive_options,
            None if follow else idle_timeout,
            open_timeout,
            backend=backend,
        )
    click.echo(f"read {plural(printer.count, 'event')}", err=True)
    if stopped_by is not None:
        ctx.exit(exit_status_for(stopped_by))
    if not printer.opened:
        click.echo(f"error: no partition answered within --open-timeout {open_timeout} s", err=True)
        ctx.exit(1)
    if printer.errors and not printer.count:
        ctx.exit(1)
