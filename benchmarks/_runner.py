"""Parent side: the run configuration, one run in a fresh process, verification, stats."""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Config",
    "RunFailed",
    "expected_partition_counts",
    "for_each_run",
    "measure",
    "run_child",
    "summarize",
    "verify_counts",
]

_HERE = os.path.dirname(os.path.abspath(__file__))


@dataclass(frozen=True)
class Config:
    """What each scenario runs; :meth:`quick` is the CI mode, :meth:`full` for measuring."""

    quick: bool
    repeats: int
    #: (event size in bytes, event count, partitions, routing) per throughput group
    throughput_groups: tuple[tuple[int, int, int, str], ...]
    latency_rate: float
    latency_duration: float
    latency_waits: tuple[float, ...]
    overhead_events: int
    memory_duration: float
    scaling_partitions: tuple[int, ...]
    scaling_events: int
    scaling_concurrency: tuple[int, ...]
    child_timeout: float
    #: runs at a time; more than 1 disturbs the numbers (quick mode only checks the harness)
    jobs: int = 1
    memory_ack_delay: float = 0.2
    memory_max_message_size: int = 64 * 1024
    memory_event_size: int = 1024
    memory_overload: float = 10.0
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def full(cls, repeats: int = 5) -> Config:
        return cls(
            quick=False,
            repeats=repeats,
            throughput_groups=tuple(
                (size, n, partitions, routing)
                for size, n in ((100, 200_000), (1024, 50_000))
                for partitions in (4, 32)
                for routing in ("round_robin", "keyed")
            ),
            latency_rate=1000.0,
            latency_duration=20.0,
            latency_waits=(0.05, 0.5),
            overhead_events=200_000,
            memory_duration=30.0,
            scaling_partitions=(1, 4, 16, 32),
            scaling_events=100_000,
            scaling_concurrency=(1, 4),
            child_timeout=900.0,
        )

    @classmethod
    def quick_mode(cls) -> Config:
        return cls(
            quick=True,
            repeats=1,
            # the group the targets are computed on, and one that covers 1 KiB and keys
            throughput_groups=((100, 5_000, 4, "round_robin"), (1024, 2_000, 4, "keyed")),
            latency_rate=1000.0,
            latency_duration=0.5,
            latency_waits=(0.05, 0.5),
            overhead_events=20_000,
            memory_duration=1.5,
            memory_ack_delay=0.1,
            scaling_partitions=(1, 8),
            scaling_events=1_000,
            scaling_concurrency=(1, 4),
            child_timeout=120.0,
            jobs=2,
        )


class RunFailed(RuntimeError):
    """A run crashed, timed out, or did not publish what it was given."""


def _rss(pid: int) -> int | None:
    try:
        import psutil
    except ImportError:
        try:
            with open(f"/proc/{pid}/statm") as statm:
                return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            return None
    try:
        return int(psutil.Process(pid).memory_info().rss)
    except psutil.Error:
        return None


