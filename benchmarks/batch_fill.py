"""How full batches get, for a given ``max_queued_events`` and ``max_wait_time``.

Publishes body-only events as fast as the producer accepts them to a local emulator and
reports the batches the producer sent: how many, events and bytes per batch, the
throughput and this process's peak RSS. ``docs/deploying.md`` quotes a run of::

    python benchmarks/batch_fill.py --events 200000 --size 78 \
        --max-queued-events 1500 6000 12000 24000 --max-wait-time 1.0 0.05

``--many`` queues with ``queue_many_for_send`` (lists of 1024 events) instead of one
``queue_for_send`` per event. ``--emulator-process`` runs the emulator in a process of
its own (``_emulator_proc``), so that the peak RSS is the producer's alone; give one
setting per run then (the peak RSS of a process only grows).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import resource
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio

from anyio_eventhubs import PublishSucceededEventArgs, open_streaming_producer
from anyio_eventhubs._encoding import batch_entry_size, encode_body
from anyio_eventhubs.testing.emulator import EventHubsEmulator

_CHUNK = 1024


@contextlib.contextmanager
def hub(partitions: int, own_process: bool, events: int, size: int) -> Iterator[str]:
    """A connection string to a fresh hub."""
    if not own_process:
        with EventHubsEmulator({"hub": partitions}) as emulator:
            yield emulator.connection_string("hub")
        return
    sys.path.insert(0, str(Path(__file__).parent))
    from _emulator_proc import EmulatorProcess

    with EmulatorProcess() as process:
        name, conn = process.new_hub(partitions, expected_events=events, event_size=size)
        yield conn
        counts = process.counts(name)
        if sum(counts) != events:
            raise SystemExit(f"the hub stored {sum(counts)} events, not {events}")


async def measure(
    events: int,
    size: int,
    partitions: int,
    max_queued_events: int,
    max_wait_time: float,
    many: bool,
    own_process: bool,
) -> str:
    batches: list[int] = []

    def succeeded(args: PublishSucceededEventArgs) -> None:
        batches.append(len(args.events))

    body = b"x" * size
    chunk = [body] * _CHUNK
    entry = batch_entry_size(len(encode_body(body)))
    with hub(partitions, own_process, events, size) as conn:
        started = time.perf_counter()
        async with open_streaming_producer(
            conn,
            on_publish_succeeded=succeeded,
            max_queued_events=max_queued_events,
            max_wait_time=max_wait_time,
        ) as producer:
            if many:
                for start in range(0, events, _CHUNK):
                    await producer.queue_many_for_send(chunk[: min(_CHUNK, events - start)])
            else:
                for _ in range(events):
                    await producer.queue_for_send(body)
        elapsed = time.perf_counter() - started
    per_batch = statistics.mean(batches)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return (
        f"| {max_queued_events} | {max_wait_time} | {len(batches)} | {per_batch:.0f} "
        f"| {per_batch * entry / 1024:.0f} KiB | {max(batches) * entry / 1024:.0f} KiB "
        f"| {events / elapsed:,.0f} | {rss_mb:.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--size", type=int, default=78, help="body bytes per event")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--max-queued-events", type=int, nargs="+", default=[1500])
    parser.add_argument("--max-wait-time", type=float, nargs="+", default=[1.0])
    parser.add_argument("--many", action="store_true", help="use queue_many_for_send")
    parser.add_argument(
        "--emulator-process", action="store_true", help="the emulator in its own process"
    )
    parser.add_argument("--no-header", action="store_true", help="print the rows only")
    options = parser.parse_args()
    if not options.no_header:
        print(
            f"{options.events} events of {options.size} bytes, {options.partitions} "
            f"partitions, {'queue_many_for_send' if options.many else 'queue_for_send'}\n\n"
            "| max_queued_events | max_wait_time | batches | events/batch | mean batch "
            "| largest batch | events/s | peak RSS MB |\n"
            "| --- | --- | --- | --- | --- | --- | --- | --- |"
        )
    for queued, wait in itertools.product(options.max_queued_events, options.max_wait_time):
        line = anyio.run(
            measure,
            options.events,
            options.size,
            options.partitions,
            queued,
            wait,
            options.many,
            options.emulator_process,
        )
        print(line, flush=True)


if __name__ == "__main__":
    main()
