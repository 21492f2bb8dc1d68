"""The ``queue_many_for_send`` contenders (child side), registered like ``_contenders``.

Same inputs and the same result dict as ``_contenders._aeh`` in throughput mode. Round
robin hands the payloads over in chunks of ``spec["chunk"]`` events (default 1024), as a
reader of lines or records would. Keyed runs group the events by key, in order, and
queue each key's events in one call (the grouping is timed: it is the caller's work).
``spec["max_queued_events"]``, if given, is passed on (``batch_fill.py`` style runs).
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

import anyio
from _contenders import make_keys, make_payloads

from anyio_eventhubs import open_streaming_producer

__all__ = ["CONTENDERS"]


async def _aeh_many(spec: dict[str, Any]) -> dict[str, Any]:
    if spec["mode"] != "throughput":
        raise ValueError(f"the queue_many contenders only run throughput, not {spec['mode']!r}")
    payloads = make_payloads(spec["n"], spec["size"])
    keys = make_keys(spec["n"], spec["routing"])
    chunk = spec.get("chunk", 1024)
    options: dict[str, Any] = {
        "max_concurrent_sends_per_partition": spec.get("concurrency", 1),
    }
    if "max_queued_events" in spec:
        options["max_queued_events"] = spec["max_queued_events"]
    start = time.perf_counter()
    async with open_streaming_producer(spec["conn"], **options) as producer:
        ready = time.perf_counter()
        queue_many = producer.queue_many_for_send
        if keys is None:
            for i in range(0, len(payloads), chunk):
                await queue_many(payloads[i : i + chunk])
        else:
            by_key: defaultdict[str, list[bytes]] = defaultdict(list)
            for p, k in zip(payloads, keys, strict=True):
                by_key[k].append(p)
            for k, group in by_key.items():
                await queue_many(group, partition_key=k)
        queued = time.perf_counter()
    end = time.perf_counter()
    stats = producer.statistics()
    return {
        "elapsed": end - start,
        "setup": ready - start,
        "queue_time": queued - start,
        "acked": stats.published,
        "batches": stats.batches_published,
    }


def aeh_many_asyncio(spec: dict[str, Any]) -> dict[str, Any]:
    return anyio.run(_aeh_many, spec, backend="asyncio")


def aeh_many_trio(spec: dict[str, Any]) -> dict[str, Any]:
    return anyio.run(_aeh_many, spec, backend="trio")


CONTENDERS = {"aeh-many-asyncio": aeh_many_asyncio, "aeh-many-trio": aeh_many_trio}
