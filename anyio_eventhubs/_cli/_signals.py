"""Ctrl-C and SIGTERM as an async iterable of presses, each counted once.

One Ctrl-C can arrive twice: under ``timeout`` (or any wrapper in the same process
group), the terminal signals both processes and the wrapper passes its copy on. Two
signals less than :data:`MIN_INTERVAL` seconds apart therefore count as one press.
SIGTERM counts as a press like Ctrl-C; the exit status names the first signal
(``128 + signum``: 130 for SIGINT, 143 for SIGTERM).
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterable, AsyncIterator, Callable

import anyio

__all__ = ["MIN_INTERVAL", "exit_status_for", "presses"]

#: seconds two signals must be apart to count as two presses
MIN_INTERVAL = 0.5


async def presses(
    signals: AsyncIterable[int],
    clock: Callable[[], float] = anyio.current_time,
    min_interval: float = MIN_INTERVAL,
) -> AsyncIterator[int]:
    """Yield the signals of *signals* that come *min_interval* seconds or more after the
    last one yielded."""
    last: float | None = None
    async for signum in signals:
        now = clock()
        if last is not None and now - last < min_interval:
            continue
        last = now
        yield signum


def exit_status_for(signum: int) -> int:
    """The shell's convention: 128 + the signal's number (130 for Ctrl-C, 143 for SIGTERM)."""
    return 128 + int(signal.Signals(signum))
