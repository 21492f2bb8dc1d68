"""Run the emulator in the foreground: ``python -m anyio_eventhubs.testing.emulator``.

Prints one connection string per hub (the first line is flushed at once, so a parent
process can read it) and serves until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from ._emulator import EventHubsEmulator

__all__ = ["main"]


def _hub(value: str) -> tuple[str, int]:
    name, _, count = value.partition(":")
    try:
        partitions = int(count) if count else 4
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected NAME[:PARTITIONS], got {value!r}") from None
    if not name or partitions < 1:
        raise argparse.ArgumentTypeError(f"expected NAME[:PARTITIONS], got {value!r}")
    return name, partitions


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m anyio_eventhubs.testing.emulator",
        description="A local Azure Event Hubs emulator (AMQP 1.0 over plain TCP).",
    )
    parser.add_argument(
        "--hub",
        action="append",
        type=_hub,
        metavar="NAME[:PARTITIONS]",
        help="an event hub to serve (repeatable; default eh1:4)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument(
        "--max-message-size", type=int, default=1024 * 1024, help="largest transfer in bytes"
    )
    parser.add_argument("--key-name", default="emulator", help="shared access key name")
    auth = parser.add_mutually_exclusive_group()
    auth.add_argument("--key", default="emulator-key", help="shared access key to check")
    auth.add_argument("--any-token", action="store_true", help="accept any token (no SAS checks)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    hubs = dict(args.hub or [("eh1", 4)])
    emulator = EventHubsEmulator(
        hubs,
        host=args.host,
        port=args.port,
        max_message_size=args.max_message_size,
        key_name=args.key_name,
        key=None if args.any_token else args.key,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    emulator.start()
    try:
        for name in hubs:
            print(emulator.connection_string(name), flush=True)
        while not stop.wait(0.5):  # a timed wait lets the main thread run signal handlers
            pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
