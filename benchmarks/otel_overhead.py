"""What OpenTelemetry costs the producer: side by side, in one run, as ratios.

::

    python benchmarks/otel_overhead.py [--quick] [--rounds 7] [--events 50000]
                                       [--out benchmarks/results/otel_overhead.json]

Each measured run is a fresh process that publishes the same ``--events`` payloads of
100 bytes to an ``InMemoryEventHub`` (4 partitions, zero latency), from
``open_streaming_producer`` to the end of its ``async with`` (every batch stored). One
warm-up publish first (it pays the one-time imports), then the best of three timed
publishes, in CPU time (``time.process_time()``: on a shared machine, other processes
stretch wall-clock times by tens of percent, CPU time much less). The contenders, for
``bytes`` and ``EventData`` payloads, asyncio and Trio:

- ``absent``: ``opentelemetry`` cannot be imported (as without the ``otel`` extra);
- ``no-provider``: opentelemetry-api importable, no provider configured: the issue's
  bound is at most 3% over ``absent``;
- ``off``: a tracer and a meter provider configured, ``enable_telemetry=False``;
- ``on``: the SDK's tracer provider (a batch span processor into an exporter that drops
  the spans) and meter provider (an in-memory reader), every event queued inside one
  application span, so that each is stamped and each batch's span links to it.

Rounds run the contenders in a rotating order, so that the machine's load drifts over
all of them alike; the report is the median over rounds of each contender's time over
``absent``'s time in the same round (and the spread of those ratios). Exits 1 if a run
fails or publishes a wrong count; a missed bound is reported, not an exit code.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
MODES = ("absent", "no-provider", "off", "on")
PAYLOADS = ("bytes", "eventdata")
BACKENDS = ("asyncio", "trio")
#: the issue's bound for "installed, no provider"
NO_PROVIDER_BOUND = 1.03


# -- the child: one process, one contender ---------------------------------------------


def _configure(mode: str) -> Any:
    """Set the process up for *mode*; return what the publishing needs (a tracer or None)."""
    if mode == "absent":
        sys.modules["opentelemetry"] = None  # type: ignore[assignment]
        return None
    if mode == "no-provider":
        return None
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class Drop(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Drop()))
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))
    return provider.get_tracer("benchmark") if mode == "on" else None


async def _publish(spec: dict[str, Any], payloads: list[Any], tracer: Any) -> float:
    from contextlib import nullcontext

    from anyio_eventhubs import open_streaming_producer
    from anyio_eventhubs.testing import InMemoryEventHub

    hub = InMemoryEventHub(4)
    started = time.process_time()
    async with open_streaming_producer(
        transport=hub, enable_telemetry=spec["mode"] != "off"
    ) as producer:
        queue = producer.queue_for_send
        with tracer.start_as_current_span("request") if tracer else nullcontext():
            for payload in payloads:
                await queue(payload)
    elapsed = time.process_time() - started
    if hub.published_count() != len(payloads):
        raise RuntimeError(f"stored {hub.published_count()} of {len(payloads)} events")
    return elapsed


def child(spec: dict[str, Any]) -> dict[str, Any]:
    tracer = _configure(spec["mode"])
    import anyio
    from _contenders import make_payloads
    from azure.eventhub import EventData

    raw = make_payloads(spec["n"], 100)
    payloads: list[Any] = [EventData(p) for p in raw] if spec["payload"] == "eventdata" else raw
    warm = time.perf_counter()
    warm_up = payloads[: max(len(payloads) // 5, 1)]
    anyio.run(_publish, spec, warm_up, tracer, backend=spec["backend"])
    first = time.perf_counter() - warm
    times = [
        anyio.run(_publish, spec, payloads, tracer, backend=spec["backend"])
        for _ in range(spec["inner"])
    ]
    return {"elapsed": min(times), "warm_up": first}


# -- the parent: rounds of fresh processes ---------------------------------------------


def run_child(spec: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)],
        capture_output=True,
        text=True,
        cwd=HERE,
        timeout=600,
    )
    if done.returncode != 0:
        raise SystemExit(f"run {spec} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure(args: argparse.Namespace) -> dict[str, Any]:
    groups: dict[str, dict[str, Any]] = {}
    for backend in BACKENDS:
        for payload in PAYLOADS:
            label = f"{backend}-{payload}"
            samples: dict[str, list[float]] = {m: [] for m in MODES}
            ratios: dict[str, list[float]] = {m: [] for m in MODES}
            for round_ in range(args.rounds):
                order = MODES[round_ % len(MODES) :] + MODES[: round_ % len(MODES)]
                times: dict[str, float] = {}
                for mode in order:
                    spec = {
                        "mode": mode,
                        "payload": payload,
                        "backend": backend,
                        "n": args.events,
                        "inner": args.inner,
                    }
                    times[mode] = run_child(spec)["elapsed"]
                    samples[mode].append(times[mode])
                for mode in MODES:
                    ratios[mode].append(times[mode] / times["absent"])
                print(
                    f"  {label} round {round_ + 1}/{args.rounds}: "
                    + "  ".join(f"{m} {times[m] / times['absent']:.3f}" for m in MODES),
                    flush=True,
                )
            groups[label] = {
                mode: {
                    "ratio_median": statistics.median(ratios[mode]),
                    "ratio_min": min(ratios[mode]),
                    "ratio_max": max(ratios[mode]),
                    "us_per_event_median": statistics.median(samples[mode]) / args.events * 1e6,
                }
                for mode in MODES
            }
    return groups


def report(groups: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| backend-payload | " + " | ".join(MODES) + " |",
        "| --- | " + " | ".join("---" for _ in MODES) + " |",
    ]
    for label, results in groups.items():
        cells = [
            f"{r['ratio_median']:.3f} ({r['ratio_min']:.3f}-{r['ratio_max']:.3f}), "
            f"{r['us_per_event_median']:.2f} us/event"
            for r in (results[m] for m in MODES)
        ]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    worst = max(results["no-provider"]["ratio_median"] for results in groups.values())
    verdict = "met" if worst <= NO_PROVIDER_BOUND else "NOT met"
    lines.append("")
    lines.append(
        f"no-provider bound (<= {NO_PROVIDER_BOUND:.2f} x absent): {verdict}, worst median "
        f"ratio {worst:.3f}"
    )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="1 round of 2,000 events")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--inner", type=int, default=3, help="timed publishes per process")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "otel_overhead.json")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0
    if args.quick:
        args.rounds, args.events, args.inner = 1, 2_000, 1
    print(f"otel overhead: {args.rounds} rounds x {args.events:,} events, in-memory hub")
    groups = measure(args)
    table = report(groups)
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    config = {"rounds": args.rounds, "events": args.events, "inner": args.inner}
    args.out.write_text(json.dumps({"config": config, "groups": groups, "table": table}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