def run_child(
    spec: dict[str, Any], *, timeout: float, sample_rss: float | None = None
) -> dict[str, Any]:
    """Run *spec* in ``_worker.py`` in a fresh interpreter and return its result.

    With *sample_rss* (seconds), the child's RSS is sampled that often from here and
    returned as ``rss_samples`` (``[wall time, bytes]`` pairs).

    :raises RunFailed: if the child fails, times out or prints no result.
    """
    samples: list[list[float]] = []
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(
            [sys.executable, os.path.join(_HERE, "_worker.py"), json.dumps(spec)],
            stdout=out,
            stderr=err,
            cwd=_HERE,
        )
        deadline = time.monotonic() + timeout
        while proc.poll() is None:
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                raise RunFailed(f"{_describe(spec)}: timed out after {timeout}s")
            if sample_rss is not None:
                rss = _rss(proc.pid)
                if rss:  # 0 once the process has exited (a zombie)
                    samples.append([time.time(), rss])
                time.sleep(sample_rss)
            else:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=0.5)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    lines = [line for line in stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        tail = "\n".join(stderr.strip().splitlines()[-25:])
        raise RunFailed(f"{_describe(spec)}: exit code {proc.returncode}\n{tail}")
    result: dict[str, Any] = json.loads(lines[-1][len("RESULT ") :])
    if samples:
        result["rss_samples"] = samples
    return result


def _describe(spec: dict[str, Any]) -> str:
    shown = {k: v for k, v in spec.items() if k != "conn"}
    return f"run {shown}"


def expected_partition_counts(kind: str, keys: list[str], partitions: int) -> list[int]:
    """Per-partition counts a keyed run must produce, by the contender's own key hash.

    anyio-eventhubs and the raw ceiling use the service's hash; azure-eventhub's
    buffered mode resolves keys with its own (different) hash.
    """
    partition_ids = [str(p) for p in range(partitions)]
    resolve: Callable[[str], str]
    if kind.startswith("azure-"):
        from azure.eventhub._buffered_producer._partition_resolver import PartitionResolver

        resolver: Any = PartitionResolver
        resolve = resolver(partition_ids).get_partition_id_by_partition_key
    else:
        from anyio_eventhubs import partition_for_key

        def resolve(key: str) -> str:
            return partition_for_key(key, partition_ids)

    by_key = Counter(keys)
    counts = [0] * partitions
    for key, count in by_key.items():
        counts[int(resolve(key))] += count
    return counts


def verify_counts(
    spec: dict[str, Any],
    result: dict[str, Any],
    stored: list[int],
    *,
    expected_total: int,
    expected_per_partition: list[int] | None = None,
) -> None:
    """Fail loudly unless the client and the emulator agree on what was published.

    :raises RunFailed: naming the run and both counts.
    """
    problems = []
    if result["acked"] != expected_total:
        problems.append(f"the client reported {result['acked']} published")
    if sum(stored) != expected_total:
        problems.append(f"the emulator stored {sum(stored)} ({stored})")
    if expected_per_partition is not None and stored != expected_per_partition:
        problems.append(f"per partition {stored}, expected {expected_per_partition}")
    if problems:
        raise RunFailed(
            f"{_describe(spec)}: expected {expected_total} events; " + "; ".join(problems)
        )


def summarize(values: list[float]) -> dict[str, float]:
    """Median, min, max and spread ((max - min) / median) of repeated measurements."""
    median = statistics.median(values)
    low, high = min(values), max(values)
    return {
        "median": median,
        "min": low,
        "max": high,
        "spread": (high - low) / median if median else 0.0,
        "n": len(values),
    }


def measure(
    emulator: Any,
    spec: dict[str, Any],
    *,
    timeout: float,
    warmup_events: int = 0,
    sample_rss: float | None = None,
) -> dict[str, Any]:
    """Run *spec* against a fresh hub of *emulator*, then verify what it stored.

    ``spec`` needs ``kind``, ``mode``, ``partitions``, ``n`` and ``size``; keyed
    throughput runs are also checked partition by partition. *warmup_events* are the
    events a run sends before it starts measuring.

    :raises RunFailed: if the run fails or the counts do not match.
    """
    from _contenders import make_keys

    hub, conn = emulator.new_hub(
        spec["partitions"],
        expected_events=spec["n"] + warmup_events,
        event_size=spec["size"],
        max_message_size=spec.get("max_message_size", 1024 * 1024),
    )
    run_spec = dict(spec, conn=conn)
    result = run_child(run_spec, timeout=timeout, sample_rss=sample_rss)
    stored = emulator.counts(hub)
    result["stored"] = stored
    if spec["mode"] == "memory":
        acked, accepted = result["acked"], result["accepted"]
        if not acked <= sum(stored) <= accepted:
            raise RunFailed(
                f"{_describe(spec)}: the client reported {acked} published of {accepted} "
                f"accepted, but the emulator stored {sum(stored)} ({stored})"
            )
        return result
    per_partition = None
    if spec.get("routing") == "keyed" and spec["mode"] == "throughput":
        keys = make_keys(spec["n"], "keyed")
        assert keys is not None
        per_partition = expected_partition_counts(spec["kind"], keys, spec["partitions"])
        if warmup_events:  # one warm-up event per partition
            per_partition = [c + 1 for c in per_partition]
    verify_counts(
        spec,
        result,
        stored,
        expected_total=spec["n"] + warmup_events,
        expected_per_partition=per_partition,
    )
    return result


def for_each_run(
    config: Config,
    contenders: dict[str, dict[str, Any]],
    one_run: Callable[[int, str, dict[str, Any]], dict[str, Any]],
) -> dict[str, list[dict[str, Any]]]:
    """Call ``one_run(repetition, contender id, its spec keys)`` for every repetition and
    contender, interleaved, ``config.jobs`` at a time; results per contender, in order."""
    tasks = [
        (rep, cid, extra) for rep in range(config.repeats) for cid, extra in contenders.items()
    ]
    samples: dict[str, list[dict[str, Any]]] = {cid: [] for cid in contenders}
    if config.jobs <= 1:
        for rep, cid, extra in tasks:
            samples[cid].append(one_run(rep, cid, extra))
        return samples
    with ThreadPoolExecutor(config.jobs) as pool:
        futures: list[tuple[str, Future[dict[str, Any]]]] = [
            (cid, pool.submit(one_run, rep, cid, extra)) for rep, cid, extra in tasks
        ]
        try:
            for cid, future in futures:
                samples[cid].append(future.result())
        except BaseException:
            for _, future in futures:
                future.cancel()
            raise
    return samples
