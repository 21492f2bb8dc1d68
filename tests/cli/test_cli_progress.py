"""Progress: counting outcomes without a task switch, and the two views."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from anyio_eventhubs import (
    EventClearedError,
    PublishFailedEventArgs,
    PublishSucceededEventArgs,
    ServerBusyError,
)
from anyio_eventhubs._cli._progress import (
    Counters,
    PlainView,
    QuietView,
    RichView,
    Sampler,
    Snapshot,
    make_view,
)


def test_handlers_count_published_failed_and_dropped_events() -> None:
    counters = Counters()
    counters.on_published(PublishSucceededEventArgs([b"a", b"b"], "0"))
    counters.on_failed(PublishFailedEventArgs([b"c"], "1", ServerBusyError("busy")))
    counters.on_failed(
        PublishFailedEventArgs([b"d", b"e"], "1", EventClearedError(may_have_been_published=False))
    )
    assert (counters.published, counters.failed, counters.dropped) == (2, 1, 2)
    assert counters.not_published == 3
    assert counters.errors == {"ServerBusyError: busy": 1}


@pytest.mark.anyio
async def test_the_final_snapshot_has_the_average_rate() -> None:
    counters = Counters(queued=10, published=10)
    sample = Sampler(counters)
    final = sample.final(until=sample.started + 2.0)
    assert final.elapsed == 2.0
    assert final.rate == 5.0
    assert final.done == 10


def _snapshot() -> Snapshot:
    return Snapshot(
        queued=1200, published=1000, failed=3, dropped=2, invalid=0, elapsed=1.0, rate=950.4
    )


def test_plain_lines_show_the_counts() -> None:
    out = io.StringIO()
    view = PlainView(Console(file=out, width=200), "sending")
    view.update(_snapshot())
    view.message("a note")
    assert out.getvalue().splitlines() == [
        "sending: queued 1,200 · published 1,000 · failed 5 · 950 events/s",
        "a note",
    ]


def test_the_bar_shows_the_counts_on_a_terminal() -> None:
    out = io.StringIO()
    console = Console(file=out, width=160, force_terminal=True, color_system=None)
    view = make_view("auto", console, "sending")
    assert isinstance(view, RichView)
    view.start()
    view.update(_snapshot())
    view.stop()
    assert "queued 1,200 · published 1,000 · failed 5 · 950 events/s" in out.getvalue()


def test_auto_is_plain_lines_off_a_terminal_and_off_is_quiet() -> None:
    console = Console(file=io.StringIO())
    assert type(make_view("auto", console, "x")) is PlainView
    quiet = make_view("off", console, "x")
    assert isinstance(quiet, QuietView)
    quiet.update(_snapshot())
    assert console.file.getvalue() == ""  # type: ignore[attr-defined]
