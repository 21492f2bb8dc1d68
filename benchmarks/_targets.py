"""The targets: the issues' goals, computed from one run's own ratios.

Each target is a ratio or a figure of one run, so machines of different speeds can be
compared; ``met`` is ``None`` where the scenario was not run (``--scenario``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["compute_targets"]


def _find_group(results: dict[str, Any], scenario: str, **config: Any) -> dict[str, Any] | None:
    groups: list[dict[str, Any]] = results.get("scenarios", {}).get(scenario, {}).get("groups", [])
    for group in groups:
        if all(group["config"].get(k) == v for k, v in config.items()):
            return group
    return None


def _eps(group: dict[str, Any], cid: str) -> float:
    return float(group["results"][cid]["events_per_s"]["median"])


def compute_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets from this run's own ratios: ``met`` is True, False or None
    (scenario not run)."""
    targets: list[dict[str, Any]] = []

    def add(name: str, value: float | None, op: str, threshold: float, basis: str) -> None:
        met = None if value is None else (value >= threshold if op == ">=" else value <= threshold)
        targets.append(
            {
                "target": name,
                "value": value,
                "op": op,
                "threshold": threshold,
                "met": met,
                "basis": basis,
            }
        )

    def ratio(group: dict[str, Any] | None, cid: str, base: str) -> float | None:
        if group is None or cid not in group["results"] or base not in group["results"]:
            return None
        return _eps(group, cid) / _eps(group, base)

    # issue #17's targets (the earlier issues' lower thresholds are in docs/benchmarks.md)
    basis = "throughput, 100 B, 4 partitions, round robin, setup included"
    group = _find_group(results, "throughput", size=100, partitions=4, routing="round_robin")
    azure = "azure-buffered-aio"
    add(
        "bytes to queue_for_send vs azure aio buffered_mode (EventData)",
        ratio(group, "aeh-asyncio-bytes", azure),
        ">=",
        9.0,
        basis,
    )
    add(
        "bytes to queue_many_for_send vs azure aio buffered_mode",
        ratio(group, "aeh-asyncio-bytes-many", azure),
        ">=",
        20.0,
        basis,
    )
    add(
        "EventData to queue_for_send vs azure aio buffered_mode",
        ratio(group, "aeh-asyncio-eventdata", azure),
        ">=",
        2.5,
        basis,
    )
    add(
        "EventData to queue_for_send vs raw pre-batched send_batch (setup incl.)",
        ratio(group, "aeh-asyncio-eventdata", "raw-send-batch-setup"),
        ">=",
        0.9,
        basis,
    )
    add(
        "Trio vs asyncio (bytes)",
        ratio(group, "aeh-trio-bytes", "aeh-asyncio-bytes"),
        ">=",
        0.95,
        basis,
    )
    add(
        "Trio vs asyncio (EventData)",
        ratio(group, "aeh-trio-eventdata", "aeh-asyncio-eventdata"),
        ">=",
        0.95,
        basis,
    )
    # these two groups run in the full mode only: no row without them
    keyed = _find_group(results, "throughput", size=100, partitions=4, routing="keyed")
    if keyed is not None:
        add(
            "bytes to queue_for_send, keyed, vs azure aio buffered_mode keyed",
            ratio(keyed, "aeh-asyncio-bytes", azure),
            ">=",
            7.0,
            "throughput, 100 B, 4 partitions, keyed, setup included",
        )
    wide = _find_group(results, "throughput", size=100, partitions=32, routing="round_robin")
    if wide is not None:
        add(
            "bytes to queue_for_send, 32 partitions (events/s)",
            _eps(wide, "aeh-asyncio-bytes"),
            ">=",
            150_000,
            "throughput, 100 B, 32 partitions, round robin, setup included",
        )

    overhead = _find_group(results, "overhead")
    value = None
    if overhead is not None:
        value = overhead["results"]["producer-asyncio-eventdata"]["time_vs_batch_loop"]
    add(
        "producer time / bare batch-building loop (in-memory hub, EventData, asyncio)",
        value,
        "<=",
        1.3,
        "overhead, 100 B, 4 partitions",
    )

    latency = results.get("scenarios", {}).get("latency")
    waits = [g["config"]["max_wait_time"] for g in latency["groups"]] if latency else [0.05, 0.5]
    for wait in waits:
        group = _find_group(results, "latency", max_wait_time=wait)
        for cid in ("aeh-asyncio", "aeh-trio"):
            p99 = None if group is None else group["results"][cid]["p99_s"]["median"]
            add(
                f"p99 latency, max_wait_time {wait} s, {cid} (s)",
                p99,
                "<=",
                round(wait + 0.010, 3),
                "latency, 1,000 events/s",
            )
    return targets
