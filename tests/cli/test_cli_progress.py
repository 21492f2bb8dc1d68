"""Progress: input position, a smoothed rate, an ETA, "connecting to", and the views."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from anyio_eventhubs._cli._outcomes import Counters
from anyio_eventhubs._cli._progress import (
    InputPosition,
    PlainView,
    QuietView,
    RichView,
    Sampler,
    Snapshot,
    make_view,
    publishing_stats,
)


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    clock = _Clock()
    monkeypatch.setattr("anyio_eventhubs._cli._progress.anyio.current_time", clock)
    return clock


def test_the_rate_is_smoothed_over_a_few_seconds(clock: _Clock) -> None:
    counters = Counters()
    sample = Sampler(counters)
    sample()
    for _ in range(20):  # a steady 1,000 events/s, published in bursts every other 0.1 s
        clock.now += 0.1
        counters.published += 200 if round(clock.now * 10) % 2 else 0
        snapshot = sample()
    assert snapshot.rate == pytest.approx(1000, rel=0.1)
    for _ in range(31):  # quiet for longer than the window
        clock.now += 0.1
        snapshot = sample()
    assert snapshot.rate == 0


def test_the_eta_comes_from_the_pace_through_a_file_of_known_size(clock: _Clock) -> None:
    position = InputPosition(total_bytes=10_000)
    sample = Sampler(Counters(), position)
    sample()
    clock.now += 2.0
    position.bytes_read, position.lines = 2_000, 40
    snapshot = sample()
    assert snapshot.eta == pytest.approx(8.0)
    assert "line 40 (20% of 10.0 kB)" in publishing_stats(snapshot)
    assert publishing_stats(snapshot).endswith("ETA 0:08")
    assert Sampler(Counters(), InputPosition())().eta is None  # a pipe: no ETA


def test_it_says_where_it_connects_until_the_producer_opens(clock: _Clock) -> None:
    counters = Counters()
    sample = Sampler(counters, connecting="host:5671/eh1")
    clock.now += 12
    assert publishing_stats(sample()) == "connecting to host:5671/eh1 ... 12 s"
    sample.connected()
    clock.now += 1
    counters.published = 50
    snapshot = sample()
    assert snapshot.connecting is None
    assert snapshot.elapsed == 1.0  # the publishing time starts when connected


def test_the_final_snapshot_has_the_average_rate(clock: _Clock) -> None:
    counters = Counters(queued=10, published=10)
    sample = Sampler(counters)
    final = sample.final(until=sample.started + 2.0)
    assert final.elapsed == 2.0
    assert final.rate == 5.0
    assert final.done == 10


def _snapshot() -> Snapshot:
    return Snapshot(
        queued=1200,
        published=1000,
        failed=3,
        unknown=2,
        invalid=0,
        elapsed=1.0,
        rate=950.4,
        lines=1250,
    )


def test_plain_lines_show_the_three_outcomes() -> None:
    out = io.StringIO()
    view = PlainView(Console(file=out, width=200), "sending")
    view.update(_snapshot())
    view.message("a note")
    assert out.getvalue().splitlines() == [
        "sending: line 1,250 · published 1,000 · failed 3 · unknown 2 · 950/s",
        "a note",
    ]


def test_a_long_message_is_not_cut_mid_word() -> None:
    text = "ConnectError: " + "could-not-reach-" * 10 + "the-host [with brackets]"
    for console in (
        Console(file=io.StringIO(), width=40),
        Console(file=io.StringIO(), width=40, force_terminal=True, color_system=None),
    ):
        view = make_view("auto", console, "sending")
        view.start()
        view.message(text)
        view.stop()
        assert text in console.file.getvalue()  # type: ignore[attr-defined]


def test_the_bar_shows_the_counts_on_a_terminal() -> None:
    out = io.StringIO()
    console = Console(file=out, width=160, force_terminal=True, color_system=None)
    view = make_view("auto", console, "sending")
    assert isinstance(view, RichView)
    view.start()
    view.update(_snapshot())
    view.stop()
    assert "published 1,000 · failed 3 · unknown 2 · 950/s" in out.getvalue()


def test_auto_is_plain_lines_off_a_terminal_and_off_is_quiet() -> None:
    console = Console(file=io.StringIO())
    assert type(make_view("auto", console, "x")) is PlainView
    quiet = make_view("off", console, "x")
    assert isinstance(quiet, QuietView)
    quiet.update(_snapshot())
    assert console.file.getvalue() == ""  # type: ignore[attr-defined]
