"""What garbage collection costs per ``EventData`` event, by generation.

Publishes ``EventData`` events of 100 bytes with ``queue_for_send`` (and an
``on_publish_succeeded`` handler, unless ``--no-handler``) to the emulator in a process
of its own (``_emulator_proc``), and times every collection with ``gc.callbacks``::

    python benchmarks/gc_cost.py [--events 200000] [--backend asyncio|trio] [--no-handler]

Full collections walk every object alive, so their cost per event grows with the
``EventData`` objects the producer holds until their outcome is reported. Without a
handler the producer holds none (it keeps their encoded messages only).
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path
from typing import Any

import anyio
from azure.eventhub import EventData

from anyio_eventhubs import open_streaming_producer

sys.path.insert(0, str(Path(__file__).parent))
from _emulator_proc import EmulatorProcess

_count = [0, 0, 0]
_seconds = [0.0, 0.0, 0.0]
_started = [0.0]


def _on_gc(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _started[0] = time.perf_counter()
    else:
        generation = info["generation"]
        _count[generation] += 1
        _seconds[generation] += time.perf_counter() - _started[0]


async def publish(conn: str, events: int, handler: bool) -> float:
    body = b"x" * 100
    started = time.perf_counter()
    handlers: dict[str, Any] = {"on_publish_succeeded": lambda args: None} if handler else {}
    async with open_streaming_producer(conn, **handlers) as producer:
        for _ in range(events):
            await producer.queue_for_send(EventData(body))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    parser.add_argument(
        "--no-handler", action="store_true", help="no handler: the EventData are not held"
    )
    options = parser.parse_args()
    with EmulatorProcess() as process:
        name, conn = process.new_hub(4, expected_events=options.events, event_size=100)
        gc.callbacks.append(_on_gc)
        elapsed = anyio.run(
            publish, conn, options.events, not options.no_handler, backend=options.backend
        )
        gc.callbacks.remove(_on_gc)
        stored = sum(process.counts(name))
    if stored != options.events:
        raise SystemExit(f"the hub stored {stored} events, not {options.events}")
    per_event = [f"{s * 1e6 / options.events:.2f}" for s in _seconds]
    print(
        f"{options.backend}{' (no handler)' if options.no_handler else ''}: "
        f"{options.events / elapsed:,.0f} events/s; collections by "
        f"generation {_count}; µs per event by generation {per_event}"
    )


if __name__ == "__main__":
    main()
