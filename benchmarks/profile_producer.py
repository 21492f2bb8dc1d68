"""Profile anyio-eventhubs publishing N events, with pyinstrument.

::

    python benchmarks/profile_producer.py [--hub memory|emulator] [--backend asyncio|trio]
        [--payload bytes|eventdata|bytes-many] [-n 50000] [--size 100] [--partitions 4]
        [--html FILE]

Runs the throughput workload of ``_contenders`` (or the in-memory one of ``_overhead``)
in this process under ``pyinstrument`` and prints the call tree, to see where the time
per event goes. ``bytes-many`` is the ``queue_many_for_send`` contender of ``_many``
(emulator only). Needs ``pip install pyinstrument``.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from _emulator_proc import EmulatorProcess


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hub", choices=["memory", "emulator"], default="memory")
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    parser.add_argument("--payload", choices=["bytes", "eventdata", "bytes-many"], default="bytes")
    parser.add_argument("-n", type=int, default=50_000)
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--interval", type=float, default=0.0005, help="sampling interval, s")
    parser.add_argument("--html", help="also write an HTML report here")
    parser.add_argument("--show-all", action="store_true", help="show library frames too")
    args = parser.parse_args(argv)
    try:
        from pyinstrument import Profiler
    except ImportError:
        print("pip install pyinstrument", file=sys.stderr)
        return 2
    import _contenders
    import _many
    import _overhead

    spec: dict[str, Any] = {
        "mode": "throughput",
        "n": args.n,
        "size": args.size,
        "partitions": args.partitions,
        "routing": "round_robin",
        "payload": args.payload,
    }
    profiler = Profiler(interval=args.interval, async_mode="disabled")
    if args.payload == "bytes-many" and args.hub == "memory":
        parser.error("--payload bytes-many runs against the emulator only (--hub emulator)")
    if args.hub == "memory":
        run = {"asyncio": _overhead.producer_asyncio, "trio": _overhead.producer_trio}
        started = time.perf_counter()
        with profiler:
            result = run[args.backend](spec)
    else:
        run = {"asyncio": _contenders.aeh_asyncio, "trio": _contenders.aeh_trio}
        if args.payload == "bytes-many":
            run = {"asyncio": _many.aeh_many_asyncio, "trio": _many.aeh_many_trio}
        with EmulatorProcess() as emulator:
            hub, spec["conn"] = emulator.new_hub(args.partitions)
            started = time.perf_counter()
            with profiler:
                result = run[args.backend](spec)
            stored = sum(emulator.counts(hub))
        if stored != args.n:
            raise SystemExit(f"the emulator stored {stored} events, expected {args.n}")
    wall = time.perf_counter() - started
    print(
        f"{args.n:,} events x {args.size} B ({args.payload}) to the {args.hub} hub under "
        f"{args.backend}: {wall:.2f} s with the profiler, {args.n / wall:,.0f} events/s"
    )
    print(profiler.output_text(unicode=True, color=False, show_all=args.show_all))
    if args.html:
        with open(args.html, "w") as f:
            f.write(profiler.output_html())
    del result
    return 0


if __name__ == "__main__":
    sys.exit(main())
