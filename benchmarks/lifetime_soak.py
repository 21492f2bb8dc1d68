"""Lifetime soak: a producer living through what the service does over days, compressed.

::

    python benchmarks/lifetime_soak.py [--minutes 30] [--backend asyncio|trio]
                                       [--token-lifetime 10] [--idle-timeout 4]
                                       [--restart-every 120] [--rate 2000] [--quick]
                                       [--samples FILE]

A benchmark, not a test (issue #12; ``docs/service-lifetime.md`` reports a run). The
emulator runs in a process of its own (this file, started again with ``--serve``) with
the service's long-lived-connection rules shortened: every token expires
``--token-lifetime`` seconds after it is issued (a token credential whose expiry the
client knows, as azure-identity's), and a connection with no frame for
``--idle-timeout`` seconds is closed. Meanwhile the producer, here:

- publishes numbered events (half keyed) at about ``--rate`` events per second;
- goes quiet now and then for 1.5 x the idle timeout (an idle gap);
- sees the emulator restarted every ``--restart-every`` seconds (every connection dropped,
  the stored events kept);
- sees a partition added to the hub halfway through (``refresh_partitions_every`` is 2 s).

Handlers tick a per-event table of outcomes. Every 10 s it samples its resident set
size, threads and open file descriptors. It prints the events published and failed,
events with no outcome or with two, events published but not stored, how many went to
the added partition, the peaks of the first and last quarter and the RSS at each tenth
of the run (``--samples`` writes every sample; ``--trim`` samples RSS after glibc's
``malloc_trim(0)``, so that memory the allocator keeps after it was freed does not
count). Exits 1 if an event has no outcome or two, if any failed (every one was
publishable), if one reported published is not stored, or if the run fails.
``--quick`` is the CI version: about 40 s.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import sys
import time
import tracemalloc
from typing import Any

from _child import JsonChild

HUB = "life"
PARTITIONS = 4
#: an event: its number, then padding
_DIGITS = 9


def body(index: int) -> bytes:
    return b"%09d|" % index + b"." * 90


def index_of(event: bytes) -> int:
    return int(bytes(event[:_DIGITS]))


def sample() -> tuple[float, int, int, int]:
    """This process's resident set (MiB), threads, open file descriptors (Linux) and the
    objects the garbage collector tracks (a leak of Python objects shows as a climb)."""
    with open("/proc/self/statm") as f:
        rss_pages = int(f.read().split()[1])
    rss = rss_pages * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)
    threads, fds = len(os.listdir("/proc/self/task")), len(os.listdir("/proc/self/fd"))
    return rss, threads, fds, len(gc.get_objects())


# -- the emulator's side (python lifetime_soak.py --serve) -----------------------------------


def _serve(token_lifetime: float, idle_timeout: float) -> int:
    from anyio_eventhubs.testing.emulator import EventHubsEmulator

    # tokens as an azure-identity credential gives them: the client knows their expiry
    # (the put-token's expiration), and the emulator holds it to that
    emulator = EventHubsEmulator({HUB: PARTITIONS}, key=None, idle_timeout=idle_timeout)
    emulator.start()
    try:
        print(json.dumps({"namespace": f"127.0.0.1:{emulator.port}"}), flush=True)
        for line in sys.stdin:
            op = json.loads(line)["op"]
            if op == "restart":
                emulator.stop()
                emulator.start()
                reply: dict[str, Any] = {"restarted": True}
            elif op == "add-partition":
                reply = {"added": emulator.add_partitions(HUB, 1)}
            else:  # report: how many copies of each event are stored
                stored: dict[int, int] = {}
                total = 0
                for pid in [str(p) for p in range(emulator.hubs[HUB])]:
                    for event in emulator.published_events(HUB, pid):
                        index = index_of(event.body)
                        stored[index] = stored.get(index, 0) + 1
                        total += 1
                reply = {"stored": total, "copies": stored}
            print(json.dumps(reply), flush=True)
    finally:
        emulator.stop()
    return 0


class EmulatorProcess(JsonChild):
    """The emulator process, from the producer's side."""

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(
            [
                os.path.abspath(__file__),
                "--serve",
                f"--token-lifetime={args.token_lifetime}",
                f"--idle-timeout={args.idle_timeout}",
            ]
        )
        self.namespace = str(self.hello["namespace"])


# -- the producer's side ---------------------------------------------------------------------


class ShortLivedTokens:
    """A token credential (as azure-identity's) whose tokens live *lifetime* seconds."""

    def __init__(self, lifetime: float) -> None:
        self.lifetime = lifetime
        self.issued = 0

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        self.issued += 1
        return AccessToken(f"soak.token.{self.issued}", int(time.time() + self.lifetime))


