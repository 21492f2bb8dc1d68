"""Throughput of two source trees of anyio-eventhubs, side by side, interleaved.

::

    git archive <base commit> | tar -x -C /tmp/before
    python benchmarks/compare_trees.py /tmp/before . [--repeats 3] [--large]
        [--partitions 4] [--handler] [--out FILE]

Runs the throughput contenders of ``_throughput`` against one emulator process, each
repetition alternating the two trees (each child imports ``anyio_eventhubs`` from its
tree through ``PYTHONPATH``), with azure-eventhub's asyncio ``buffered_mode`` once per
repetition as the ratio's base. Default workloads: 200,000 x 100 B, 4 partitions
(``--partitions`` to change it), round robin and keyed; ``--large``: 50,000 x 1 KiB and
5,000 x 16 KiB, round robin; ``--handler`` adds the ``EventData`` contenders with an
``on_publish_succeeded`` handler, for which the producer holds the events. Prints the
median events/s (spread: half of max - min, over the median), the ratio to
``buffered_mode``, and the CPU per event of the producer's and the emulator's process.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from typing import Any

from _emulator_proc import EmulatorProcess
from _runner import measure
from _throughput import CONTENDERS, HANDLER_CONTENDERS, _cpu_seconds

AEH = [
    "aeh-asyncio-bytes",
    "aeh-trio-bytes",
    "aeh-asyncio-bytes-many",
    "aeh-trio-bytes-many",
    "aeh-asyncio-eventdata",
    "aeh-trio-eventdata",
]
BASE = "azure-buffered-aio"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", help="the first tree (a directory with anyio_eventhubs/)")
    parser.add_argument("after", help="the second tree")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--large", action="store_true", help="1 KiB and 16 KiB events")
    parser.add_argument(
        "--handler",
        action="store_true",
        help="also EventData with an on_publish_succeeded handler (the producer holds them)",
    )
    parser.add_argument("--out", help="write every sample here as JSON")
    parser.add_argument(
        "--partitions", type=int, default=4, help="of the hub (the emulator makes it)"
    )
    args = parser.parse_args(argv)
    trees = {"before": os.path.abspath(args.before), "after": os.path.abspath(args.after)}
    contenders, groups = AEH, [(100, 200_000, "round_robin"), (100, 200_000, "keyed")]
    if args.large:
        contenders = ["aeh-asyncio-bytes", "aeh-asyncio-bytes-many", "aeh-trio-bytes-many"]
        groups = [(1024, 50_000, "round_robin"), (16 * 1024, 5_000, "round_robin")]
    if args.handler:
        contenders = [*contenders, *HANDLER_CONTENDERS]
    specs = {**CONTENDERS, **HANDLER_CONTENDERS}
    rows: list[dict[str, Any]] = []
    with EmulatorProcess() as emulator:
        for rep in range(args.repeats):
            order = ("before", "after") if rep % 2 == 0 else ("after", "before")
            for size, n, routing in groups:
                spec = {"mode": "throughput", "n": n, "size": size, "partitions": args.partitions}
                runs = [(cid, tree) for cid in contenders for tree in order] + [(BASE, "after")]
                for cid, tree in runs:
                    os.environ["PYTHONPATH"] = trees[tree]
                    pid, cpu = emulator.pid, _cpu_seconds(emulator.pid)
                    result = measure(
                        emulator,
                        {**spec, "routing": routing, **specs[cid]},
                        timeout=900,
                    )
                    after = _cpu_seconds(emulator.pid)
                    row = {
                        "group": f"{n:,} x {size} B, {args.partitions} partitions, {routing}",
                        "cid": cid,
                        "tree": tree,
                        "eps": n / result["elapsed"],
                        "mb_per_s": n * size / result["elapsed"] / 1e6,
                        "cpu_us": result.get("cpu_s", 0.0) / n * 1e6,
                        # None when the emulator restarted during the run
                        "emulator_cpu_us": None
                        if emulator.pid != pid or cpu is None or after is None
                        else (after - cpu) / n * 1e6,
                    }
                    rows.append(row)
                    print(f"  [{rep + 1}] {row['group']} {cid} {tree}: {row['eps']:,.0f} ev/s")
    if args.out:
        with open(args.out, "w") as out:
            json.dump(rows, out, indent=1)
    _report(rows)
    return 0


def _report(rows: list[dict[str, Any]]) -> None:
    for group in dict.fromkeys(r["group"] for r in rows):
        mine = [r for r in rows if r["group"] == group]
        base = statistics.median(r["eps"] for r in mine if r["cid"] == BASE)
        print(f"\n{group}: {BASE} {base:,.0f} events/s")
        print("| contender | tree | events/s | x buffered | MB/s | CPU us/event | emulator |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for cid in dict.fromkeys(r["cid"] for r in mine if r["cid"] != BASE):
            for tree in ("before", "after"):
                runs = [r for r in mine if r["cid"] == cid and r["tree"] == tree]
                eps = [r["eps"] for r in runs]
                median = statistics.median(eps)
                spread = (max(eps) - min(eps)) / 2 / median * 100
                emulator = [r["emulator_cpu_us"] for r in runs if r["emulator_cpu_us"]]
                emu = f"{statistics.median(emulator):.2f}" if emulator else "-"
                print(
                    f"| {cid} | {tree} | {median:,.0f} ±{spread:.0f}% | {median / base:.2f} | "
                    f"{statistics.median(r['mb_per_s'] for r in runs):.1f} | "
                    f"{statistics.median(r['cpu_us'] for r in runs):.2f} | {emu} |"
                )


if __name__ == "__main__":
    raise SystemExit(main())
