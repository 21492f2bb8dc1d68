"""Setup to first publish, and connections opened, with one connection or one per partition.

::

    python benchmarks/connection_setup.py [--partitions 4 32 128] [--repeats 5]

For each backend (asyncio, Trio), each partition count and each connection mode, a
fresh process opens ``open_streaming_producer`` on a fresh hub of the emulator (in a
process of its own) and publishes one event; the time from just before the ``async
with`` to that event's acknowledgement is "setup to first publish" (imports are done
before the clock starts). Modes:

- ``one``: the transport's default, one AMQP connection for CBS, ``$management`` and
  every partition's link (``docs/one-connection.md``);
- ``per-partition``: azure-eventhub's own connections (``transport.one_connection =
  False``, what a caller's ``client=`` gets): one for the management read, one per
  partition.

Prints the median and the range of ``--repeats`` runs, and the TCP connections the
emulator accepted per run (the same in every run).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _emulator_proc import EmulatorProcess  # after the path is set

BACKENDS = ("asyncio", "trio")
MODES = ("one", "per-partition")


def _child(spec: dict[str, Any]) -> dict[str, Any]:
    """One run, in this (fresh) process."""
    import anyio

    from anyio_eventhubs import open_streaming_producer
    from anyio_eventhubs._azure import azure_transport

    async def run() -> float:
        transport = azure_transport(spec["conn"])
        transport.one_connection = spec["mode"] == "one"
        started = time.perf_counter()
        async with open_streaming_producer(transport=transport, max_wait_time=None) as producer:
            await producer.queue_for_send(b"first", partition_id="0")
            await producer.flush()
            published = time.perf_counter()
        return published - started

    seconds = anyio.run(run, backend=spec["backend"])
    return {"seconds": seconds}


def _run_child(spec: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--child", json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"run {spec['backend']}/{spec['mode']} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--partitions", type=int, nargs="+", default=[4, 32, 128])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(json.loads(args.child))))
        return 0
    print(f"{'backend':8} {'partitions':>10} {'mode':14} {'median s':>9} {'min-max s':>13} conns")
    with EmulatorProcess() as emulator:
        for backend in BACKENDS:
            for partitions in args.partitions:
                for mode in MODES:
                    times, connections = [], set()
                    for _ in range(args.repeats):  # interleaving would not change much here
                        hub, conn = emulator.new_hub(partitions, expected_events=1)
                        before = emulator.connections_accepted()
                        spec = {"conn": conn, "backend": backend, "mode": mode}
                        times.append(_run_child(spec)["seconds"])
                        connections.add(emulator.connections_accepted() - before)
                        counts = emulator.counts(hub)
                        if sum(counts) != 1:
                            raise RuntimeError(f"expected 1 event stored, found {counts}")
                    spread = f"{min(times):.3f}-{max(times):.3f}"
                    print(
                        f"{backend:8} {partitions:>10} {mode:14} {statistics.median(times):>9.3f} "
                        f"{spread:>13} {sorted(connections)}",
                        flush=True,
                    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
