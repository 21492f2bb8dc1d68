"""Soak: a million events through faults, each checked for exactly one outcome.

::

    python benchmarks/soak.py [--events 1000000] [--backend asyncio|trio]
                              [--reject-rate 0.01] [--drop-rate 0.002] [--seed 1]

A benchmark, not a test (``docs/reliability.md`` reports a run). The emulator runs in a
process of its own (this file, started again with ``--serve``), with a fault injector
that rejects a random ``--reject-rate`` of the transfers with ``server-busy`` and, for a
random ``--drop-rate`` of them, drops the connection: half the time before storing the
transfer, half the time after storing it and instead of acknowledging it (the retry is
then a duplicate the emulator sees). The producer runs here, with handlers that tick a
per-event table of outcomes.

It prints the events published and failed, the events with no outcome or with two, the
duplicates and out-of-order events the emulator saw, the faults fired, the peak RSS of
both processes and the duration. Exits 1 if any event has no outcome or two, if an
event reported published is not stored, if a partition is out of order, or if the run
fails.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import resource
import sys
import time
from collections import Counter
from typing import Any

from _child import JsonChild

#: the hub's largest batch: small enough for thousands of transfers, so that 1% of them
#: is a good number of faults (~145 events of 100 bytes per batch)
MAX_MESSAGE_SIZE = 16 * 1024
HUB = "soak"
#: an event: its number, then padding to ``--size`` bytes
_INDEX_DIGITS = 8


def body(index: int, size: int) -> bytes:
    head = b"%08d|" % index
    return head + b"." * max(0, size - len(head))


def index_of(event: bytes) -> int:
    return int(event[:_INDEX_DIGITS])


def peak_rss_mib() -> float:
    """This process's peak resident set size (``ru_maxrss`` is in KiB on Linux)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


# -- the emulator's side (python soak.py --serve) --------------------------------------------


def _serve(events: int, partitions: int, reject_rate: float, drop_rate: float, seed: int) -> int:
    from anyio_eventhubs.testing.emulator import (
        SERVER_BUSY,
        EventHubsEmulator,
        FaultInjector,
        TransferFault,
    )

    class RandomFaults(FaultInjector):
        """Armed faults first; then, at random, a rejection or a dropped connection."""

        def __init__(self) -> None:
            super().__init__()
            self.rng = random.Random(seed)
            self.random_fired: Counter[str] = Counter()
            self.transfers = 0

        def take(
            self,
            eventhub_name: str,
            partition_id: str | None,
            kinds: tuple[str, ...] | None = None,
        ) -> TransferFault | None:
            fault = super().take(eventhub_name, partition_id, kinds)
            if fault is not None or kinds is not None or partition_id is None:
                return fault  # (kinds: a frame of a transfer still arriving)
            self.transfers += 1
            draw = self.rng.random()
            if draw < reject_rate:
                self.random_fired["reject"] += 1
                return TransferFault("reject", SERVER_BUSY, "server busy (soak)")
            if draw < reject_rate + drop_rate:
                kind = "drop_connection" if self.rng.random() < 0.5 else "lose_ack"
                self.random_fired[kind] += 1
                return TransferFault(kind)
            return None

    faults = RandomFaults()
    emulator = EventHubsEmulator({}, key=None, max_message_size=MAX_MESSAGE_SIZE)
    emulator.faults = faults
    emulator.add_hub(HUB, partitions)
    emulator.start()
    try:
        print(json.dumps({"conn": emulator.connection_string(HUB)}), flush=True)
        for line in sys.stdin:
            if json.loads(line).get("op") != "report":
                continue
            print(json.dumps(_report(emulator, faults, events, partitions)), flush=True)
    finally:
        emulator.stop()
    return 0


def _report(emulator: Any, faults: Any, events: int, partitions: int) -> dict[str, Any]:
    stored = bytearray(events)  # copies per event, capped at 255
    out_of_order = 0
    total = 0
    for pid in (str(p) for p in range(partitions)):
        last = -1
        seen: set[int] = set()
        for event in emulator.published_events(HUB, pid):
            index = index_of(event.body)
            total += 1
            stored[index] = min(255, stored[index] + 1)
            if index in seen:
                continue  # a duplicate: order is judged on first copies
            seen.add(index)
            if index < last:
                out_of_order += 1
            last = index
    return {
        "stored": total,
        "duplicates": total - sum(1 for c in stored if c),
        "out_of_order": out_of_order,
        "copies": base64.b64encode(bytes(stored)).decode(),
        "transfers": faults.transfers,
        "fired": dict(faults.random_fired),
        "peak_rss_mib": peak_rss_mib(),
    }


