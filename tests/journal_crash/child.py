"""One child of the crash test: publish numbered, keyed events through a journaled producer.

::

    python tests/journal_crash/child.py --backend trio --conn CONN --journal DIR \
        --record FILE --run R --count N --rate EVENTS_PER_S [--idempotent]

Event ``i`` of run ``R`` has the number ``n = R * 1_000_000 + i`` (so numbers never repeat
across runs and grow from run to run), the partition key ``key-{n % 16}`` and a JSON body
``{"n": n, "key": ...}``. Even numbers are queued as ``bytes``, odd ones as ``EventData``
with the application property ``n``. Once ``queue_for_send`` has returned, the number is
appended to *FILE* (one ``write()`` per line, so it is in the operating system before the
next event is queued). The parent kills this process with SIGKILL at random moments.

Standard output, one line each, flushed: ``open`` (the producer is open; recovery of
earlier runs' events runs in the background), ``first`` (the first ``queue_for_send``
returned: recovery has queued everything), and at a clean end ``done {json}`` with the
producer's statistics and what the handlers saw. Events are offered at *rate* per second
at most, so that the runs stay small.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import anyio

from anyio_eventhubs import EventData, JournalOptions, open_streaming_producer

KEYS = 16
RUN_STRIDE = 1_000_000


def say(line: str) -> None:
    """Tell the parent *line* in one write: a kill never leaves half of it (under
    PYTHONUNBUFFERED, ``print`` writes its parts one system call at a time)."""
    os.write(sys.stdout.fileno(), line.encode() + b"\n")


def key_of(n: int) -> str:
    return f"key-{n % KEYS}"


def body_of(n: int) -> bytes:
    return json.dumps({"n": n, "key": key_of(n)}).encode()


class Handlers:
    """Counts what the handlers report and checks each event is what was queued."""

    def __init__(self) -> None:
        self.published = 0
        self.failed = 0
        self.mismatched: list[str] = []
        self.kinds: dict[str, int] = {}

    def _check(self, event: object) -> None:
        kind = type(event).__name__
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        if isinstance(event, bytes):
            document = json.loads(event)
        elif isinstance(event, EventData):
            document = json.loads(event.body_as_str())
            n = document["n"]
            properties = {
                (k.decode() if isinstance(k, bytes) else k): v for k, v in event.properties.items()
            }
            # a recovered bytes event comes back as EventData without properties
            if properties and properties.get("n") != n:
                self.mismatched.append(f"properties {properties!r} of event {n}")
            key: object = event.partition_key
            if isinstance(key, bytes):
                key = key.decode()
            if key is not None and key != key_of(n):
                self.mismatched.append(f"partition key {key!r} of event {n}")
        else:
            self.mismatched.append(f"an event of type {kind}")
            return
        if document["key"] != key_of(document["n"]):
            self.mismatched.append(f"body {document!r}")

    def on_succeeded(self, args: Any) -> None:
        for event in args.events:
            self._check(event)
        self.published += len(args.events)

    def on_failed(self, args: Any) -> None:
        self.failed += len(args.events)
        say(f"failed {len(args.events)}: {args.error!r}")


async def publish(args: argparse.Namespace) -> dict[str, Any]:
    handlers = Handlers()
    record = os.open(args.record, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        async with open_streaming_producer(
            args.conn,
            journal=JournalOptions(args.journal),
            enable_idempotent_retries=args.idempotent,
            max_wait_time=0.02,
            on_publish_succeeded=handlers.on_succeeded,
            on_publish_failed=handlers.on_failed,
        ) as producer:
            say("open")
            started = anyio.current_time()
            base = args.run * RUN_STRIDE
            for i in range(args.count):
                n = base + i
                if n % 2:
                    event: bytes | EventData = EventData(body_of(n))
                    assert isinstance(event, EventData)
                    event.properties = {"n": n}
                else:
                    event = body_of(n)
                await producer.queue_for_send(event, partition_key=key_of(n))
                os.write(record, b"%d\n" % n)
                if i == 0:
                    say(f"first {producer.statistics().recovered}")
                    started = anyio.current_time()
                if i % 20 == 19:  # pace the offer: at most `rate` events per second
                    await anyio.sleep(
                        max(0.0, started + (i + 1) / args.rate - anyio.current_time())
                    )
        statistics = producer.statistics()
    finally:
        os.close(record)
    return {
        "recovered": statistics.recovered,
        "published": statistics.published,
        "handler_published": handlers.published,
        "handler_failed": handlers.failed,
        "mismatched": handlers.mismatched[:10],
        "kinds": handlers.kinds,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["asyncio", "trio"], required=True)
    parser.add_argument("--conn", required=True)
    parser.add_argument("--journal", required=True)
    parser.add_argument("--record", required=True)
    parser.add_argument("--run", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--rate", type=float, default=3000.0)
    parser.add_argument("--idempotent", action="store_true")
    args = parser.parse_args()
    result = anyio.run(publish, args, backend=args.backend)
    say("done " + json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
