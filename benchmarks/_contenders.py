"""The contenders, each a function that publishes to a connection string (child side).

Every function takes the run's ``spec`` (a dict from the scenario module) and returns a
dict with at least ``elapsed`` (seconds, client setup included: from before the client
is built until it is closed and every event acknowledged) and ``acked`` (events the
client reported published). The parent then checks ``acked`` and the emulator's
per-partition counts against what was offered, and fails loudly on any difference.

Inputs are the same for every contender: ``bytes`` payloads of ``size`` bytes (the first
8 bytes are the event's index), generated before the clock starts. A contender that
needs ``EventData`` builds it from the payload inside the timed loop, as a user would.
The raw ceiling builds every ``EventDataBatch`` up front (``EventData`` and
``batch.add`` for each event, full 1 MiB batches per partition) and then sends them, one
task per partition; both phases are timed (``build_s``, ``send_s``), because building is
the client-side work every other contender does too. ``warm`` opens every partition's
link (one warm-up event each) before the clock starts.

Modes (``spec["mode"]``): ``throughput`` (publish ``n`` events as fast as possible),
``latency`` (offer ``rate`` events/s for ``duration`` seconds after a warm-up event per
partition; per-event seconds from queueing to the success callback), ``memory`` (offer
``rate`` events/s of fresh payloads for ``duration`` seconds to a slow hub, then drop what
is left without waiting).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import anyio
from azure.eventhub import EventData, EventDataBatch

from anyio_eventhubs import open_streaming_producer, partition_for_key

__all__ = ["CONTENDERS", "make_keys", "make_payloads"]

_NUM_KEYS = 1024
_MAX_BATCH = 1024 * 1024
#: payload bodies start with the event's index; warm-up events are this marker instead
_WARMUP = b"\xff" * 8


def make_payloads(n: int, size: int) -> list[bytes]:
    """*n* distinct payloads of *size* bytes: an 8-byte index, then filler."""
    filler = b"x" * max(size - 8, 0)
    return [i.to_bytes(8, "big") + filler for i in range(n)]


def make_keys(n: int, routing: str) -> list[str] | None:
    """Partition keys for *n* events (1024 distinct keys), or ``None`` for round robin."""
    if routing == "round_robin":
        return None
    pool = [f"device-{k}" for k in range(_NUM_KEYS)]
    return [pool[i % _NUM_KEYS] for i in range(n)]


def _index(event: object) -> int:
    if isinstance(event, bytes):
        head = event[:8]
    else:
        body: Any = event.body  # type: ignore[attr-defined]
        head = body[:8] if isinstance(body, bytes) else b"".join(body)[:8]
    return -1 if head == _WARMUP else int.from_bytes(head, "big")


class _Clock:
    """Timestamps of one run (``time.perf_counter``) and its result dict."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.ready: float | None = None
        self.queued: float | None = None
        self.end = 0.0

    def result(self, acked: int, **more: Any) -> dict[str, Any]:
        out: dict[str, Any] = {
            "elapsed": self.end - self.start,
            "setup": None if self.ready is None else self.ready - self.start,
            "queue_time": None if self.queued is None else self.queued - self.start,
            "acked": acked,
        }
        out.update(more)
        return out


class _Latencies:
    """Per-event latencies from the send time table (thread-safe enough: list.append)."""

    def __init__(self, n: int) -> None:
        self.sent_at = [0.0] * n
        self.values: list[float] = []
        self.acked = 0

    def record(self, events: Any) -> None:
        now = time.perf_counter()
        for event in events:
            i = _index(event)
            if i >= 0:
                self.values.append(now - self.sent_at[i])
        self.acked += len(events)


# --- 1 and 2: anyio-eventhubs under asyncio / Trio ----------------------------------------


async def _aeh(spec: dict[str, Any]) -> dict[str, Any]:
    mode = spec["mode"]
    payload_kind = spec["payload"]
    payloads = make_payloads(spec["n"], spec["size"]) if mode != "memory" else []
    keys = make_keys(spec["n"], spec["routing"]) if mode == "throughput" else None
    lat = _Latencies(spec["n"]) if mode == "latency" else None
    options: dict[str, Any] = {
        "max_concurrent_sends_per_partition": spec.get("concurrency", 1),
    }
    if "max_wait_time" in spec:
        options["max_wait_time"] = spec["max_wait_time"]
    if lat is not None:
        options["on_publish_succeeded"] = lambda args: lat.record(args.events)
    elif spec.get("handler"):  # (the producer then holds each EventData until its outcome)
        reported = [0]

        def count(args: Any) -> None:
            reported[0] += len(args.events)

        options["on_publish_succeeded"] = count
    more: dict[str, Any] = {}
    clock = _Clock()
    async with open_streaming_producer(spec["conn"], **options) as producer:
        clock.ready = time.perf_counter()
        queue = producer.queue_for_send
        if mode == "throughput":
            if payload_kind == "eventdata":
                if keys is None:
                    for p in payloads:
                        await queue(EventData(p))
                else:
                    for p, k in zip(payloads, keys, strict=True):
                        await queue(EventData(p), partition_key=k)
            elif keys is None:
                for p in payloads:
                    await queue(p)
            else:
                for p, k in zip(payloads, keys, strict=True):
                    await queue(p, partition_key=k)
            clock.queued = time.perf_counter()
        elif mode == "latency":
            assert lat is not None
            for pid in await producer.get_partition_ids():
                await queue(_WARMUP, partition_id=pid)
            await producer.flush()
            rate, sent_at = spec["rate"], lat.sent_at
            t0 = time.perf_counter()
            for i, p in enumerate(payloads):
                delay = t0 + i / rate - time.perf_counter()
                if delay > 0:
                    await anyio.sleep(delay)
                sent_at[i] = time.perf_counter()
                await queue(p)
            clock.queued = time.perf_counter()
        else:  # memory: offer fresh payloads at `rate` for `duration`, then drop the rest
            more = await _offer_async(spec, queue)
            more["cleared"] = await producer.clear()
    clock.end = time.perf_counter()
    acked = producer.statistics().published
    if lat is not None:
        more["latencies"] = lat.values
    return clock.result(acked, **more)


