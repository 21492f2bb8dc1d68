"""Record one real trace, from queue_for_send through publish to a consumer, and draw it.

::

    python docs/observability_trace.py            # record, then draw
    python docs/observability_trace.py --draw     # draw docs/images/observability-trace.json again

Records with the OpenTelemetry SDK (an in-memory exporter) and Azure SDK tracing on
(azure-core-tracing-opentelemetry): a request span queues one event on a producer
publishing to the emulator, and azure-eventhub's own consumer receives it. The exported
spans are written, as the SDK exports them (``ReadableSpan.to_json()``), to
``docs/images/observability-trace.json``; the picture ``observability-trace.png`` is
drawn from that file alone (needs matplotlib: the ``bench`` extra).
"""

from __future__ import annotations

import argparse
import json
import threading
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent / "images"
SPANS = HERE / "observability-trace.json"
PICTURE = HERE / "observability-trace.png"


def record() -> None:
    import anyio
    from azure.core.settings import settings
    from azure.eventhub import EventData, EventHubConsumerClient
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from anyio_eventhubs import open_streaming_producer
    from anyio_eventhubs.testing.emulator import EventHubsEmulator

    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "order-service"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    settings.tracing_implementation = "opentelemetry"  # azure-eventhub's consumer spans
    tracer = trace.get_tracer("order-service")

    def consume(conn_str: str) -> None:
        done = threading.Event()

        def on_event(context: Any, event: EventData | None) -> None:
            if event is not None:
                with tracer.start_as_current_span("store order"):
                    done.set()

        consumer = EventHubConsumerClient.from_connection_string(conn_str, "$Default")
        thread = threading.Thread(
            target=consumer.receive,
            kwargs={"on_event": on_event, "starting_position": "-1", "max_wait_time": 1},
        )
        thread.start()
        done.wait(20)
        consumer.close()
        thread.join(20)

    async def main() -> None:
        with EventHubsEmulator({"orders": 2}) as emulator:
            conn_str = emulator.connection_string("orders")
            async with open_streaming_producer(conn_str, max_wait_time=0.02) as producer:
                with tracer.start_as_current_span("POST /orders", kind=trace.SpanKind.SERVER):
                    with tracer.start_as_current_span("validate order"):
                        await anyio.sleep(0.003)
                    await producer.queue_for_send('{"order": 42}', partition_key="customer-7")
                    await anyio.sleep(0.005)
            await anyio.to_thread.run_sync(consume, conn_str)

    anyio.run(main)
    provider.shutdown()
    spans = [json.loads(s.to_json()) for s in exporter.get_finished_spans()]
    SPANS.write_text(json.dumps(spans, indent=1) + "\n")


def _time(value: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def draw() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    spans = json.loads(SPANS.read_text())
    spans.sort(key=lambda s: _time(s["start_time"]))
    origin = _time(spans[0]["start_time"])
    times = [
        ((_time(s["start_time"]) - origin) * 1e3, (_time(s["end_time"]) - origin) * 1e3)
        for s in spans
    ]
    row = {s["context"]["span_id"]: i for i, s in enumerate(spans)}
    # the producer's side and the consumer's are a second apart: two panels, one axis broken
    starts = sorted(start for start, _ in times)
    cut = max(range(1, len(starts)), key=lambda i: starts[i] - starts[i - 1])
    gap = starts[cut] - starts[cut - 1]
    left_end = max(end for _, end in times if end < starts[cut - 1] + gap / 2)
    ranges = [(-1.0, left_end + 4.0), (starts[cut] - 2.0, max(end for _, end in times) + 2.0)]
    trace_names = {}  # each trace, named after its root span
    for span in spans:
        if span.get("parent_id") is None:
            trace_names.setdefault(span["context"]["trace_id"], f"root {span['name']!r}")
    colours = dict(zip(trace_names, ["#3b6ea5", "#d1782c", "#5a9e4b"], strict=False))
    fig, axes = plt.subplots(
        1,
        2,
        sharey=True,
        figsize=(11, 0.55 * len(spans) + 1.6),
        gridspec_kw={"width_ratios": [1.2, 1], "wspace": 0.04},
    )
    for ax, (low, high) in zip(axes, ranges, strict=True):
        ax.set_xlim(low, high)
        for i, span in enumerate(spans):
            start, end = times[i]
            colour = colours[span["context"]["trace_id"]]
            ax.barh(i, max(end - start, (high - low) / 300), left=start, color=colour, height=0.5)
            if not low <= end <= high:
                continue
            kind = span["kind"].removeprefix("SpanKind.")
            label = f"{span['name']} [{kind}]"
            attributes = span.get("attributes") or {}
            if "messaging.batch.message_count" in attributes:
                label += (
                    f"\npartition {attributes['messaging.destination.partition.id']}, "
                    f"{attributes['messaging.batch.message_count']} event, "
                    f"{len(span.get('links') or [])} link"
                )
            ax.text(end + (high - low) / 60, i, label, va="center", fontsize=8)
            parent = span.get("parent_id")
            if parent in row and low <= start <= high:
                ax.annotate(
                    "",
                    xy=(start, i - 0.27),
                    xytext=(start, row[parent] + 0.27),
                    arrowprops={"arrowstyle": "->", "color": "#333", "lw": 0.8},
                )
            for link in span.get("links") or []:
                if link["context"]["span_id"] in row and low <= start <= high:
                    ax.annotate(
                        "",
                        xy=(start, i - 0.27),
                        xytext=(start - (high - low) / 40, row[link["context"]["span_id"]] + 0.27),
                        arrowprops={"arrowstyle": "->", "color": "#b05a10", "ls": "--", "lw": 1},
                    )
        ax.set_yticks([])
        ax.set_facecolor("none")  # labels of the left panel may run into the right one
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(4))
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
    axes[0].invert_yaxis()
    axes[0].set_xlabel("ms since the request started (producer side)")
    axes[1].set_xlabel("ms (consumer side)")
    handles = [plt.Rectangle((0, 0), 1, 1, color=colours[t]) for t in trace_names] + [
        plt.Line2D([], [], color="#333", lw=0.8, marker=">", markersize=4),
        plt.Line2D([], [], color="#b05a10", ls="--", lw=1),
    ]
    labels = [f"trace ..{t[-6:]}, {n}" for t, n in trace_names.items()] + [
        "parent -> child",
        "link (to the request's span)",
    ]
    fig.legend(handles, labels, loc="upper center", ncol=3, fontsize=8, frameon=False)
    fig.subplots_adjust(top=0.82, bottom=0.16, left=0.02, right=0.88)
    fig.savefig(PICTURE, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--draw", action="store_true", help="only draw the recorded spans")
    if not parser.parse_args().draw:
        record()
    draw()


if __name__ == "__main__":
    main()
