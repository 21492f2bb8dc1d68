"""Latency at low load: 1,000 events/s offered for a while, per ``max_wait_time``.

Each event's latency runs from the moment it is handed to the producer
(``queue_for_send`` / ``send_event``) to the success callback that reports its batch.
Before the clock starts, every contender publishes one warm-up event per partition and
flushes, so that connection setup is not counted (azure-eventhub opens its partition
links lazily, on the first event). The raw ceiling has no queue and no ``max_wait_time``
and is not a contender here.
"""

from __future__ import annotations

from typing import Any

from _runner import Config, RunFailed, for_each_run, measure, summarize

__all__ = ["CONTENDERS", "run"]

DESCRIPTION = (
    "Offered load of 1,000 events/s; p50/p99/max seconds from queueing an event to the "
    "success handler of its batch."
)

CONTENDERS: dict[str, dict[str, Any]] = {
    "aeh-asyncio": {"kind": "aeh-asyncio", "payload": "bytes"},
    "aeh-trio": {"kind": "aeh-trio", "payload": "bytes"},
    "azure-buffered-aio": {"kind": "azure-buffered-aio"},
    "azure-buffered-sync": {"kind": "azure-buffered-sync"},
}

#: the CDF is stored as these percentiles of every latency of every repetition
_CDF_POINTS = [i / 2 for i in range(0, 199)] + [99.5, 99.9, 100.0]


def _percentile(ordered: list[float], pct: float) -> float:
    if not ordered:
        return float("nan")
    rank = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[rank]


def run(emulator: Any, config: Config, *, log: Any = print) -> dict[str, Any]:
    groups = []
    partitions = 4
    n = int(config.latency_rate * config.latency_duration)
    for wait in config.latency_waits:
        label = (
            f"max_wait_time {wait} s, {config.latency_rate:,.0f} events/s for "
            f"{config.latency_duration:g} s, {partitions} partitions"
        )
        log(f"  latency: {label}")
        base = {
            "mode": "latency",
            "n": n,
            "size": 100,
            "partitions": partitions,
            "routing": "round_robin",
            "rate": config.latency_rate,
            "max_wait_time": wait,
        }

        def one_run(rep: int, cid: str, extra: dict[str, Any], base: Any = base) -> dict[str, Any]:
            spec = {**base, **extra}
            result = measure(emulator, spec, timeout=config.child_timeout, warmup_events=partitions)
            ordered = sorted(result.pop("latencies"))
            if len(ordered) != n:
                raise RunFailed(f"{cid}: {len(ordered)} latencies for {n} events")
            result["p50"] = _percentile(ordered, 50)
            result["p99"] = _percentile(ordered, 99)
            result["max"] = ordered[-1]
            result["_ordered"] = ordered
            log(
                f"    [{rep + 1}/{config.repeats}] {cid:22s} p50 {result['p50'] * 1e3:7.1f} ms"
                f"  p99 {result['p99'] * 1e3:7.1f} ms  max {result['max'] * 1e3:7.1f} ms"
            )
            return result

        samples = for_each_run(config, CONTENDERS, one_run)
        results: dict[str, dict[str, Any]] = {}
        for cid, runs in samples.items():
            pooled = sorted(v for r in runs for v in r.pop("_ordered"))
            results[cid] = {
                "p50_s": summarize([r["p50"] for r in runs]),
                "p99_s": summarize([r["p99"] for r in runs]),
                "max_s": summarize([r["max"] for r in runs]),
                "cdf": [[pct, _percentile(pooled, pct)] for pct in _CDF_POINTS],
                "peak_rss_mb": summarize([r["peak_rss"] / 2**20 for r in runs]),
                "samples": runs,
            }
        groups.append({"label": label, "config": base, "results": results})
    return {
        "name": "latency",
        "description": DESCRIPTION,
        "contenders": list(CONTENDERS),
        "groups": groups,
    }
