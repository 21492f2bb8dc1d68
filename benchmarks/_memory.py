"""Memory under overload: a hub that acknowledges slowly, 10x more events offered.

The emulator of this scenario holds every acknowledgement for ``memory_ack_delay``
seconds and its hub takes batches of at most ``memory_max_message_size`` bytes, so with
one batch in flight per partition it can take about
``partitions * events_per_batch / ack_delay`` events/s. Each contender is offered ten
times that, as fresh 1 KiB payloads (nothing is generated up front), for
``memory_duration`` seconds; what is still queued at the end is dropped (``clear()``,
``close(flush=False)``). The parent samples the contender's RSS all along.

"Flat" means the RSS peak of the second half of the offering window is at most
``max(2 MiB, 5 %)`` above the peak of the first half: memory stops growing once the
queue bound is reached. The queue bound is ``partitions * 1500 * event size`` for both
anyio-eventhubs (``max_queued_events``) and azure-eventhub (``max_buffer_length``).
"""

from __future__ import annotations

from typing import Any

from _runner import Config, for_each_run, measure, summarize

__all__ = ["CONTENDERS", "run"]

DESCRIPTION = (
    "Slow hub, 10x more events offered than it can take: RSS over time, peak, and "
    "whether it stays flat once the queue bound is reached."
)

CONTENDERS: dict[str, dict[str, Any]] = {
    "aeh-asyncio": {"kind": "aeh-asyncio", "payload": "bytes"},
    "aeh-trio": {"kind": "aeh-trio", "payload": "bytes"},
    "azure-buffered-aio": {"kind": "azure-buffered-aio"},
    "azure-buffered-sync": {"kind": "azure-buffered-sync"},
}

_QUEUE_BOUND_EVENTS = 1500  # the default of both max_queued_events and max_buffer_length
_MB = 2**20


def _analyse(result: dict[str, Any]) -> dict[str, Any]:
    start, end = result["offer_start"], result["offer_end"]
    # from setup to shortly after the window (not the process's exit)
    series = [
        (t - start, rss / _MB)
        for t, rss in result.pop("rss_samples", [])
        if t - start <= end - start + 0.25
    ]
    window = [(t, m) for t, m in series if 0 <= t <= end - start]
    before = [m for t, m in series if t < 0]
    baseline = before[-1] if before else (window[0][1] if window else float("nan"))
    half = (end - start) / 2
    first = [m for t, m in window if t < half]
    second = [m for t, m in window if t >= half]
    peak_first = max(first, default=float("nan"))
    peak_second = max(second, default=float("nan"))
    growth = peak_second - peak_first
    return {
        "rss_series_mb": [[round(t, 3), round(m, 2)] for t, m in series],
        "baseline_mb": baseline,
        "peak_mb": max((m for _, m in window), default=float("nan")),
        "peak_first_half_mb": peak_first,
        "peak_second_half_mb": peak_second,
        "second_half_growth_mb": growth,
        "flat": bool(growth <= max(2.0, 0.05 * peak_first)),
        "accepted_per_s": result["accepted"] / (end - start),
    }


def run(emulator: Any, config: Config, *, log: Any = print) -> dict[str, Any]:
    partitions, size = 4, config.memory_event_size
    per_batch = config.memory_max_message_size // (size + 16)
    capacity = partitions * per_batch / config.memory_ack_delay
    rate = capacity * config.memory_overload
    emulator.delay_acks(config.memory_ack_delay)
    label = (
        f"{size} B events offered at {rate:,.0f}/s (~{config.memory_overload:g}x the "
        f"~{capacity:,.0f}/s the hub takes) for {config.memory_duration:g} s, {partitions} "
        f"partitions, acks held {config.memory_ack_delay} s"
    )
    log(f"  memory: {label}")
    base = {
        "mode": "memory",
        "n": int(rate * config.memory_duration),
        "size": size,
        "partitions": partitions,
        "routing": "round_robin",
        "rate": rate,
        "duration": config.memory_duration,
        "max_message_size": config.memory_max_message_size,
    }
    interval = 0.05 if config.quick else 0.1

    def one_run(rep: int, cid: str, extra: dict[str, Any]) -> dict[str, Any]:
        spec = {**base, **extra}
        result = measure(emulator, spec, timeout=config.child_timeout, sample_rss=interval)
        result.update(_analyse(result))
        log(
            f"    [{rep + 1}/{config.repeats}] {cid:22s} peak {result['peak_mb']:6.1f} MB"
            f"  2nd-half growth {result['second_half_growth_mb']:+5.1f} MB"
            f"  accepted {result['accepted_per_s']:,.0f}/s"
            f"  {'flat' if result['flat'] else 'GROWING'}"
        )
        return result

    try:
        samples = for_each_run(config, CONTENDERS, one_run)
    finally:
        emulator.delay_acks(0)
    results: dict[str, dict[str, Any]] = {}
    for cid, runs in samples.items():
        results[cid] = {
            "peak_mb": summarize([r["peak_mb"] for r in runs]),
            "baseline_mb": summarize([r["baseline_mb"] for r in runs]),
            "second_half_growth_mb": summarize([r["second_half_growth_mb"] for r in runs]),
            "accepted_per_s": summarize([r["accepted_per_s"] for r in runs]),
            "flat": all(r["flat"] for r in runs),
            "queue_bound_mb": partitions * _QUEUE_BOUND_EVENTS * size / _MB,
            "samples": runs,
        }
    return {
        "name": "memory",
        "description": DESCRIPTION,
        "contenders": list(CONTENDERS),
        "groups": [{"label": label, "config": base, "results": results}],
    }
