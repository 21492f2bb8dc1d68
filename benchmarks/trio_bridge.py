"""Where a ``queue_for_send(bytes)`` run's time goes, asyncio against Trio's bridge thread.

Under Trio, azure-eventhub's asyncio client runs on a loop in a thread of ours
(``anyio_eventhubs._azure._bridge``); the producer's own code runs on Trio's thread.
This runs the throughput workload of ``compare_trees`` (``queue_for_send`` of 100-byte
``bytes``, round robin, or ``--keyed``, 4 partitions, against the emulator in a process
of its own), each run in a fresh interpreter, the backends alternating::

    python benchmarks/trio_bridge.py [--repeats 5] [--events 200000] [--keyed]
        [--hub emulator|memory]

and prints, for the queueing phase (first ``queue_for_send`` to the last one's return):
its wall time; the CPU time of the caller's thread and of the bridge thread (Trio); the
time the caller's thread spent in its event loop's poller, all of it and in polls with
a zero timeout (the periodic yield: under Trio, where the bridge thread takes the GIL);
the bridge loop's iterations (selector calls); and the batches published by the end of
the phase. Then per run: events/s from opening the producer to closing it (what
``compare_trees`` times, but after the interpreter and its imports are up), batches in
all, and the whole process's CPU per event in that span. ``--hub memory`` runs the same
workload on an ``InMemoryEventHub`` (no bridge, no network: the producer's own code).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import selectors
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

_HERE = Path(__file__).parent


class _Probe:
    """Counters, filled by the wrapped pollers (caller's thread vs. the bridge thread)."""

    def __init__(self) -> None:
        self.main = threading.get_ident()
        self.reset()

    def reset(self) -> None:
        self.poll_s = 0.0
        self.zero_poll_s = 0.0
        self.polls = 0
        self.bridge_iterations = 0
        self.bridge_cpu = 0.0  # the bridge thread's CPU time at its last selector call

    def polled(self, timeout: float | None, seconds: float) -> None:
        self.polls += 1
        self.poll_s += seconds
        if timeout == 0:
            self.zero_poll_s += seconds


def _instrument(probe: _Probe) -> None:
    select = selectors.EpollSelector.select

    def timed_select(self: Any, timeout: float | None = None) -> Any:
        started = time.perf_counter()
        ready = select(self, timeout)
        if threading.get_ident() == probe.main:
            probe.polled(timeout, time.perf_counter() - started)
        else:
            probe.bridge_iterations += 1
            probe.bridge_cpu = time.thread_time()
        return ready

    selectors.EpollSelector.select = timed_select  # type: ignore[method-assign]


def _instrument_trio(probe: _Probe) -> None:
    import trio

    io_manager: Any = trio.lowlevel.current_task()._runner.io_manager  # type: ignore[attr-defined]
    epoll = io_manager._epoll

    class TimedEpoll:
        def poll(self, timeout: float = -1, maxevents: int = -1) -> Any:
            started = time.perf_counter()
            ready = epoll.poll(timeout, maxevents)
            probe.polled(timeout, time.perf_counter() - started)
            return ready

        def __getattr__(self, name: str) -> Any:
            return getattr(epoll, name)

    io_manager._epoll = TimedEpoll()


async def _run(conn: str, events: int, keyed: bool, backend: str) -> dict[str, Any]:
    from anyio_eventhubs import open_streaming_producer
    from anyio_eventhubs.testing import InMemoryEventHub

    probe = _Probe()
    _instrument(probe)
    if backend == "trio":
        _instrument_trio(probe)
    bodies = [i.to_bytes(8, "big") + b"x" * 92 for i in range(events)]
    keys = [f"device-{i % 1024}" for i in range(events)] if keyed else None
    opened, cpu_opened = time.perf_counter(), time.process_time()
    where: dict[str, Any] = {"transport": InMemoryEventHub(4)} if conn == "memory" else {}
    async with open_streaming_producer(conn if not where else None, **where) as producer:
        queue = producer.queue_for_send
        probe.reset()
        usage = resource.getrusage(resource.RUSAGE_THREAD)
        started, main_started = time.perf_counter(), time.thread_time()
        bridge_started = probe.bridge_cpu
        if keys is None:
            for body in bodies:
                await queue(body)
        else:
            for body, key in zip(bodies, keys, strict=True):
                await queue(body, partition_key=key)
        queued = time.perf_counter()
        usage_after = resource.getrusage(resource.RUSAGE_THREAD)
        phase = {
            "queue_s": queued - started,
            "main_cpu_s": time.thread_time() - main_started,
            "bridge_cpu_s": probe.bridge_cpu - bridge_started if backend == "trio" else 0.0,
            "poll_s": probe.poll_s,
            "zero_poll_s": probe.zero_poll_s,
            "polls": probe.polls,
            "bridge_iterations": probe.bridge_iterations,
            "batches_queued": producer.statistics().batches_published,
            # the caller's thread: context switches (waiting; preempted), page faults
            "waits": usage_after.ru_nvcsw - usage.ru_nvcsw,
            "preempted": usage_after.ru_nivcsw - usage.ru_nivcsw,
            "page_faults": usage_after.ru_minflt - usage.ru_minflt,
        }
    closed = time.perf_counter()
    return {
        **phase,
        "events_per_s": events / (closed - opened),
        "cpu_us_per_event": (time.process_time() - cpu_opened) / events * 1e6,
        "batches": producer.statistics().batches_published,
        "published": producer.statistics().published,
    }


def _child(backend: str, conn: str, events: int, keyed: bool) -> None:
    import anyio

    print(json.dumps(anyio.run(_run, conn, events, keyed, backend, backend=backend)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--keyed", action="store_true", help="1024 partition keys")
    parser.add_argument("--hub", choices=["emulator", "memory"], default="emulator")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        _child(options.child[0], options.child[1], options.events, options.keyed)
        return
    sys.path.insert(0, str(_HERE))
    from _emulator_proc import EmulatorProcess

    runs: dict[str, list[dict[str, Any]]] = {"asyncio": [], "trio": []}
    with EmulatorProcess() as emulator:
        for rep in range(options.repeats):
            for backend in ("asyncio", "trio") if rep % 2 == 0 else ("trio", "asyncio"):
                hub, conn = "", "memory"
                if options.hub == "emulator":
                    hub, conn = emulator.new_hub(4, expected_events=options.events, event_size=100)
                command = [sys.executable, __file__, "--child", backend, conn]
                command += ["--events", str(options.events)] + (["--keyed"] * options.keyed)
                out = subprocess.run(command, capture_output=True, text=True, env=os.environ)
                if out.returncode:
                    raise SystemExit(out.stderr)
                result = json.loads(out.stdout)
                stored = sum(emulator.counts(hub)) if hub else result["published"]
                if stored != options.events:
                    raise SystemExit(f"the hub stored {stored} events, not {options.events}")
                runs[backend].append(result)
                shown = {k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()}
                print(f"[{rep + 1}] {backend}: {shown}", flush=True)
    print("\nmedians:")
    for backend, results in runs.items():
        medians = {k: statistics.median(r[k] for r in results) for k in results[0]}
        print(f"{backend}: " + ", ".join(f"{k} {v:,.3f}" for k, v in medians.items()))
    ratios = [t["events_per_s"] / a["events_per_s"] for a, t in zip(*runs.values(), strict=True)]
    print("Trio / asyncio per repetition:", ", ".join(f"{r:.2f}" for r in ratios))


if __name__ == "__main__":
    main()
