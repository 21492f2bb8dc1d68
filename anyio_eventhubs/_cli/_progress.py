"""Showing progress: a rich bar on a terminal, plain lines otherwise.

One task redraws the view a few times a second (:func:`refresh_forever`) from a
:class:`Snapshot` of the :class:`~._outcomes.Counters` and the :class:`InputPosition`.
The bar measures progress through the input: bytes of a regular file, lines otherwise.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal, Protocol

import anyio
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn

from ._outcomes import Counters

__all__ = [
    "InputPosition",
    "PlainView",
    "ProgressMode",
    "ProgressView",
    "QuietView",
    "RichView",
    "Sampler",
    "Snapshot",
    "input_measure",
    "make_view",
    "publishing_stats",
    "refresh_forever",
]

ProgressMode = Literal["auto", "bar", "plain", "off"]


@dataclass
class InputPosition:
    """How far reading the input got: lines consumed (given to the producer or skipped)."""

    #: the number of the last line consumed (1-based; 0 before the first)
    lines: int = 0
    #: bytes of the lines consumed, with their line endings
    bytes_read: int = 0
    #: the input's size, when it is a regular file
    total_bytes: int | None = None


@dataclass(frozen=True)
class Snapshot:
    """The counters at one moment, with the publishing rate."""

    queued: int
    published: int
    failed: int
    unknown: int
    invalid: int
    elapsed: float
    #: events published per second, smoothed over the last few seconds
    rate: float
    lines: int = 0
    bytes_read: int = 0
    total_bytes: int | None = None
    #: seconds until the input is read, at the current pace (when its size is known)
    eta: float | None = None
    #: where the producer is connecting to, until it is open
    connecting: str | None = None

    @property
    def done(self) -> int:
        return self.published + self.failed + self.unknown


class Sampler:
    """Makes :class:`Snapshot` s of *counters* and *position*.

    The rate (and the ETA's pace) is measured over the last :attr:`window` seconds, so
    that one quiet refresh interval does not read as ``0 events/s``.
    """

    #: seconds the rate is smoothed over
    window = 3.0

    def __init__(
        self,
        counters: Counters,
        position: InputPosition | None = None,
        connecting: str | None = None,
    ) -> None:
        self.counters = counters
        self.position = position or InputPosition()
        self.connecting = connecting
        self.started = anyio.current_time()
        self._history: deque[tuple[float, int, int]] = deque()

    def connected(self) -> None:
        """The producer is open: time and rate count from now."""
        self.connecting = None
        self.started = anyio.current_time()
        self._history.clear()

    def __call__(self) -> Snapshot:
        now = anyio.current_time()
        c, p = self.counters, self.position
        history = self._history
        history.append((now, c.published, p.bytes_read))
        while len(history) > 2 and history[1][0] <= now - self.window:
            history.popleft()
        then, published_then, read_then = history[0]
        if now > then:
            rate = (c.published - published_then) / (now - then)
            pace = (p.bytes_read - read_then) / (now - then)
        else:
            rate = pace = 0.0
        eta = None
        if p.total_bytes is not None and pace > 0:
            eta = max(0, p.total_bytes - p.bytes_read) / pace
        return Snapshot(
            c.queued,
            c.published,
            c.failed,
            c.unknown,
            c.invalid,
            now - self.started,
            rate,
            p.lines,
            p.bytes_read,
            p.total_bytes,
            eta,
            self.connecting,
        )

    def final(self, until: float | None = None) -> Snapshot:
        """A snapshot whose rate is the average since the start (until *until*, if given)."""
        snapshot = self()
        elapsed = snapshot.elapsed if until is None else until - self.started
        rate = snapshot.published / elapsed if elapsed > 0 else 0.0
        return replace(snapshot, elapsed=elapsed, rate=rate, eta=None)


class ProgressView(Protocol):
    """Where progress goes; :func:`refresh_forever` calls :meth:`update`."""

    #: seconds between two updates
    interval: float

    def start(self) -> None: ...

    def update(self, snapshot: Snapshot) -> None: ...

    def message(self, text: str) -> None: ...

    def stop(self) -> None: ...


def _size(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{n} B"


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def publishing_stats(s: Snapshot) -> str:
    """``line · published · failed · unknown · events/s · ETA``, or where it connects."""
    if s.connecting is not None:
        return f"connecting to {s.connecting} ... {s.elapsed:.0f} s"
    where = f"line {s.lines:,}"
    if s.total_bytes is not None:
        share = s.bytes_read / s.total_bytes if s.total_bytes else 1.0
        where += f" ({share:.0%} of {_size(s.total_bytes)})"
    text = (
        f"{where} · published {s.published:,} · failed {s.failed:,} · unknown {s.unknown:,}"
        f" · {s.rate:,.0f}/s"
    )
    if s.eta is not None:
        text += f" · ETA {_duration(s.eta)}"
    return text


def input_measure(s: Snapshot) -> tuple[float, float | None]:
    """The bar's position: bytes of a file of known size; otherwise lines, with no end."""
    if s.total_bytes is not None:
        return s.bytes_read, max(s.total_bytes, 1)
    return s.lines, None


class RichView:
    """A live progress bar (on a terminal), measured by *measure*."""

    interval = 0.1

    def __init__(
        self,
        console: Console,
        description: str,
        describe: Callable[[Snapshot], str] = publishing_stats,
        measure: Callable[[Snapshot], tuple[float, float | None]] = input_measure,
    ) -> None:
        self.console = console
        self._description = description
        self._describe = describe
        self._measure = measure
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(bar_width=15),
            TextColumn("{task.fields[stats]}"),
            console=console,
            auto_refresh=False,  # redrawn by refresh_forever: no thread of rich's own
        )
        self._task: TaskID = self._progress.add_task(description, total=None, stats="")

    def start(self) -> None:
        self._progress.start()

    def update(self, snapshot: Snapshot) -> None:
        completed, total = self._measure(snapshot)
        self._progress.update(
            self._task,
            description="connecting" if snapshot.connecting else self._description,
            completed=completed,
            total=total,
            stats=self._describe(snapshot),
        )
        self._progress.refresh()

    def message(self, text: str) -> None:
        # soft_wrap: the terminal wraps a long line, rich does not cut it mid-word
        self._progress.console.print(text, soft_wrap=True, highlight=False, markup=False)

    def stop(self) -> None:
        self._progress.stop()


