"""The command in a pseudo-terminal, as a person runs it: Ctrl-C is the byte ``\\x03``."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import termios
import time
from collections.abc import Mapping

__all__ = ["Terminal", "plain"]

_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>]")


def plain(output: bytes) -> str:
    """*output* without escape sequences; carriage returns as line breaks."""
    text = _ESCAPES.sub("", output.decode("utf-8", errors="replace"))
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _become_the_terminals_foreground() -> None:  # runs in the child, fds 0-2 = the terminal
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _terminal_env(more: Mapping[str, str] | None) -> dict[str, str]:
    # the pseudo-terminal's size is the size: pytest-xdist gives its workers COLUMNS=80
    # and LINES=24, which would override it (rich then cuts the progress line short)
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return {**env, "TERM": "xterm-256color", **(more or {})}


class Terminal:
    """Runs *args* with a pseudo-terminal as controlling terminal and standard streams."""

    def __init__(
        self, args: list[str], env: Mapping[str, str] | None = None, columns: int = 200
    ) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
        self.process = subprocess.Popen(
            args,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=_terminal_env(env),
            preexec_fn=_become_the_terminals_foreground,
        )
        os.close(slave)
        self.master = master
        self.output = b""

    @property
    def text(self) -> str:
        return plain(self.output)

    def _read(self, timeout: float) -> bool:
        """Read what is there within *timeout*; ``False`` at the end of output."""
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return True
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # EIO: every process closed the terminal
            return False
        self.output += chunk
        return bool(chunk)

    def read_until(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        """Wait (bounded) for *pattern* in the output."""
        deadline = time.monotonic() + timeout
        while (match := re.search(pattern, self.text)) is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._read(remaining):
                raise AssertionError(f"{pattern!r} not in the output:\n{self.text[-3000:]}")
        return match

    def press_ctrl_c(self) -> None:
        os.write(self.master, b"\x03")

    def wait(self, timeout: float = 60) -> int:
        """Read the output to its end; the exit status."""
        deadline = time.monotonic() + timeout
        while self._read(max(0.0, deadline - time.monotonic())):
            if time.monotonic() > deadline:
                break
        return self.process.wait(timeout=max(1.0, deadline - time.monotonic()))

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        os.close(self.master)
