"""``anyio-eventhubs demo``: emulator, producer, consumer, and what landed where.

It starts the embedded emulator, publishes synthetic sensor readings through the
streaming producer (partition key = device), reads them back with azure-eventhub's
``EventHubConsumerClient``, and shows per partition how many events and which keys
arrived, and whether each key's events kept their order.
"""

from __future__ import annotations

import json
import random
from collections.abc import AsyncGenerator
from contextlib import nullcontext

import anyio
import click
from rich.console import Console
from rich.table import Table

from ._emulator import load_emulator
from ._progress import (
    ProgressMode,
    ProgressView,
    Sampler,
    Snapshot,
    make_view,
    refresh_forever,
)
from ._publish import PublishSettings
from ._readback import Tally, read_back
from ._send import backend_option, progress_option, run_publish
from ._summary import summary

__all__ = ["demo", "synthetic_readings"]

_HUB = "demo"


async def synthetic_readings(
    count: int, devices: int, *, seed: int = 0, batch_size: int = 500
) -> AsyncGenerator[list[bytes], None]:
    """*count* JSON readings from *devices* devices, in lists of *batch_size* lines.

    Each is ``{"device": "device-07", "seq": 3, "temperature": 21.5}``; ``seq`` counts
    each device's readings from 0.
    """
    rng = random.Random(seed)
    names = [f"device-{n:02d}" for n in range(devices)]
    seqs = dict.fromkeys(names, 0)
    batch: list[bytes] = []
    for _ in range(count):
        name = rng.choice(names)
        reading = {"device": name, "seq": seqs[name], "temperature": round(rng.gauss(21, 2), 2)}
        seqs[name] += 1
        batch.append(json.dumps(reading).encode())
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def _reading_stats(s: Snapshot) -> str:
    return f"read {s.published:,} of {s.queued:,} · {s.rate:,.0f} events/s"


def _table(tally: Tally) -> Table:
    table = Table(title="What the consumer read back, per partition")
    table.add_column("partition", justify="right")
    table.add_column("events", justify="right")
    table.add_column("partition keys")
    table.add_column("order per key")
    for pid, part in tally.partitions.items():
        problems = []
        if part.out_of_order:
            problems.append(f"{part.out_of_order} out of order")
        if part.misplaced:
            problems.append(f"{part.misplaced} on the wrong partition")
        table.add_row(
            pid,
            f"{part.events:,}",
            ", ".join(sorted(part.keys)) or "-",
            "; ".join(problems) or "kept",
        )
    return table


@click.command()
@click.option(
    "--events",
    "count",
    type=click.IntRange(1),
    default=5000,
    show_default=True,
    help="How many events to publish.",
)
@click.option(
    "--partitions",
    type=click.IntRange(1, 32),
    default=4,
    show_default=True,
    help="Partitions of the demo hub.",
)
@click.option(
    "--devices",
    type=click.IntRange(1, 1000),
    default=10,
    show_default=True,
    help="Distinct partition keys (one per simulated device).",
)
@click.option(
    "--max-wait-time",
    type=click.FloatRange(min=0),
    default=0.2,
    show_default=True,
    help="Seconds a partial batch waits for more events before it is sent.",
)
@click.option(
    "--read-timeout",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    help="Seconds to wait for the consumer to read every event back.",
)
@backend_option
@progress_option
@click.pass_context
def demo(
    ctx: click.Context,
    count: int,
    partitions: int,
    devices: int,
    max_wait_time: float,
    read_timeout: float,
    backend: str,
    progress: ProgressMode,
) -> None:
    """Publish to a local emulator, read it back, and show what landed where.

    Starts the embedded Event Hubs emulator (hub "demo"), publishes synthetic sensor
    readings through the streaming producer with the device as partition key, reads
    them back with azure-eventhub's EventHubConsumerClient, and prints per partition
    the events, the keys and whether each key kept its order. The exit status is 0 when
    every event came back once, in order, on its key's partition.
    """
    console = Console(soft_wrap=True)
    err_console = Console(stderr=True)
    emulator_class = load_emulator()
    with emulator_class({_HUB: partitions}, port=0) as emulator:
        connection_string = emulator.connection_string(_HUB)
        console.print(
            f"Started the Event Hubs emulator on {emulator.host}:{emulator.port} "
            f"(hub [bold]{_HUB}[/], {partitions} partitions)."
        )
        console.print(
            f"Publishing {count:,} readings from {devices} devices through "
            f"open_streaming_producer on {backend}, partition key = device ..."
        )
        view = make_view(progress, err_console, "publishing", measure=lambda s: (s.done, count))
        outcome = run_publish(
            synthetic_readings(count, devices),
            nullcontext({"connection_string": connection_string}),
            PublishSettings(
                partition_key_field="device",
                max_wait_time=max_wait_time,
                target=f"{emulator.host}:{emulator.port}/{_HUB}",
            ),
            view,
            backend,
        )
        for line in summary(outcome):
            console.print(line, highlight=False)
        if outcome.exit_code:
            ctx.exit(outcome.exit_code)

        console.print("Reading them back with azure-eventhub's EventHubConsumerClient ...")
        tally = Tally([str(n) for n in range(partitions)], outcome.counters.published)
        reading = make_view(
            progress,
            err_console,
            "reading back",
            describe=_reading_stats,
            measure=lambda s: (s.published, tally.counters.queued),
        )
        elapsed = anyio.run(_read, connection_string, tally, reading, read_timeout)
    rate = tally.total / elapsed if elapsed > 0 else 0.0
    console.print(
        f"read {tally.total:,} events in {elapsed:.2f} s ({rate:,.0f} events/s)", highlight=False
    )
    console.print(_table(tally))
    if tally.all_well:
        console.print(
            "Every event came back once; each key's events on the one partition the "
            "service's hash gives it, in the order they were queued."
        )
        console.print(
            "Next: [bold]anyio-eventhubs emulator[/] in one terminal, "
            "[bold]anyio-eventhubs send --help[/] in another."
        )
        return
    if tally.total < tally.counters.queued:
        console.print(f"only {tally.total:,} events came back within {read_timeout} s")
    if tally.duplicates:
        console.print(f"{tally.duplicates:,} events came back twice")
    ctx.exit(1)


async def _read(
    connection_string: str, tally: Tally, view: ProgressView, read_timeout: float
) -> float:
    sample = Sampler(tally.counters)
    view.start()
    try:
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(refresh_forever, view, sample)
            with anyio.move_on_after(read_timeout):
                await read_back(connection_string, tally)
            task_group.cancel_scope.cancel()
    finally:
        final = sample.final(tally.completed_at)
        view.update(final)
        view.stop()
    return final.elapsed
