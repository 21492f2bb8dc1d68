"""Benchmarks of anyio-eventhubs against what users would pick instead, in one run.

::

    python benchmarks/run.py [--quick] [--out benchmarks/results] [--scenario NAME ...]

Scenarios: throughput, latency, overhead, memory, scaling (all by default). The emulator
runs in a process of its own (one per scenario), every measured run in a fresh process.
Writes ``results.json``, ``summary.md`` and PNG plots to ``--out``, prints the tables and
the targets (met / not met). Exits 1 if a run fails or publishes the wrong count;
targets that are not met do not change the exit code. ``--quick`` (a few seconds per
scenario, one repetition) is what CI runs so that the harness cannot rot; the full mode
is for measuring, on a quiet machine. See ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import platform
import sys
import time
from importlib import metadata
from typing import Any

import _latency
import _memory
import _overhead
import _report
import _scaling
import _throughput
from _emulator_proc import EmulatorProcess
from _runner import Config, RunFailed

SCENARIOS = {
    "throughput": _throughput.run,
    "latency": _latency.run,
    "overhead": _overhead.run,
    "memory": _memory.run,
    "scaling": _scaling.run,
}
#: scenarios that do not talk to the emulator
_NO_EMULATOR = {"overhead"}


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gb() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        return float("nan")


def _loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def machine_info(config: Config) -> dict[str, Any]:
    versions = {}
    for dist in ("anyio-eventhubs", "azure-eventhub", "anyio", "trio", "python-qpid-proton"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = "not installed"
    return {
        "started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "mode": "quick" if config.quick else "full",
        "repeats": config.repeats,
        "jobs": config.jobs,
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "memory_gb": _memory_gb(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "loadavg_start": _loadavg(),
        "versions": versions,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds per scenario (CI)")
    parser.add_argument(
        "--out",
        default=os.path.join("benchmarks", "results"),
        help="directory for results.json, summary.md and the plots",
    )
    parser.add_argument(
        "--scenario",
        nargs="+",
        action="extend",
        choices=list(SCENARIOS),
        metavar="NAME",
        help=f"run only these ({', '.join(SCENARIOS)})",
    )
    parser.add_argument("--repeats", type=int, help="repetitions per contender (full: 5)")
    parser.add_argument(
        "--jobs",
        type=int,
        help="runs at a time (quick: 2, full: 1); more than 1 disturbs the measurements",
    )
    args = parser.parse_args(argv)
    config = Config.quick_mode() if args.quick else Config.full()
    if args.repeats:
        config = dataclasses.replace(config, repeats=args.repeats)
    if args.jobs:
        config = dataclasses.replace(config, jobs=args.jobs)
    os.makedirs(args.out, exist_ok=True)
    chosen = args.scenario or list(SCENARIOS)
    results: dict[str, Any] = {"machine": machine_info(config), "scenarios": {}, "targets": []}
    started = time.perf_counter()
    failure: str | None = None
    try:
        for name in chosen:
            print(f"== {name}", flush=True)
            scenario_started = time.perf_counter()
            if name in _NO_EMULATOR:
                scenario = SCENARIOS[name](None, config, log=_log)
            else:
                with EmulatorProcess() as emulator:
                    scenario = SCENARIOS[name](emulator, config, log=_log)
            scenario["seconds"] = time.perf_counter() - scenario_started
            results["scenarios"][name] = scenario
    except RunFailed as exc:
        failure = str(exc)
    results["machine"]["loadavg_end"] = _loadavg()
    results["machine"]["seconds"] = time.perf_counter() - started
    results["targets"] = _report.compute_targets(results)
    if failure is not None:
        results["error"] = failure
    _report.write_json(results, os.path.join(args.out, "results.json"))
    if failure is not None:
        print(f"\nFAILED: {failure}", file=sys.stderr)
        return 1
    plots = _report.plot(results, args.out)
    _report.write_markdown(results, os.path.join(args.out, "summary.md"), plots)
    print()
    print(_report.render(results))
    print(
        f"\n{time.perf_counter() - started:.0f} s; wrote {args.out}/results.json, "
        f"summary.md and {len(plots)} plots"
    )
    return 0


def _log(message: str) -> None:
    print(message, flush=True)


if __name__ == "__main__":
    sys.exit(main())