async def _offer_async(spec: dict[str, Any], queue: Callable[..., Any]) -> dict[str, Any]:
    rate, duration, size = spec["rate"], spec["duration"], spec["size"]
    filler = b"m" * (size - 8)
    offered_start = time.time()
    t0 = time.perf_counter()
    i = 0
    while (elapsed := time.perf_counter() - t0) < duration:
        due = int(elapsed * rate) + 1
        while i < due and time.perf_counter() - t0 < duration:
            await queue(i.to_bytes(8, "big") + filler)
            i += 1
        await anyio.sleep(max(0.0, t0 + i / rate - time.perf_counter()))
    return {"offer_start": offered_start, "offer_end": time.time(), "accepted": i}


def aeh_asyncio(spec: dict[str, Any]) -> dict[str, Any]:
    return anyio.run(_aeh, spec, backend="asyncio")


def aeh_trio(spec: dict[str, Any]) -> dict[str, Any]:
    return anyio.run(_aeh, spec, backend="trio")


# --- 3: azure-eventhub buffered_mode, asyncio client --------------------------------------


async def _azure_aio(spec: dict[str, Any]) -> dict[str, Any]:
    from azure.eventhub.aio import EventHubProducerClient

    mode = spec["mode"]
    payloads = make_payloads(spec["n"], spec["size"]) if mode != "memory" else []
    keys = make_keys(spec["n"], spec["routing"]) if mode == "throughput" else None
    lat = _Latencies(max(spec["n"], 1))
    errors: list[BaseException] = []

    async def on_success(events: Any, partition_id: str | None) -> None:
        if mode == "latency":
            lat.record(events)
        else:  # only count: parsing every event would slow this contender down
            lat.acked += len(events)

    async def on_error(events: Any, partition_id: str | None, error: Exception) -> None:
        errors.append(error)

    options: dict[str, Any] = {}
    if "max_wait_time" in spec:
        options["max_wait_time"] = spec["max_wait_time"]
    more: dict[str, Any] = {}
    clock = _Clock()
    client = EventHubProducerClient.from_connection_string(
        spec["conn"], buffered_mode=True, on_success=on_success, on_error=on_error, **options
    )
    async with client:
        send = client.send_event
        if mode == "throughput":
            if keys is None:
                for p in payloads:
                    await send(EventData(p))
            else:
                for p, k in zip(payloads, keys, strict=True):
                    await send(EventData(p), partition_key=k)
            clock.queued = time.perf_counter()
        elif mode == "latency":
            for pid in await client.get_partition_ids():
                await send(EventData(_WARMUP), partition_id=pid)
            await client.flush()
            lat.values.clear()
            rate, sent_at = spec["rate"], lat.sent_at
            t0 = time.perf_counter()
            for i, p in enumerate(payloads):
                delay = t0 + i / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                sent_at[i] = time.perf_counter()
                await send(EventData(p))
            clock.queued = time.perf_counter()
        else:
            more = await _offer_async(spec, lambda body: send(EventData(body)))
            await client.close(flush=False)
    clock.end = time.perf_counter()
    if errors:
        raise RuntimeError(f"azure-eventhub reported {len(errors)} failed batches: {errors[0]!r}")
    if mode == "latency":
        more["latencies"] = lat.values
    return clock.result(lat.acked, **more)


def azure_buffered_aio(spec: dict[str, Any]) -> dict[str, Any]:
    return asyncio.run(_azure_aio(spec))


# --- 4: azure-eventhub buffered_mode, sync client -----------------------------------------


