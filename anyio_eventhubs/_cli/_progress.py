"""Counting outcomes and showing progress: a rich bar on a terminal, plain lines otherwise.

The producer's handlers only add to :class:`Counters` (plain integers, on the caller's
event loop, no task switch); one task redraws the view a few times a second from a
:class:`Snapshot` of them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

import anyio
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from .._events import PublishFailedEventArgs, PublishSucceededEventArgs
from .._exceptions import EventClearedError

__all__ = [
    "Counters",
    "PlainView",
    "ProgressMode",
    "ProgressView",
    "RichView",
    "Snapshot",
    "make_view",
    "publishing_stats",
    "refresh_forever",
]

ProgressMode = Literal["auto", "bar", "plain", "off"]


@dataclass
class Counters:
    """Every event's fate, as the send loop and the producer's handlers see it."""

    #: events accepted by the producer
    queued: int = 0
    #: events the service stored
    published: int = 0
    #: events the producer gave up on (after its retries)
    failed: int = 0
    #: events dropped unpublished (a second Ctrl-C, or a close that ran out of time)
    dropped: int = 0
    #: input lines that could not be made into events (not sent)
    invalid: int = 0
    #: "ErrorClass: message" -> how many events failed so
    errors: Counter[str] = field(default_factory=Counter)

    def on_published(self, args: PublishSucceededEventArgs) -> None:
        self.published += len(args.events)

    def on_failed(self, args: PublishFailedEventArgs) -> None:
        if isinstance(args.exception, EventClearedError):
            self.dropped += len(args.events)
            return
        self.failed += len(args.events)
        self.errors[f"{type(args.exception).__name__}: {args.exception}"] += len(args.events)

    @property
    def not_published(self) -> int:
        """Accepted events that did not reach the service (failed or dropped)."""
        return self.failed + self.dropped


@dataclass(frozen=True)
class Snapshot:
    """The counters at one moment, with the publishing rate."""

    queued: int
    published: int
    failed: int
    dropped: int
    invalid: int
    elapsed: float
    #: events published per second over the last refresh interval
    rate: float

    @property
    def done(self) -> int:
        return self.published + self.failed + self.dropped


class Sampler:
    """Makes :class:`Snapshot` s of *counters*, measuring the rate between two of them."""

    def __init__(self, counters: Counters) -> None:
        self.counters = counters
        self.started = anyio.current_time()
        self._last = (self.started, 0)

    def __call__(self) -> Snapshot:
        now = anyio.current_time()
        c = self.counters
        last_time, last_published = self._last
        rate = (c.published - last_published) / (now - last_time) if now > last_time else 0.0
        self._last = (now, c.published)
        return Snapshot(
            c.queued, c.published, c.failed, c.dropped, c.invalid, now - self.started, rate
        )

    def final(self, until: float | None = None) -> Snapshot:
        """A snapshot whose rate is the average since the start (until *until*, if given)."""
        snapshot = self()
        elapsed = snapshot.elapsed if until is None else until - self.started
        rate = snapshot.published / elapsed if elapsed > 0 else 0.0
        return replace(snapshot, elapsed=elapsed, rate=rate)


class ProgressView(Protocol):
    """Where progress goes; :func:`refresh_forever` calls :meth:`update`."""

    #: seconds between two updates
    interval: float

    def start(self) -> None: ...

    def update(self, snapshot: Snapshot) -> None: ...

    def message(self, text: str) -> None: ...

    def stop(self) -> None: ...


def publishing_stats(s: Snapshot) -> str:
    """``queued · published · failed · events/s``."""
    return (
        f"queued {s.queued:,} · published {s.published:,} · failed {s.failed + s.dropped:,}"
        f" · {s.rate:,.0f} events/s"
    )


class RichView:
    """A live progress bar (on a terminal): published out of queued (or of *total*)."""

    interval = 0.1

    def __init__(
        self,
        console: Console,
        description: str,
        total: int | None = None,
        describe: Callable[[Snapshot], str] = publishing_stats,
    ) -> None:
        self.console = console
        self._total = total
        self._describe = describe
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[stats]}"),
            TimeElapsedColumn(),
            console=console,
            auto_refresh=False,  # redrawn by refresh_forever: no thread of rich's own
        )
        self._task: TaskID = self._progress.add_task(description, total=total, stats="")

    def start(self) -> None:
        self._progress.start()

    def update(self, snapshot: Snapshot) -> None:
        total = self._total if self._total is not None else max(snapshot.queued, 1)
        self._progress.update(
            self._task, completed=snapshot.done, total=total, stats=self._describe(snapshot)
        )
        self._progress.refresh()

    def message(self, text: str) -> None:
        self._progress.console.print(text)

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
        self.console.print(f"{self._description}: {self._describe(snapshot)}", highlight=False)

    def message(self, text: str) -> None:
        self.console.print(text, highlight=False)

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
    total: int | None = None,
    describe: Callable[[Snapshot], str] = publishing_stats,
) -> ProgressView:
    """The view for *mode*: ``auto`` is a bar on a terminal and plain lines otherwise."""
    if mode == "auto":
        mode = "bar" if console.is_terminal else "plain"
    if mode == "bar":
        return RichView(console, description, total, describe)
    if mode == "plain":
        return PlainView(console, description, describe)
    return QuietView(console, description, describe)


async def refresh_forever(view: ProgressView, sample: Callable[[], Snapshot]) -> None:
    """Redraw *view* every ``view.interval`` seconds until cancelled."""
    while True:
        await anyio.sleep(view.interval)
        view.update(sample())