class Outcomes:
    """Per event: how many outcomes, and whether published, in arrays sized up front so
    that the harness's own memory stays flat."""

    def __init__(self, capacity: int) -> None:
        self.count = bytearray(capacity)
        self.published = bytearray(capacity)
        self.failed: list[str] = []
        self.added_partition_events = 0
        self.added: set[str] = set()
        #: events queued so far (the producer's count, kept here if the run fails)
        self.queued = 0

    def on_succeeded(self, args: Any) -> None:
        count, published = self.count, self.published
        for event in args.events:
            index = index_of(event)
            count[index] = min(255, count[index] + 1)
            published[index] = 1
        if args.partition_id in self.added:
            self.added_partition_events += len(args.events)

    def on_failed(self, args: Any) -> None:
        self.failed.append(f"{len(args.events)} events: {args.exception!r}")
        for event in args.events:
            index = index_of(event)
            self.count[index] = min(255, self.count[index] + 1)


async def produce(
    args: argparse.Namespace, emulator: EmulatorProcess, outcomes: Outcomes
) -> tuple[int, list[tuple[float, float, int, int, int]]]:
    """Publish for the whole run, with its idle gaps, restarts and the added partition."""
    import anyio

    from anyio_eventhubs import RetryOptions, open_streaming_producer

    duration = args.seconds if args.seconds is not None else args.minutes * 60
    retry = RetryOptions(max_retries=10, delay=0.05, max_delay=2.0, try_timeout=10)
    samples: list[tuple[float, float, int, int, int]] = []
    started = time.monotonic()
    index = 0
    baseline = None
    if args.tracemalloc:
        tracemalloc.start()
    async with open_streaming_producer(
        fully_qualified_namespace=emulator.namespace,
        eventhub_name=HUB,
        credential=ShortLivedTokens(args.token_lifetime),
        max_wait_time=0.05,
        retry_options=retry,
        refresh_partitions_every=2.0,
        on_publish_succeeded=outcomes.on_succeeded,
        on_publish_failed=outcomes.on_failed,
    ) as producer:

        async def events_for(seconds: float) -> None:
            nonlocal index
            end = time.monotonic() + seconds
            per_tick = max(1, int(args.rate / 20))
            while time.monotonic() < end:
                for _ in range(per_tick):
                    key = f"key-{index % 64}" if index % 2 else None
                    await producer.queue_for_send(body(index), partition_key=key)
                    index += 1
                    outcomes.queued = index
                await anyio.sleep(0.05)

        next_sample = next_restart = next_gap = started
        next_restart += args.restart_every
        next_gap += args.idle_every
        added = False
        while (elapsed := time.monotonic() - started) < duration:
            now = time.monotonic()
            if now >= next_sample:
                if args.trim:
                    _malloc_trim()
                samples.append((elapsed, *sample()))
                next_sample += 10
                if args.tracemalloc and baseline is None and elapsed >= duration / 4:
                    baseline = tracemalloc.take_snapshot()
            if not added and elapsed >= duration / 2:
                reply = await anyio.to_thread.run_sync(emulator.ask, "add-partition")
                outcomes.added.update(reply["added"])
                added = True
            if now >= next_restart:
                await anyio.to_thread.run_sync(emulator.ask, "restart")
                next_restart += args.restart_every
            if now >= next_gap:
                await producer.flush()
                await anyio.sleep(args.idle_timeout * 1.5)  # the idle gap
                next_gap += args.idle_every
                continue
            await events_for(1.0)
        await producer.flush()
        if outcomes.added and not set(await producer.get_partition_ids()) >= outcomes.added:
            raise RuntimeError("the producer never learned of the added partition")
    samples.append((time.monotonic() - started, *sample()))
    print(f"RSS at the end {samples[-1][1]:.1f} MiB; {_trimmed_rss()}")
    if baseline is not None:
        _print_growth(baseline, tracemalloc.take_snapshot())
    return index, samples


def _malloc_trim() -> bool:
    """Hand freed heap memory back to the system (glibc); whether that was possible."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        return False
    return True


def _trimmed_rss() -> str:
    """RSS once freed memory is handed back to the system: a climb that this removes is
    the allocator keeping freed memory (fragmentation), not objects kept alive."""
    gc.collect()
    if not _malloc_trim():
        return "malloc_trim is not available here"
    return f"after gc.collect() and glibc's malloc_trim(0): {sample()[0]:.1f} MiB"


def _print_growth(before: Any, after: Any) -> None:
    """Where Python's allocations grew from the first quarter to the end (--tracemalloc)."""
    print("allocations that grew most after the first quarter (tracemalloc):")
    for stat in after.compare_to(before, "lineno")[:8]:
        print(f"  {stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7,} blocks  {stat.traceback}")