def azure_buffered_sync(spec: dict[str, Any]) -> dict[str, Any]:
    from azure.eventhub import EventHubProducerClient

    mode = spec["mode"]
    payloads = make_payloads(spec["n"], spec["size"]) if mode != "memory" else []
    keys = make_keys(spec["n"], spec["routing"]) if mode == "throughput" else None
    lat = _Latencies(max(spec["n"], 1))
    lock = threading.Lock()
    errors: list[BaseException] = []

    def on_success(events: Any, partition_id: str | None) -> None:
        with lock:
            if mode == "latency":
                lat.record(events)
            else:  # only count: parsing every event would slow this contender down
                lat.acked += len(events)

    def on_error(events: Any, partition_id: str | None, error: Exception) -> None:
        errors.append(error)

    options: dict[str, Any] = {}
    if "max_wait_time" in spec:
        options["max_wait_time"] = spec["max_wait_time"]
    more: dict[str, Any] = {}
    clock = _Clock()
    client = EventHubProducerClient.from_connection_string(
        spec["conn"], buffered_mode=True, on_success=on_success, on_error=on_error, **options
    )
    with client:
        send = client.send_event
        if mode == "throughput":
            if keys is None:
                for p in payloads:
                    send(EventData(p))
            else:
                for p, k in zip(payloads, keys, strict=True):
                    send(EventData(p), partition_key=k)
            clock.queued = time.perf_counter()
        elif mode == "latency":
            for pid in client.get_partition_ids():
                send(EventData(_WARMUP), partition_id=pid)
            client.flush()
            with lock:
                lat.values.clear()
            rate, sent_at = spec["rate"], lat.sent_at
            t0 = time.perf_counter()
            for i, p in enumerate(payloads):
                delay = t0 + i / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                sent_at[i] = time.perf_counter()
                send(EventData(p))
            clock.queued = time.perf_counter()
        else:
            rate, duration, size = spec["rate"], spec["duration"], spec["size"]
            filler = b"m" * (size - 8)
            start_wall, t0, i = time.time(), time.perf_counter(), 0
            while (elapsed := time.perf_counter() - t0) < duration:
                due = int(elapsed * rate) + 1
                while i < due and time.perf_counter() - t0 < duration:
                    send(EventData(i.to_bytes(8, "big") + filler))
                    i += 1
                time.sleep(max(0.0, t0 + i / rate - time.perf_counter()))
            more = {"offer_start": start_wall, "offer_end": time.time(), "accepted": i}
            client.close(flush=False)
    clock.end = time.perf_counter()
    if errors:
        raise RuntimeError(f"azure-eventhub reported {len(errors)} failed batches: {errors[0]!r}")
    if mode == "latency":
        more["latencies"] = lat.values
    return clock.result(lat.acked, **more)


# --- 5: the raw ceiling: asyncio send_batch of batches built up front ---------------------


def build_batches(
    payloads: list[bytes], keys: list[str] | None, partition_ids: list[str]
) -> list[list[EventDataBatch]]:
    """Full batches per partition: round robin by index, or by the service's key hash."""
    per_partition: list[list[EventDataBatch]] = [[] for _ in partition_ids]
    current = [EventDataBatch(_MAX_BATCH, partition_id=pid) for pid in partition_ids]
    count = len(partition_ids)
    index = {pid: n for n, pid in enumerate(partition_ids)}
    for i, payload in enumerate(payloads):
        n = i % count if keys is None else index[partition_for_key(keys[i], partition_ids)]
        event = EventData(payload)
        try:
            current[n].add(event)
        except ValueError:
            per_partition[n].append(current[n])
            current[n] = EventDataBatch(_MAX_BATCH, partition_id=partition_ids[n])
            current[n].add(event)
    for n, batch in enumerate(current):
        if len(batch):
            per_partition[n].append(batch)
    return per_partition


async def _raw(spec: dict[str, Any]) -> dict[str, Any]:
    from azure.eventhub.aio import EventHubProducerClient

    partition_ids = [str(p) for p in range(spec["partitions"])]
    payloads = make_payloads(spec["n"], spec["size"])
    keys = make_keys(spec["n"], spec["routing"])
    acked = 0

    async def send_all(partition_batches: list[EventDataBatch]) -> None:
        nonlocal acked
        for batch in partition_batches:
            await client.send_batch(batch)
            acked += len(batch)

    clock = _Clock()
    client = EventHubProducerClient.from_connection_string(spec["conn"])
    async with client:
        if spec["warm"]:  # open every partition's link first (one event each)
            await asyncio.gather(
                *(client.send_batch([EventData(_WARMUP)], partition_id=p) for p in partition_ids)
            )
            clock.start = time.perf_counter()
        # every batch is built before the first send (timed: it is the client's work)
        batches = build_batches(payloads, keys, partition_ids)
        built = time.perf_counter()
        await asyncio.gather(*(send_all(b) for b in batches))
        clock.queued = time.perf_counter()
    clock.end = clock.queued if spec["warm"] else time.perf_counter()
    if spec["warm"]:
        acked += len(partition_ids)  # the warm-up events count as published too
    return clock.result(
        acked,
        batches=sum(len(b) for b in batches),
        build_s=built - clock.start,
        send_s=clock.queued - built,
    )


def raw_send_batch(spec: dict[str, Any]) -> dict[str, Any]:
    return asyncio.run(_raw(spec))


#: contender kind -> function (the worker dispatches on ``spec["kind"]``)
CONTENDERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "aeh-asyncio": aeh_asyncio,
    "aeh-trio": aeh_trio,
    "azure-buffered-aio": azure_buffered_aio,
    "azure-buffered-sync": azure_buffered_sync,
    "raw-send-batch": raw_send_batch,
}
