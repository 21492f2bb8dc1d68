"""What the journal costs the producer, and how fast it recovers (issue #10).

::

    python benchmarks/journal_throughput.py [--quick] [-n 200000] [--repeats 3]
        [--recovery 100000 1000000] [--backend asyncio|trio] [--out results.json]

Against the emulator in a process of its own (``_emulator_proc``), each run in a fresh
process, every run on a fresh 4-partition hub, 100-byte events round robin, verified
against the emulator's counts:

- **throughput**, in the same run: the producer without a journal, with the default
  journal (``"buffered"``), ``"interval"`` (fdatasync at most every second) and
  ``"always"`` (fdatasync per event: with ``n / 10`` events, it is that slow), for
  ``bytes`` and ``EventData``; and azure-eventhub's ``buffered_mode`` (asyncio client)
  for ``bytes``. Events/s include client setup and the close. Ratios to the producer
  without a journal, and of the default journal to ``buffered_mode``.
- **recovery** (``--repeats`` rounds, medians): a journal of N events without an
  outcome is written with the store's own API (as a killed producer leaves it:
  appended one event at a time, no outcome), then a producer is opened on it and
  publishes them all (plus one marker event, which waits for recovery); events/s
  against the producer publishing N fresh events with no journal and with the default
  one, in the same round. Peak RSS of each run (``ru_maxrss``), and the RSS sampled
  every 0.1 s, to show memory stays flat however large the journal.

Targets (issue #10): the default journal at least 0.6x the producer without it and 3x
``buffered_mode`` for ``bytes``; recovery at least 0.8x the normal rate.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

SIZE = 100
PARTITIONS = 4
THROUGHPUT = {
    "none-bytes": {"journal": None, "payload": "bytes"},
    "buffered-bytes": {"journal": "buffered", "payload": "bytes"},
    "interval-bytes": {"journal": "interval", "payload": "bytes"},
    "always-bytes": {"journal": "always", "payload": "bytes"},
    "none-eventdata": {"journal": None, "payload": "eventdata"},
    "buffered-eventdata": {"journal": "buffered", "payload": "eventdata"},
    "interval-eventdata": {"journal": "interval", "payload": "eventdata"},
    "always-eventdata": {"journal": "always", "payload": "eventdata"},
    "azure-buffered-aio": {"kind": "azure"},
}


# -- child side ----------------------------------------------------------------------------


def payloads(n: int) -> list[bytes]:
    return [i.to_bytes(8, "big") + b"x" * (SIZE - 8) for i in range(n)]


async def _produce(spec: dict[str, Any]) -> dict[str, Any]:
    from anyio_eventhubs import EventData, JournalOptions, open_streaming_producer

    bodies = payloads(spec["n"])
    options: dict[str, Any] = {}
    if spec["journal"] is not None:
        options["journal"] = JournalOptions(spec["dir"], durability=spec["journal"])
    started = time.perf_counter()
    async with open_streaming_producer(spec["conn"], **options) as producer:
        queue = producer.queue_for_send
        if spec["payload"] == "eventdata":
            for body in bodies:
                await queue(EventData(body))
        else:
            for body in bodies:
                await queue(body)
    return {"elapsed": time.perf_counter() - started, "published": producer.statistics().published}


def _prepare(spec: dict[str, Any]) -> dict[str, Any]:
    """Write a journal of ``n`` events without outcomes, as a killed producer leaves it."""
    import anyio

    from anyio_eventhubs import open_streaming_producer
    from anyio_eventhubs._events import QueuedEvent, encode_event
    from anyio_eventhubs._journal import JournalStore

    async def namespace() -> tuple[str, str]:
        async with open_streaming_producer(spec["conn"]) as producer:
            return producer.fully_qualified_namespace, producer.eventhub_name

    ns, hub = anyio.run(namespace)
    started = time.perf_counter()
    store = JournalStore.open(spec["dir"], namespace=ns, eventhub_name=hub)
    seqs = [0] * PARTITIONS  # numbered per partition, as the producer numbers them
    for i, body in enumerate(payloads(spec["n"])):
        p = i % PARTITIONS
        store.append_event(str(p), QueuedEvent(body, encode_event(body, None), seqs[p]))
        seqs[p] += 1
    elapsed = time.perf_counter() - started
    size = store.size_bytes
    store._writer.abandon()  # a kill: no outcome, no close
    os.close(store._lock_fd)
    return {"elapsed": elapsed, "bytes": size}


async def _recover(spec: dict[str, Any]) -> dict[str, Any]:
    from anyio_eventhubs import open_streaming_producer

    started = time.perf_counter()
    async with open_streaming_producer(spec["conn"], journal=spec["dir"]) as producer:
        await producer.queue_for_send(b"marker")  # returns once recovery queued everything
        queued = time.perf_counter()
    statistics = producer.statistics()
    return {
        "elapsed": time.perf_counter() - started,
        "recovery_queued": queued - started,
        "published": statistics.published,
        "recovered": statistics.recovered,
    }


def child(spec: dict[str, Any]) -> dict[str, Any]:
    import anyio

    kind = spec["kind"]
    if kind == "azure":
        import _contenders

        return _contenders.azure_buffered_aio(
            {**spec, "mode": "throughput", "size": SIZE, "routing": "round_robin"}
        )
    if kind == "prepare":
        return _prepare(spec)
    function = _recover if kind == "recover" else _produce
    result: dict[str, Any] = anyio.run(function, spec, backend=spec["backend"])
    if kind == "recover":  # what a clean close left of the journal
        result["journal_left"] = sum(p.stat().st_size for p in Path(spec["dir"]).glob("*.seg"))
    return result


# -- parent side ---------------------------------------------------------------------------


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def run_child(spec: dict[str, Any], timeout: float = 900.0) -> dict[str, Any]:
    """Run *spec* in a fresh interpreter; its result with ``peak_rss`` and RSS samples."""
    samples: list[int] = []
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(
            [sys.executable, __file__, "--child", json.dumps(spec)], stdout=out, stderr=err
        )
        deadline = time.monotonic() + timeout
        while proc.poll() is None:
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                raise RuntimeError(f"{spec['kind']} run timed out after {timeout} s")
            if rss := _rss(proc.pid):
                samples.append(rss)
            time.sleep(0.1)
        out.seek(0)
        err.seek(0)
        lines = [line for line in out.read().splitlines() if line.startswith("RESULT ")]
        if proc.returncode or not lines:
            raise RuntimeError(f"{spec['kind']} run failed ({proc.returncode}):\n{err.read()}")
    result: dict[str, Any] = json.loads(lines[-1].removeprefix("RESULT "))
    result["rss_samples_mb"] = [round(s / 2**20, 1) for s in samples]
    return result


def run_on_fresh_hub(emulator: Any, spec: dict[str, Any], events: int) -> dict[str, Any]:
    """Run *spec* on a new hub; check the emulator stored exactly *events*."""
    hub, conn = emulator.new_hub(PARTITIONS, expected_events=events, event_size=SIZE)
    result = run_child({**spec, "conn": conn})
    stored = sum(emulator.counts(hub))
    if stored != events:
        raise RuntimeError(f"{spec}: the emulator stored {stored} events, not {events}")
    return result


def throughput(emulator: Any, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    samples: dict[str, list[float]] = {cid: [] for cid in THROUGHPUT}
    for rep in range(args.repeats):
        for cid, extra in THROUGHPUT.items():
            n = args.n // 10 if extra.get("journal") == "always" else args.n
            spec = {"kind": "produce", "n": n, "backend": args.backend, "dir": "", **extra}
            if extra.get("journal"):
                spec["dir"] = str(work / f"{cid}-{rep}")
            result = run_on_fresh_hub(emulator, spec, n)
            if spec.get("dir"):
                shutil.rmtree(spec["dir"], ignore_errors=True)
            samples[cid].append(n / result["elapsed"])
            eps = n / result["elapsed"]
            print(f"  [{rep + 1}/{args.repeats}] {cid:20s} {n:>9,} {eps:>9,.0f} ev/s")
    medians = {cid: statistics.median(values) for cid, values in samples.items()}
    ratios = {
        f"{d}-{p} / none-{p}": medians[f"{d}-{p}"] / medians[f"none-{p}"]
        for p in ("bytes", "eventdata")
        for d in ("buffered", "interval", "always")
    }
    ratios["buffered-bytes / azure-buffered-aio"] = (
        medians["buffered-bytes"] / medians["azure-buffered-aio"]
    )
    return {"events_per_s": medians, "samples": samples, "ratios": ratios}


def _recovery_once(emulator: Any, args: argparse.Namespace, work: Path, n: int) -> dict[str, Any]:
    """One recovery of *n* journaled events, then *n* fresh ones without and with a
    journal, each on a fresh hub."""
    directory = work / f"recovery-{n}"
    row: dict[str, Any] = {"events": n}
    hub, conn = emulator.new_hub(PARTITIONS, expected_events=n + 1, event_size=SIZE)
    row["prepare"] = run_child({"kind": "prepare", "conn": conn, "n": n, "dir": str(directory)})
    row["recover"] = run_child(
        {"kind": "recover", "conn": conn, "dir": str(directory), "backend": args.backend}
    )
    stored = sum(emulator.counts(hub))
    if stored != n + 1 or row["recover"]["recovered"] != n:
        raise RuntimeError(f"recovery of {n}: stored {stored}, recovered {row['recover']}")
    shutil.rmtree(directory, ignore_errors=True)
    for name, journal in (("normal-none", None), ("normal-buffered", "buffered")):
        spec = {"kind": "produce", "n": n, "payload": "bytes", "journal": journal}
        spec.update(backend=args.backend, dir=str(directory))
        row[name] = run_on_fresh_hub(emulator, spec, n)
        shutil.rmtree(directory, ignore_errors=True)
    row["recover_events_per_s"] = (n + 1) / row["recover"]["elapsed"]
    for name in ("normal-none", "normal-buffered"):
        row[f"{name}_events_per_s"] = n / row[name]["elapsed"]
    return row


def recovery(emulator: Any, args: argparse.Namespace, work: Path) -> list[dict[str, Any]]:
    """Per journal size: ``--repeats`` rounds of :func:`_recovery_once`; the medians of
    each rate, and their ratios (the runs of each round are side by side)."""
    rows = []
    for n in args.recovery:
        rounds = [_recovery_once(emulator, args, work, n) for _ in range(args.repeats)]
        row: dict[str, Any] = {"events": n, "rounds": rounds}
        for key in ("prepare", "recover", "normal-none", "normal-buffered"):
            row[key] = rounds[-1][key]
        for key in ("recover", "normal-none", "normal-buffered"):
            rates = [r[f"{key}_events_per_s"] for r in rounds]
            row[f"{key}_events_per_s"] = statistics.median(rates)
        rate = row["recover_events_per_s"]
        for name in ("normal-none", "normal-buffered"):
            row[f"ratio_to_{name}"] = rate / row[f"{name}_events_per_s"]
        row["peak_rss"] = max(r["recover"]["peak_rss"] for r in rounds)
        rows.append(row)
        per_round = ", ".join(
            f"{r['recover_events_per_s'] / r['normal-none_events_per_s']:.2f}x" for r in rounds
        )
        print(
            f"  recovery of {n:,}: {rate:,.0f} ev/s ({row['ratio_to_normal-none']:.2f}x no "
            f"journal, {row['ratio_to_normal-buffered']:.2f}x journal; medians of "
            f"{len(rounds)}, per round {per_round} of no journal), peak RSS "
            f"{row['peak_rss'] / 2**20:.0f} MB (no journal, {n:,} fresh: "
            f"{row['normal-none']['peak_rss'] / 2**20:.0f} MB); journal "
            f"{row['prepare']['bytes'] / 1e6:.1f} MB written in {row['prepare']['elapsed']:.1f} s"
        )
    return rows


def report(results: dict[str, Any]) -> list[tuple[str, float, float, bool]]:
    targets = []
    if "throughput" in results:
        m, r = results["throughput"]["events_per_s"], results["throughput"]["ratios"]
        print("\n| contender | events/s | ratio to no journal |\n|---|---:|---:|")
        for cid, eps in m.items():
            base = m.get(f"none-{cid.split('-')[-1]}")
            ratio = f"{eps / base:.2f}x" if base and not cid.startswith("azure") else ""
            print(f"| {cid} | {eps:,.0f} | {ratio} |")
        azure = r["buffered-bytes / azure-buffered-aio"]
        print(f"\nbuffered-bytes / azure-buffered-aio: {azure:.2f}x")
        targets += [
            ("default journal / no journal (bytes)", r["buffered-bytes / none-bytes"], 0.6),
            ("default journal / buffered_mode (bytes)", azure, 3.0),
        ]
    for row in results.get("recovery", []):
        targets.append(
            (f"recovery of {row['events']:,} / no journal", row["ratio_to_normal-none"], 0.8)
        )
    print("\n| target | measured | wanted | met |\n|---|---:|---:|---|")
    checked = [(name, value, wanted, value >= wanted) for name, value, wanted in targets]
    for name, value, wanted, met in checked:
        print(f"| {name} | {value:.2f}x | {wanted}x | {'yes' if met else 'no'} |")
    return checked


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="tiny runs: checks the harness")
    parser.add_argument("-n", type=int, default=200_000, help="events per throughput run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--recovery", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    parser.add_argument("--out", type=Path, help="write every number as JSON here")
    parser.add_argument(
        "--only", choices=["throughput", "recovery"], help="run one of the two parts"
    )
    args = parser.parse_args()
    if args.child:
        result = child(json.loads(args.child))
        result["peak_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        print("RESULT " + json.dumps(result), flush=True)
        return 0
    if args.quick:
        args.n, args.repeats, args.recovery = 2_000, 1, [2_000, 10_000]
    from _emulator_proc import EmulatorProcess

    work = Path(tempfile.mkdtemp(prefix="journal-bench-"))
    try:
        with EmulatorProcess() as emulator:
            print(f"throughput: {args.n:,} x {SIZE} B, {PARTITIONS} partitions, {args.backend}")
            results: dict[str, Any] = {"config": vars(args) | {"out": str(args.out)}}
            if args.only != "recovery":
                results["throughput"] = throughput(emulator, args, work)
            if args.only != "throughput":
                print("recovery:")
                results["recovery"] = recovery(emulator, args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results["targets"] = [
        {"name": name, "measured": value, "wanted": wanted, "met": met}
        for name, value, wanted, met in report(results)
    ]
    results["load_average"] = os.getloadavg()
    if args.out is not None:
        args.out.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
