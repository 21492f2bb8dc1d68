"""A child process that speaks JSON lines: one command on stdin, one answer on stdout.

The soaks run their emulator this way (``soak.py``, ``lifetime_soak.py``), so that its
memory and threads are not counted in the producer's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from typing import Any

__all__ = ["JsonChild"]


class JsonChild:
    """Runs this interpreter on *argv*; its first line is read at once as :attr:`hello`."""

    def __init__(self, argv: list[str]) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, *argv],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )
        self._lock = threading.Lock()
        self.hello = self._read()

    def _read(self) -> dict[str, Any]:
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the child process exited ({self._proc.wait()})")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def ask(self, op: str) -> dict[str, Any]:
        """Send ``{"op": op}`` and wait for the answer (from any one thread at a time)."""
        with self._lock:
            assert self._proc.stdin is not None
            self._proc.stdin.write(json.dumps({"op": op}) + "\n")
            self._proc.stdin.flush()
            return self._read()

    def close(self) -> None:
        """Close its stdin (it exits) and wait; kill it after 30 s."""
        assert self._proc.stdin is not None
        self._proc.stdin.close()
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()