class PlainView:
    """One line of counts per second (when the output is not a terminal)."""

    interval = 1.0

    def __init__(
        self,
        console: Console,
        description: str,
        describe: Callable[[Snapshot], str] = publishing_stats,
    ) -> None:
        self.console = console
        self._description = description
        self._describe = describe

    def start(self) -> None:
        pass

    def update(self, snapshot: Snapshot) -> None:
        self.message(f"{self._description}: {self._describe(snapshot)}")

    def message(self, text: str) -> None:
        self.console.print(text, soft_wrap=True, highlight=False, markup=False)

    def stop(self) -> None:
        pass


class QuietView(PlainView):
    """No progress at all; messages still go out."""

    interval = 3600.0

    def update(self, snapshot: Snapshot) -> None:
        pass


def make_view(
    mode: ProgressMode,
    console: Console,
    description: str,
    describe: Callable[[Snapshot], str] = publishing_stats,
    measure: Callable[[Snapshot], tuple[float, float | None]] = input_measure,
) -> ProgressView:
    """The view for *mode*: ``auto`` is a bar on a terminal and plain lines otherwise."""
    if mode == "auto":
        mode = "bar" if console.is_terminal else "plain"
    if mode == "bar":
        return RichView(console, description, describe, measure)
    if mode == "plain":
        return PlainView(console, description, describe)
    return QuietView(console, description, describe)


async def refresh_forever(view: ProgressView, sample: Callable[[], Snapshot]) -> None:
    """Redraw *view* every ``view.interval`` seconds until cancelled."""
    while True:
        await anyio.sleep(view.interval)
        view.update(sample())
