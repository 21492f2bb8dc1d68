"""How full batches get, for a given ``max_queued_events`` and ``max_wait_time``.

Publishes body-only events as fast as ``queue_for_send`` accepts them to a local emulator
(in this process) and reports the batches the producer sent: how many, events and bytes
per batch, and the throughput. ``docs/deploying.md`` quotes a run of::

    python benchmarks/batch_fill.py --events 200000 --size 78 \
        --max-queued-events 1500 6000 12000 24000 --max-wait-time 1.0 0.05
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time

import anyio

from anyio_eventhubs import PublishSucceededEventArgs, open_streaming_producer
from anyio_eventhubs._encoding import batch_entry_size, encode_body
from anyio_eventhubs.testing.emulator import EventHubsEmulator


async def measure(
    events: int, size: int, partitions: int, max_queued_events: int, max_wait_time: float
) -> str:
    batches: list[int] = []

    def succeeded(args: PublishSucceededEventArgs) -> None:
        batches.append(len(args.events))

    body = b"x" * size
    entry = batch_entry_size(len(encode_body(body)))
    with EventHubsEmulator({"hub": partitions}) as emulator:
        started = time.perf_counter()
        async with open_streaming_producer(
            emulator.connection_string("hub"),
            on_publish_succeeded=succeeded,
            max_queued_events=max_queued_events,
            max_wait_time=max_wait_time,
        ) as producer:
            for _ in range(events):
                await producer.queue_for_send(body)
        elapsed = time.perf_counter() - started
    per_batch = statistics.mean(batches)
    return (
        f"| {max_queued_events} | {max_wait_time} | {len(batches)} | {per_batch:.0f} "
        f"| {per_batch * entry / 1024:.0f} KiB | {max(batches) * entry / 1024:.0f} KiB "
        f"| {events / elapsed:,.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--size", type=int, default=78, help="body bytes per event")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--max-queued-events", type=int, nargs="+", default=[1500])
    parser.add_argument("--max-wait-time", type=float, nargs="+", default=[1.0])
    options = parser.parse_args()
    print(
        f"{options.events} events of {options.size} bytes, {options.partitions} partitions\n\n"
        "| max_queued_events | max_wait_time | batches | events/batch | mean batch "
        "| largest batch | events/s |\n| --- | --- | --- | --- | --- | --- | --- |"
    )
    for queued, wait in itertools.product(options.max_queued_events, options.max_wait_time):
        line = anyio.run(measure, options.events, options.size, options.partitions, queued, wait)
        print(line, flush=True)


if __name__ == "__main__":
    main()
