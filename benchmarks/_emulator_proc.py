"""The emulator in a process of its own, with a control channel on stdin/stdout.

``python -m anyio_eventhubs.testing.emulator`` only prints connection strings; the
benchmarks also need to add a fresh hub per run (so that counts start at zero), read
per-partition counts to verify every run, and make the hub acknowledge slowly. So the
parent starts this file with ``--serve``: it runs an ``EventHubsEmulator`` (public API
only) and answers one JSON line per JSON request line:

- ``{"op": "add", "hub": NAME, "partitions": N, "max_message_size": B}`` -> ``{"conn": ...}``
- ``{"op": "counts", "hub": NAME}`` -> ``{"counts": [per-partition event counts]}``
- ``{"op": "delay_acks", "seconds": S}`` -> ``{"ok": true}``
- ``{"op": "connections"}`` -> ``{"accepted": TCP connections accepted so far}``

EOF on stdin stops it. The emulator has no way to drop stored events, so the parent
restarts the process (:meth:`EmulatorProcess.maybe_restart`) once the events stored
would take a noticeable amount of memory.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
import time
from typing import Any

__all__ = ["EmulatorProcess"]

#: restart the emulator once the runs since its start stored about this many bytes
_RESTART_AFTER_BYTES = 300 * 1024 * 1024
#: what the emulator keeps per event beyond its body (raw bytes object, offset, refs)
_PER_EVENT_OVERHEAD = 120


class EmulatorProcess:
    """Start, talk to, restart and stop the emulator process (parent side)."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[str] | None = None
        self._hub_ids = itertools.count(1)
        self._stored_bytes = 0
        self._lock = threading.RLock()  # runs may go in parallel (quick mode)
        self._active = 0  # hubs handed out and not yet counted
        self.restarts = 0
        self._ack_delay = 0.0
        self.pid = 0

    def __enter__(self) -> EmulatorProcess:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self._proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.pid = self._proc.pid
        first = self._read()
        if not first.get("ready"):
            raise RuntimeError(f"the emulator did not start: {first}")
        self._stored_bytes = 0

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        assert proc.stdin is not None
        try:
            proc.stdin.close()
            proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        finally:
            if proc.stdout is not None:
                proc.stdout.close()

    def maybe_restart(self, upcoming_bytes: int) -> None:
        """Restart first if storing *upcoming_bytes* more would pass the memory budget
        (only between runs: not while a hub handed out has not been counted)."""
        with self._lock:
            over = self._stored_bytes + upcoming_bytes > _RESTART_AFTER_BYTES
            if self._stored_bytes and over and not self._active:
                self.stop()
                self.start()
                self.restarts += 1
                if self._ack_delay:  # a fresh process has no faults: carry the delay over
                    self._call(op="delay_acks", seconds=self._ack_delay)

    def _read(self) -> dict[str, Any]:
        assert self._proc is not None
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            code = self._proc.wait(timeout=10)
            raise RuntimeError(f"the emulator process exited (code {code})")
        reply: dict[str, Any] = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"emulator: {reply['error']}")
        return reply

    def _call(self, **request: Any) -> dict[str, Any]:
        with self._lock:
            assert self._proc is not None
            assert self._proc.stdin is not None
            self._proc.stdin.write(json.dumps(request) + "\n")
            self._proc.stdin.flush()
            return self._read()

    def new_hub(
        self,
        partitions: int,
        *,
        expected_events: int = 0,
        event_size: int = 0,
        max_message_size: int = 1024 * 1024,
    ) -> tuple[str, str]:
        """A fresh, empty hub: ``(name, connection string)``."""
        upcoming = expected_events * (event_size + _PER_EVENT_OVERHEAD)
        with self._lock:
            self.maybe_restart(upcoming)
            self._stored_bytes += upcoming
            self._active += 1
            name = f"bench{next(self._hub_ids)}"
            reply = self._call(
                op="add", hub=name, partitions=partitions, max_message_size=max_message_size
            )
        return name, str(reply["conn"])

    def counts(self, hub: str) -> list[int]:
        """Events stored per partition of *hub*, partition ``"0"`` first (the run on it
        is over)."""
        with self._lock:
            self._active = max(0, self._active - 1)
            return [int(c) for c in self._call(op="counts", hub=hub)["counts"]]

    def connections_accepted(self) -> int:
        """TCP connections the emulator accepted since it started."""
        return int(self._call(op="connections")["accepted"])

    def delay_acks(self, seconds: float) -> None:
        """Hold every acknowledgement for *seconds* (0: off), across restarts too."""
        self._ack_delay = seconds
        self._call(op="delay_acks", seconds=seconds)


def _serve() -> int:
    from anyio_eventhubs.testing.emulator import EventHubsEmulator

    emulator = EventHubsEmulator({}, port=0, key=None)
    emulator.start()
    try:
        print(json.dumps({"ready": True, "port": emulator.port}), flush=True)
        for line in sys.stdin:
            if not line.strip():
                continue
            request = json.loads(line)
            try:
                op = request["op"]
                if op == "add":
                    emulator.add_hub(
                        request["hub"], request["partitions"], request["max_message_size"]
                    )
                    reply: dict[str, Any] = {"conn": emulator.connection_string(request["hub"])}
                elif op == "counts":
                    partitions = emulator.hubs[request["hub"]]
                    reply = {
                        "counts": [
                            emulator.event_count(request["hub"], str(p)) for p in range(partitions)
                        ]
                    }
                elif op == "delay_acks":
                    emulator.faults.delay_acks(request["seconds"])
                    reply = {"ok": True}
                elif op == "connections":
                    reply = {"accepted": emulator.connections_accepted}
                else:
                    reply = {"error": f"unknown op {op!r}"}
            except Exception as exc:  # reported to the parent, which raises it
                reply = {"error": f"{type(exc).__name__}: {exc}"}
            print(json.dumps(reply), flush=True)
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve"]:
        sys.exit(_serve())
    # a smoke check: python benchmarks/_emulator_proc.py
    with EmulatorProcess() as emu:
        hub, conn = emu.new_hub(4)
        started = time.perf_counter()
        print(conn, emu.counts(hub), f"{time.perf_counter() - started:.4f}s")
