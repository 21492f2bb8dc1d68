"""Overhead without a network: the producer on the in-memory hub vs building batches.

Both sides start from the same ``bytes`` payloads, generated before the clock starts:

- ``batch-loop``: what the producer has to do at least, done by hand: wrap each payload
  in ``EventData`` and ``add`` it to a per-partition ``EventDataBatch`` (round robin),
  starting a new batch when one is full. No I/O, no tasks.
- ``producer-<backend>-bytes``: ``queue_for_send(payload)`` to an
  ``InMemoryEventHub`` with zero latency, then close (which waits for every batch).
- ``producer-<backend>-eventdata``: the same with ``queue_for_send(EventData(payload))``:
  exactly the batch loop's per-event work plus the producer's machinery. Its time over
  the loop's is the overhead the target bounds (``<= 1.3``).
- ``producer-<backend>-bytes-many``: the ``bytes`` payloads handed over in lists of 1024
  with ``queue_many_for_send``.
"""

from __future__ import annotations

import time
from typing import Any

import anyio
from azure.eventhub import EventData, EventDataBatch

from anyio_eventhubs import open_streaming_producer
from anyio_eventhubs.testing import InMemoryEventHub

__all__ = ["CONTENDERS", "WORKLOADS", "run"]

DESCRIPTION = (
    "In-memory hub, zero latency: producer events/s vs a loop that only builds "
    "EventDataBatches of the same events; overhead = producer time / loop time."
)

_MAX_BATCH = 1024 * 1024


def _payloads(spec: dict[str, Any]) -> list[bytes]:
    from _contenders import make_payloads

    return make_payloads(spec["n"], spec["size"])


def batch_loop(spec: dict[str, Any]) -> dict[str, Any]:
    payloads = _payloads(spec)
    count = spec["partitions"]
    partition_ids = [str(p) for p in range(count)]
    started = time.perf_counter()
    full: list[EventDataBatch] = []
    current = [EventDataBatch(_MAX_BATCH, partition_id=pid) for pid in partition_ids]
    for i, payload in enumerate(payloads):
        event = EventData(payload)
        batch = current[i % count]
        try:
            batch.add(event)
        except ValueError:
            full.append(batch)
            batch = current[i % count] = EventDataBatch(_MAX_BATCH, partition_id=str(i % count))
            batch.add(event)
    full.extend(b for b in current if len(b))
    elapsed = time.perf_counter() - started
    return {"elapsed": elapsed, "acked": sum(len(b) for b in full), "batches": len(full)}


async def _producer(spec: dict[str, Any]) -> dict[str, Any]:
    payloads = _payloads(spec)
    hub = InMemoryEventHub(spec["partitions"])
    started = time.perf_counter()
    async with open_streaming_producer(transport=hub) as producer:
        queue = producer.queue_for_send
        if spec["payload"] == "eventdata":
            for p in payloads:
                await queue(EventData(p))
        elif spec["payload"] == "bytes-many":
            for i in range(0, len(payloads), 1024):
                await producer.queue_many_for_send(payloads[i : i + 1024])
        else:
            for p in payloads:
                await queue(p)
    elapsed = time.perf_counter() - started
    stored = hub.published_count()
    if stored != spec["n"] or producer.statistics().published != spec["n"]:
        raise RuntimeError(
            f"in-memory hub stored {stored}, producer reported "
            f"{producer.statistics().published}; expected {spec['n']}"
        )
    return {"elapsed": elapsed, "acked": stored, "batches": hub.batch_count()}


def producer_asyncio(spec: dict[str, Any]) -> dict[str, Any]:
    return anyio.run(_producer, spec, backend="asyncio")


def producer_trio(spec: dict[str, Any]) -> dict[str, Any]:
    return anyio.run(_producer, spec, backend="trio")


#: worker kinds (``_worker.py`` dispatches on them)
WORKLOADS = {
    "batch-loop": batch_loop,
    "producer-asyncio": producer_asyncio,
    "producer-trio": producer_trio,
}

CONTENDERS: dict[str, dict[str, Any]] = {
    "batch-loop": {"kind": "batch-loop"},
    "producer-asyncio-bytes": {"kind": "producer-asyncio", "payload": "bytes"},
    "producer-asyncio-eventdata": {"kind": "producer-asyncio", "payload": "eventdata"},
    "producer-trio-bytes": {"kind": "producer-trio", "payload": "bytes"},
    "producer-trio-eventdata": {"kind": "producer-trio", "payload": "eventdata"},
    "producer-asyncio-bytes-many": {"kind": "producer-asyncio", "payload": "bytes-many"},
    "producer-trio-bytes-many": {"kind": "producer-trio", "payload": "bytes-many"},
}


def run(emulator: Any, config: Any, *, log: Any = print) -> dict[str, Any]:
    from _runner import RunFailed, run_child, summarize

    base = {"mode": "overhead", "n": config.overhead_events, "size": 100, "partitions": 4}
    samples: dict[str, list[dict[str, Any]]] = {cid: [] for cid in CONTENDERS}
    log(f"  overhead: {base['n']:,} x 100 B, 4 partitions, in-memory hub")
    for rep in range(config.repeats):
        for cid, extra in CONTENDERS.items():
            spec = {**base, **extra}
            result = run_child(spec, timeout=config.child_timeout)
            if result["acked"] != base["n"]:
                raise RunFailed(f"{cid}: {result['acked']} events batched, expected {base['n']}")
            result["events_per_s"] = base["n"] / result["elapsed"]
            samples[cid].append(result)
            log(f"    [{rep + 1}/{config.repeats}] {cid:28s} {result['events_per_s']:>10,.0f} ev/s")
    results: dict[str, dict[str, Any]] = {}
    loop_time = summarize([r["elapsed"] for r in samples["batch-loop"]])["median"]
    for cid, runs in samples.items():
        elapsed = summarize([r["elapsed"] for r in runs])
        results[cid] = {
            "events_per_s": summarize([r["events_per_s"] for r in runs]),
            "us_per_event": elapsed["median"] / base["n"] * 1e6,
            "time_vs_batch_loop": elapsed["median"] / loop_time,
            "peak_rss_mb": summarize([r["peak_rss"] / 2**20 for r in runs]),
            "samples": runs,
        }
    return {
        "name": "overhead",
        "description": DESCRIPTION,
        "contenders": list(CONTENDERS),
        "groups": [
            {"label": "in-memory hub, 4 partitions, 100 B", "config": base, "results": results}
        ],
    }