def _quarters(samples: list[tuple[float, float, int, int, int]]) -> str:
    q = max(1, len(samples) // 4)
    lines = []
    for label, part in (("first quarter", samples[:q]), ("last quarter", samples[-q:])):
        rss = max(s[1] for s in part)
        threads = max(s[2] for s in part)
        fds = max(s[3] for s in part)
        lines.append(f"{label:14} peak RSS {rss:6.1f} MiB, threads {threads}, fds {fds}")
    # the whole curve, coarsely: a leak shows as a climb, a one-off step as a plateau
    tenths = [samples[min(len(samples) - 1, i * len(samples) // 10)] for i in range(10)]
    lines.append(
        "RSS by tenth of the run: "
        + " ".join(f"{s[1]:.1f}" for s in [*tenths, samples[-1]])
        + " MiB"
    )
    lines.append(
        "objects by tenth:        " + " ".join(f"{s[4]:,}" for s in [*tenths, samples[-1]])
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--seconds", type=float, default=None, help="overrides --minutes")
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    parser.add_argument("--rate", type=int, default=2000, help="events per second")
    parser.add_argument("--token-lifetime", type=float, default=10.0)
    parser.add_argument("--idle-timeout", type=float, default=4.0)
    parser.add_argument("--idle-every", type=float, default=60.0, help="seconds between gaps")
    parser.add_argument("--restart-every", type=float, default=120.0)
    parser.add_argument("--quick", action="store_true", help="the CI version (~40 s)")
    parser.add_argument("--samples", default=None, help="write every sample (JSON lines)")
    parser.add_argument(
        "--tracemalloc", action="store_true", help="show where allocations grew (slow)"
    )
    parser.add_argument(
        "--trim",
        action="store_true",
        help="call glibc's malloc_trim(0) before each sample: RSS without freed memory",
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return _serve(args.token_lifetime, args.idle_timeout)
    if args.quick:
        args.seconds, args.rate, args.token_lifetime = 30.0, 500, 10.0
        args.idle_timeout, args.idle_every, args.restart_every = 2.0, 12.0, 10.0

    import anyio

    duration = args.seconds if args.seconds is not None else args.minutes * 60
    print(
        f"lifetime soak: {duration:.0f} s on {args.backend}, ~{args.rate} events/s, tokens of "
        f"{args.token_lifetime} s, idle timeout {args.idle_timeout} s (a gap every "
        f"{args.idle_every} s), emulator restart every {args.restart_every} s, a partition "
        "added halfway",
        flush=True,
    )
    emulator = EmulatorProcess(args)
    outcomes = Outcomes(int(args.rate * duration * 1.5) + 100_000)
    error: BaseException | None = None
    samples: list[tuple[float, float, int, int, int]] = []
    started = time.monotonic()
    try:
        _, samples = anyio.run(produce, args, emulator, outcomes, backend=args.backend)
    except BaseException as exc:  # reported below
        error = exc
    queued = outcomes.queued
    took = time.monotonic() - started
    try:
        report = emulator.ask("report")
    finally:
        emulator.close()
    copies = {int(k): v for k, v in report["copies"].items()}
    missing = outcomes.count[:queued].count(0)
    twice = sum(1 for c in outcomes.count[:queued] if c > 1)
    published = [i for i in range(queued) if outcomes.published[i]]
    not_stored = sum(1 for i in published if not copies.get(i))
    print(f"queued                 {queued:,} in {took:.0f} s")
    print(f"published              {len(published):,}")
    print(f"failed                 {sum(int(f.split()[0]) for f in outcomes.failed):,}")
    for failure in outcomes.failed[:5]:
        print(f"  {failure}")
    print(f"without an outcome     {missing:,}")
    print(f"reported twice         {twice:,}")
    print(f"published, not stored  {not_stored:,}")
    print(f"stored (with retries)  {report['stored']:,}")
    print(f"to the added partition {outcomes.added_partition_events:,} {sorted(outcomes.added)}")
    if samples:
        print(_quarters(samples))
        if args.samples:
            with open(args.samples, "w") as out:
                for elapsed, rss, threads, fds, objects in samples:
                    fields = {"s": round(elapsed, 1), "rss_mib": round(rss, 2)}
                    fields.update(threads=threads, fds=fds, objects=objects)
                    out.write(json.dumps(fields) + "\n")
    if error is not None:
        print(f"the run failed: {type(error).__name__}: {error}", file=sys.stderr)
    ok = (
        error is None
        and missing == 0
        and twice == 0
        and not outcomes.failed
        and not_stored == 0
        and outcomes.added_partition_events > 0
    )
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
