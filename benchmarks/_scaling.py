"""Scaling: throughput over 1 to 32 partitions, and 1 vs several sends per partition.

100-byte events, round robin, client setup included (as in ``_throughput``). Only
anyio-eventhubs can have several batches of one partition in flight
(``max_concurrent_sends_per_partition``); the other contenders appear once per
partition count.
"""

from __future__ import annotations

from typing import Any

from _runner import Config
from _throughput import run_group

__all__ = ["run"]

DESCRIPTION = (
    "Events/s (setup included) over 1-32 partitions; anyio-eventhubs with 1 and with "
    "several concurrent sends per partition."
)


def contenders(config: Config) -> dict[str, dict[str, Any]]:
    chosen: dict[str, dict[str, Any]] = {}
    for backend in ("asyncio", "trio"):
        for concurrency in config.scaling_concurrency:
            chosen[f"aeh-{backend}-bytes-x{concurrency}"] = {
                "kind": f"aeh-{backend}",
                "payload": "bytes",
                "concurrency": concurrency,
            }
    chosen["azure-buffered-aio"] = {"kind": "azure-buffered-aio"}
    chosen["azure-buffered-sync"] = {"kind": "azure-buffered-sync"}
    chosen["raw-send-batch-setup"] = {"kind": "raw-send-batch", "warm": False}
    return chosen


def run(emulator: Any, config: Config, *, log: Any = print) -> dict[str, Any]:
    chosen = contenders(config)
    groups = []
    for partitions in config.scaling_partitions:
        label = f"{config.scaling_events:,} x 100 B, {partitions} partitions, round robin"
        log(f"  scaling: {label}")
        base = {
            "mode": "throughput",
            "n": config.scaling_events,
            "size": 100,
            "partitions": partitions,
            "routing": "round_robin",
        }
        results = run_group(emulator, config, base, chosen, log=log)
        groups.append({"label": label, "config": base, "results": results})
    return {
        "name": "scaling",
        "description": DESCRIPTION,
        "contenders": list(chosen),
        "groups": groups,
    }