class EmulatorProcess(JsonChild):
    """The emulator process, from the producer's side."""

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(
            [
                os.path.abspath(__file__),
                "--serve",
                f"--events={args.events}",
                f"--partitions={args.partitions}",
                f"--reject-rate={args.reject_rate}",
                f"--drop-rate={args.drop_rate}",
                f"--seed={args.seed}",
            ]
        )
        self.connection_string = str(self.hello["conn"])

    def report(self) -> dict[str, Any]:
        return self.ask("report")


# -- the producer's side -------------------------------------------------------------------


class Outcomes:
    """One counter per event: how many outcomes it was given, and which."""

    def __init__(self, events: int) -> None:
        self.count = bytearray(events)
        self.published = bytearray(events)
        self.failed = 0
        self.failures: Counter[str] = Counter()

    def on_succeeded(self, args: Any) -> None:
        count, published = self.count, self.published
        for event in args.events:
            index = index_of(event)
            count[index] = min(255, count[index] + 1)
            published[index] = 1

    def on_failed(self, args: Any) -> None:
        self.failures[type(args.exception).__name__] += len(args.events)
        self.failed += len(args.events)
        for event in args.events:
            index = index_of(event)
            self.count[index] = min(255, self.count[index] + 1)


async def produce(args: argparse.Namespace, connection_string: str, outcomes: Outcomes) -> None:
    import anyio

    from anyio_eventhubs import RetryOptions, open_streaming_producer

    retry = RetryOptions(max_retries=6, delay=0.05, max_delay=1.0, try_timeout=10)
    started = time.perf_counter()
    next_progress = started + args.progress
    async with open_streaming_producer(
        connection_string,
        max_wait_time=0.05,
        retry_options=retry,
        on_publish_succeeded=outcomes.on_succeeded,
        on_publish_failed=outcomes.on_failed,
    ) as producer:
        for index in range(args.events):
            await producer.queue_for_send(body(index, args.size))
            if index % 4096 == 0 and time.perf_counter() >= next_progress:
                next_progress += args.progress
                stats = producer.statistics()
                print(
                    f"  {time.perf_counter() - started:6.1f}s queued {index + 1:>9,} "
                    f"published {stats.published:>9,} failed {stats.failed:,} "
                    f"outstanding {producer.total_queued_event_count:,}",
                    file=sys.stderr,
                    flush=True,
                )
        await anyio.lowlevel.checkpoint()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--size", type=int, default=100, help="event body size in bytes")
    parser.add_argument("--reject-rate", type=float, default=0.01)
    parser.add_argument("--drop-rate", type=float, default=0.002)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--progress", type=float, default=10.0, help="seconds between lines")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return _serve(args.events, args.partitions, args.reject_rate, args.drop_rate, args.seed)

    import anyio

    emulator = EmulatorProcess(args)
    outcomes = Outcomes(args.events)
    print(
        f"soak: {args.events:,} events of {args.size} B, {args.partitions} partitions, "
        f"backend {args.backend}, {args.reject_rate:.1%} of transfers rejected, "
        f"{args.drop_rate:.2%} dropped (seed {args.seed})",
        flush=True,
    )
    started = time.perf_counter()
    error: BaseException | None = None
    try:
        anyio.run(produce, args, emulator.connection_string, outcomes, backend=args.backend)
    except BaseException as exc:  # reported below, with what was published until then
        error = exc
    duration = time.perf_counter() - started
    try:
        report = emulator.report()
    finally:
        emulator.close()

    copies = base64.b64decode(report["copies"])
    missing = sum(1 for c in outcomes.count if c == 0)
    twice = sum(1 for c in outcomes.count if c > 1)
    published = sum(outcomes.published)
    not_stored = sum(1 for i, p in enumerate(outcomes.published) if p and not copies[i])
    fired = report["fired"]
    print(f"published            {published:,}")
    print(f"failed               {outcomes.failed:,} {dict(outcomes.failures)}")
    print(f"without an outcome   {missing:,}")
    print(f"reported twice       {twice:,}")
    print(f"published, not stored {not_stored:,}")
    print(
        f"emulator: stored {report['stored']:,}, duplicates {report['duplicates']:,}, "
        f"out of order {report['out_of_order']:,}"
    )
    print(
        f"faults: {report['transfers']:,} transfers, rejected {fired.get('reject', 0)}, "
        f"dropped before storing {fired.get('drop_connection', 0)}, "
        f"dropped after storing {fired.get('lose_ack', 0)}"
    )
    print(f"peak RSS: producer {peak_rss_mib():.0f} MiB, emulator {report['peak_rss_mib']:.0f} MiB")
    print(f"duration {duration:.1f} s ({args.events / duration:,.0f} events/s)")
    if error is not None:
        print(f"the run failed: {type(error).__name__}: {error}", file=sys.stderr)
    ok = (
        error is None
        and missing == 0
        and twice == 0
        and not_stored == 0
        and report["out_of_order"] == 0
    )
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
