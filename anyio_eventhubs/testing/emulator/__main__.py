"""Run the emulator in the foreground: ``python -m anyio_eventhubs.testing.emulator``.

Prints one connection string per hub (the first line is flushed at once, so a parent
process can read it) and serves until SIGINT or SIGTERM.

The service's lifetime rules take their timings from options (seconds, or ``off``). With
``--commands`` the emulator also reads commands from stdin, one a line, and answers each
on stdout with one line: ``add-partitions HUB COUNT`` -> ``added HUB 4,5`` (or
``error ...``).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from ._emulator import EventHubsEmulator

__all__ = ["command", "main"]


def _hub(value: str) -> tuple[str, int]:
    name, _, count = value.partition(":")
    try:
        partitions = int(count) if count else 4
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected NAME[:PARTITIONS], got {value!r}") from None
    if not name or partitions < 1:
        raise argparse.ArgumentTypeError(f"expected NAME[:PARTITIONS], got {value!r}")
    return name, partitions


def _seconds(value: str) -> float | None:
    if value.lower() in ("off", "none"):
        return None
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds or 'off', got {value!r}") from None
    if not 0 < seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {value!r}")
    return seconds


#: option -> (EventHubsEmulator keyword, default, what it is)
_RULES = {
    "--first-token-timeout": (
        "first_token_timeout",
        "20",
        "close a connection that put no token this long after connecting",
    ),
    "--max-token-lifetime": (
        "max_token_lifetime",
        "off",
        "treat every token as expiring this long after it was put",
    ),
    "--idle-timeout": (
        "idle_timeout",
        "240",
        "close a connection that sent no frame for this long",
    ),
    "--first-link-timeout": (
        "first_link_timeout",
        "60",
        "close a connection with no link this long after connecting",
    ),
    "--linkless-timeout": (
        "linkless_timeout",
        "300",
        "close a connection whose links have all been closed this long",
    ),
    "--link-idle-timeout": (
        "link_idle_timeout",
        "1800",
        "detach a link that carried no transfer for this long",
    ),
}


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
    for option, (dest, default, text) in _RULES.items():
        parser.add_argument(
            option,
            dest=dest,
            type=_seconds,
            default=_seconds(default),
            metavar="SECONDS",
            help=f"{text}; 'off' turns it off (default: {default})",
        )
    parser.add_argument(
        "--commands", action="store_true", help="read commands from stdin (add-partitions)"
    )
    return parser


def command(emulator: EventHubsEmulator, line: str) -> str:
    """Run one stdin command; returns the line to answer with."""
    words = line.split()
    if len(words) == 3 and words[0] == "add-partitions":
        try:
            added = emulator.add_partitions(words[1], int(words[2]))
        except (KeyError, ValueError) as exc:
            return f"error {exc.args[0] if exc.args else exc}"  # a KeyError's str() adds quotes
        return f"added {words[1]} {','.join(added)}"
    return f"error unknown command {line.strip()!r} (expected: add-partitions HUB COUNT)"


def _serve_commands(emulator: EventHubsEmulator) -> None:
    for line in sys.stdin:
        if line.strip():
            print(command(emulator, line), flush=True)


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
        **{dest: getattr(args, dest) for dest, _, _ in _RULES.values()},
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
        if args.commands:
            threading.Thread(target=_serve_commands, args=(emulator,), daemon=True).start()
        while not stop.wait(0.5):  # a timed wait lets the main thread run signal handlers
            pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
