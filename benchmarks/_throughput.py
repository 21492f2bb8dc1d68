"""Throughput: publish N events as fast as possible, every contender, same hub shape.

Events/s are counted with client setup included (from before the client is built until
it is closed and every event acknowledged); events/s without setup are reported where a
contender's setup can be told apart. Each contender is also given as a ratio of the raw
ceiling measured in the same run: azure-eventhub's asyncio ``send_batch`` with every
batch built before the first send (building is timed; the send phase alone is in the
JSON as ``send_s``), ``raw-send-batch-setup`` with client setup included,
``raw-send-batch-warm`` with every partition's link opened before the clock starts.

Each run also reports MB/s of payload, and CPU per event: the contender's process (its
whole life, setup included) and the emulator's (read from ``/proc`` around the run, so
only meaningful with one run at a time: the full mode).
"""

from __future__ import annotations

import os
from typing import Any

from _runner import Config, for_each_run, measure, summarize

__all__ = ["CONTENDERS", "HANDLER_CONTENDERS", "describe_group", "run", "run_group"]

DESCRIPTION = (
    "Events/s publishing N events, client setup included; ratio to the raw pre-batched "
    "send_batch ceiling of the same run."
)

#: contender id -> the spec keys that select it
CONTENDERS: dict[str, dict[str, Any]] = {
    "aeh-asyncio-bytes": {"kind": "aeh-asyncio", "payload": "bytes"},
    "aeh-asyncio-eventdata": {"kind": "aeh-asyncio", "payload": "eventdata"},
    "aeh-trio-bytes": {"kind": "aeh-trio", "payload": "bytes"},
    "aeh-trio-eventdata": {"kind": "aeh-trio", "payload": "eventdata"},
    "aeh-asyncio-bytes-many": {"kind": "aeh-many-asyncio", "payload": "bytes"},
    "aeh-trio-bytes-many": {"kind": "aeh-many-trio", "payload": "bytes"},
    "azure-buffered-aio": {"kind": "azure-buffered-aio"},
    "azure-buffered-sync": {"kind": "azure-buffered-sync"},
    "raw-send-batch-setup": {"kind": "raw-send-batch", "warm": False},
    "raw-send-batch-warm": {"kind": "raw-send-batch", "warm": True},
}

#: the same ``EventData`` contenders with an ``on_publish_succeeded`` handler (which gets
#: the caller's objects back, so the producer holds them until their outcome): not in
#: ``run.py``'s set, for ``compare_trees.py --handler``
HANDLER_CONTENDERS: dict[str, dict[str, Any]] = {
    "aeh-asyncio-eventdata-handler": {
        "kind": "aeh-asyncio",
        "payload": "eventdata",
        "handler": True,
    },
    "aeh-trio-eventdata-handler": {"kind": "aeh-trio", "payload": "eventdata", "handler": True},
}


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of process *pid* so far, or ``None`` off Linux."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def describe_group(size: int, partitions: int, routing: str, n: int) -> str:
    route = "round robin" if routing == "round_robin" else "keyed"
    return f"{n:,} x {size} B, {partitions} partitions, {route}"


def run_group(
    emulator: Any,
    config: Config,
    base: dict[str, Any],
    contenders: dict[str, dict[str, Any]],
    *,
    log: Any = print,
) -> dict[str, dict[str, Any]]:
    """Run every contender ``config.repeats`` times (interleaved) on *base*'s workload."""

    def one_run(rep: int, cid: str, extra: dict[str, Any]) -> dict[str, Any]:
        spec = {**base, **extra}
        warmup = spec["partitions"] if spec.get("warm") else 0
        pid = emulator.pid
        emulator_cpu = _cpu_seconds(pid)
        result = measure(emulator, spec, timeout=config.child_timeout, warmup_events=warmup)
        if emulator.pid != pid:  # restarted before the run: all of the new one's CPU
            emulator_cpu = 0.0
        emulator_after = _cpu_seconds(emulator.pid)
        result["events_per_s"] = base["n"] / result["elapsed"]
        result["mb_per_s"] = base["n"] * base["size"] / result["elapsed"] / 1e6
        if "cpu_s" in result:
            result["cpu_us_per_event"] = result["cpu_s"] / base["n"] * 1e6
        if emulator_cpu is not None and emulator_after is not None:
            spent = emulator_after - emulator_cpu
            result["emulator_cpu_us_per_event"] = spent / base["n"] * 1e6
        setup = result.get("setup")
        if setup is not None and result["elapsed"] > setup:
            result["events_per_s_after_setup"] = base["n"] / (result["elapsed"] - setup)
        if result.get("send_s"):
            result["events_per_s_send_phase"] = base["n"] / result["send_s"]
        log(f"    [{rep + 1}/{config.repeats}] {cid:24s} {result['events_per_s']:>10,.0f} ev/s")
        return result

    samples = for_each_run(config, contenders, one_run)
    results: dict[str, dict[str, Any]] = {}
    for cid, runs in samples.items():
        eps = summarize([r["events_per_s"] for r in runs])
        after = [r["events_per_s_after_setup"] for r in runs if "events_per_s_after_setup" in r]
        setups = [r["setup"] for r in runs if r.get("setup") is not None]
        results[cid] = {
            "events_per_s": eps,
            "events_per_s_after_setup": summarize(after) if after else None,
            "setup_s": summarize(setups) if setups else None,
            "peak_rss_mb": summarize([r["peak_rss"] / 2**20 for r in runs]),
            "mb_per_s": summarize([r["mb_per_s"] for r in runs]),
            "cpu_us_per_event": _median_of(runs, "cpu_us_per_event"),
            "emulator_cpu_us_per_event": _median_of(runs, "emulator_cpu_us_per_event"),
            "samples": [
                {k: v for k, v in r.items() if k not in ("rss_samples", "latencies")} for r in runs
            ],
        }
    for ceiling in ("raw-send-batch-setup", "raw-send-batch-warm"):
        if ceiling in results:
            base_eps = results[ceiling]["events_per_s"]["median"]
            for entry in results.values():
                entry[f"ratio_to_{ceiling}"] = entry["events_per_s"]["median"] / base_eps
    return results


def _median_of(runs: list[dict[str, Any]], key: str) -> dict[str, float] | None:
    values = [r[key] for r in runs if key in r]
    return summarize(values) if values else None


def run(emulator: Any, config: Config, *, log: Any = print) -> dict[str, Any]:
    groups = []
    for size, n, partitions, routing in config.throughput_groups:
        label = describe_group(size, partitions, routing, n)
        log(f"  throughput: {label}")
        base = {
            "mode": "throughput",
            "n": n,
            "size": size,
            "partitions": partitions,
            "routing": routing,
        }
        results = run_group(emulator, config, base, CONTENDERS, log=log)
        groups.append({"label": label, "config": base, "results": results})
    return {
        "name": "throughput",
        "description": DESCRIPTION,
        "contenders": list(CONTENDERS),
        "groups": groups,
    }
