"""Throughput: publish N events as fast as possible, every contender, same hub shape.

Events/s are counted with client setup included (from before the client is built until
it is closed and every event acknowledged); events/s without setup are reported where a
contender's setup can be told apart. Each contender is also given as a ratio of the raw
ceiling measured in the same run: azure-eventhub's asyncio ``send_batch`` with every
batch built before the first send (building is timed; the send phase alone is in the
JSON as ``send_s``), ``raw-send-batch-setup`` with client setup included,
``raw-send-batch-warm`` with every partition's link opened before the clock starts.
"""

from __future__ import annotations

from typing import Any

from _runner import Config, for_each_run, measure, summarize

__all__ = ["CONTENDERS", "describe_group", "run", "run_group"]

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
    "azure-buffered-aio": {"kind": "azure-buffered-aio"},
    "azure-buffered-sync": {"kind": "azure-buffered-sync"},
    "raw-send-batch-setup": {"kind": "raw-send-batch", "warm": False},
    "raw-send-batch-warm": {"kind": "raw-send-batch", "warm": True},
}


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
        result = measure(emulator, spec, timeout=config.child_timeout, warmup_events=warmup)
        result["events_per_s"] = base["n"] / result["elapsed"]
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
