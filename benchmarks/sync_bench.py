"""The blocking producer against azure-eventhub's sync ``buffered_mode``, side by side.

::

    python benchmarks/sync_bench.py [--quick] [--repeats R] [-n N] [--out FILE]

Every contender publishes the same ``n`` events of ``size`` bytes (``bytes`` payloads,
generated before the clock starts; azure-eventhub builds ``EventData(payload)`` in the
timed loop, as its users do) to a fresh hub of the project's emulator, round robin over
4 partitions, from 1 thread and from 8 threads (each thread a slice of the payloads).
Every run is a fresh process and is verified: the client's published count and the
emulator's stored count must both equal ``n``. Contenders are interleaved within each
repetition; the table shows medians.

- ``aeh-sync-xT``: ``anyio_eventhubs.sync.open_streaming_producer`` (asyncio loop thread),
  ``queue_for_send(payload)`` from T threads;
- ``aeh-sync-trio-x1``: the same with ``backend="trio"``;
- ``azure-buffered-sync-xT``: ``azure.eventhub.EventHubProducerClient(buffered_mode=True)``,
  ``send_event(EventData(payload))`` from T threads;
- ``aeh-asyncio``: the async producer from one task (the ceiling to approach).

Events/s include client setup (from before the client is built until it is closed with
every event acknowledged), as in ``benchmarks/run.py``. The targets (issue #14): ours over
azure's, 1 thread, at least 3x; 8 threads, at least 2x.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)

from _runner import RunFailed, verify_counts  # noqa: E402

CONTENDERS: dict[str, dict[str, Any]] = {
    "aeh-sync-x1": {"kind": "aeh-sync", "threads": 1, "backend": "asyncio"},
    "azure-buffered-sync-x1": {"kind": "azure-sync", "threads": 1},
    "aeh-sync-x8": {"kind": "aeh-sync", "threads": 8, "backend": "asyncio"},
    "azure-buffered-sync-x8": {"kind": "azure-sync", "threads": 8},
    "aeh-sync-trio-x1": {"kind": "aeh-sync", "threads": 1, "backend": "trio"},
    "aeh-asyncio": {"kind": "aeh-asyncio"},
}
TARGETS = (
    ("aeh-sync-x1", "azure-buffered-sync-x1", 3.0),
    ("aeh-sync-x8", "azure-buffered-sync-x8", 2.0),
)


# --- child side: one run ------------------------------------------------------------------


def _in_threads(count: int, payloads: list[bytes], send: Callable[[bytes], object]) -> None:
    """Send *payloads* from *count* threads (each a slice), or from this one if 1."""
    if count == 1:
        for payload in payloads:
            send(payload)
        return
    errors: list[BaseException] = []

    def work(chunk: list[bytes]) -> None:
        try:
            for payload in chunk:
                send(payload)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(payloads[i::count],)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def _aeh_sync(spec: dict[str, Any], payloads: list[bytes]) -> dict[str, Any]:
    from anyio_eventhubs.sync import open_streaming_producer

    start = time.perf_counter()
    with open_streaming_producer(spec["conn"], backend=spec["backend"]) as producer:
        ready = time.perf_counter()
        _in_threads(spec["threads"], payloads, producer.queue_for_send)
    end = time.perf_counter()
    return {
        "elapsed": end - start,
        "setup": ready - start,
        "acked": producer.statistics().published,
    }


def _azure_sync(spec: dict[str, Any], payloads: list[bytes]) -> dict[str, Any]:
    from azure.eventhub import EventData, EventHubProducerClient

    lock = threading.Lock()
    acked = 0
    errors: list[BaseException] = []

    def on_success(events: Any, partition_id: str | None) -> None:
        nonlocal acked
        with lock:
            acked += len(events)

    def on_error(events: Any, partition_id: str | None, error: Exception) -> None:
        errors.append(error)

    start = time.perf_counter()
    client = EventHubProducerClient.from_connection_string(
        spec["conn"], buffered_mode=True, on_success=on_success, on_error=on_error
    )
    with client:
        send = client.send_event
        _in_threads(spec["threads"], payloads, lambda p: send(EventData(p)))
    end = time.perf_counter()
    if errors:
        raise RuntimeError(f"azure-eventhub reported {len(errors)} failed batches: {errors[0]!r}")
    return {"elapsed": end - start, "setup": None, "acked": acked}


def _child(spec: dict[str, Any]) -> dict[str, Any]:
    from _contenders import aeh_asyncio, make_payloads

    if spec["kind"] == "aeh-asyncio":
        full = dict(spec, mode="throughput", payload="bytes", routing="round_robin")
        return aeh_asyncio(full)
    payloads = make_payloads(spec["n"], spec["size"])
    if spec["kind"] == "aeh-sync":
        return _aeh_sync(spec, payloads)
    return _azure_sync(spec, payloads)


# --- parent side -------------------------------------------------------------------------


def _run_one(emulator: Any, spec: dict[str, Any], timeout: float) -> dict[str, Any]:
    hub, conn = emulator.new_hub(
        spec["partitions"], expected_events=spec["n"], event_size=spec["size"]
    )
    proc = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--child", json.dumps(dict(spec, conn=conn))],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=_HERE,
        check=False,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        tail = "\n".join(proc.stderr.strip().splitlines()[-25:])
        raise RunFailed(f"{spec}: exit code {proc.returncode}\n{tail}")
    result: dict[str, Any] = json.loads(lines[-1][len("RESULT ") :])
    verify_counts(spec, result, emulator.counts(hub), expected_total=spec["n"])
    result["events_per_s"] = spec["n"] / result["elapsed"]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5,000 events, 1 repetition")
    parser.add_argument("-n", type=int, help="events per run (default 200,000)")
    parser.add_argument("--size", type=int, default=100, help="bytes per event")
    parser.add_argument("--repeats", type=int, help="repetitions (default 3)")
    parser.add_argument("--only", nargs="+", choices=list(CONTENDERS), help="these contenders")
    parser.add_argument("--out", help="write every sample and the medians here (JSON)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print("RESULT " + json.dumps(_child(json.loads(args.child))), flush=True)
        # azure-eventhub's sync buffered producer, sent to from several threads, leaves a
        # max_wait_time worker running after close(), which hangs the interpreter's exit
        # (in concurrent.futures' exit hook): the run is over and verified, so leave now
        os._exit(0)
    from _emulator_proc import EmulatorProcess

    n = args.n or (5_000 if args.quick else 200_000)
    repeats = args.repeats or (1 if args.quick else 3)
    chosen = {cid: CONTENDERS[cid] for cid in args.only or CONTENDERS}
    base = {"n": n, "size": args.size, "partitions": 4}
    samples: dict[str, list[float]] = {cid: [] for cid in chosen}
    runs: list[dict[str, Any]] = []
    print(f"{n:,} events x {args.size} B, 4 partitions, round robin; {repeats} repetitions")
    with EmulatorProcess() as emulator:
        for rep in range(repeats):
            for cid, extra in chosen.items():
                result = _run_one(emulator, {**base, **extra}, timeout=900)
                samples[cid].append(result["events_per_s"])
                runs.append({"contender": cid, "repetition": rep, **result})
                print(
                    f"  [{rep + 1}/{repeats}] {cid:24s} {result['events_per_s']:>10,.0f} ev/s",
                    flush=True,
                )
    medians = {cid: statistics.median(values) for cid, values in samples.items()}
    ceiling = medians.get("aeh-asyncio")
    print("\n| contender | events/s (median) | x azure, same threads | x async producer |")
    print("| --- | ---: | ---: | ---: |")
    for cid, eps in medians.items():
        threads = CONTENDERS[cid].get("threads", 1)
        azure = medians.get(f"azure-buffered-sync-x{threads}")
        vs_azure = f"{eps / azure:.2f}" if azure and not cid.startswith("azure") else "-"
        vs_async = f"{eps / ceiling:.2f}" if ceiling else "-"
        print(f"| {cid} | {eps:,.0f} | {vs_azure} | {vs_async} |")
    print()
    targets = []
    for ours, theirs, threshold in TARGETS:
        if ours in medians and theirs in medians:
            ratio = medians[ours] / medians[theirs]
            met = ratio >= threshold
            targets.append(
                {"ours": ours, "theirs": theirs, "ratio": ratio, "threshold": threshold, "met": met}
            )
            verdict = "met" if met else "NOT met"
            print(f"target {ours} / {theirs} >= {threshold}: {ratio:.2f} ({verdict})")
    if args.out:
        with open(args.out, "w") as out:
            json.dump(
                {"config": base, "medians": medians, "targets": targets, "runs": runs},
                out,
                indent=1,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
