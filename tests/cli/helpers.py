"""A progress view that records, for the engine's tests."""

from __future__ import annotations

from dataclasses import dataclass, field

from anyio_eventhubs._cli._progress import Snapshot


@dataclass
class RecordingView:
    """A :class:`~anyio_eventhubs._cli._progress.ProgressView` that keeps what it is told."""

    interval: float = 3600.0  # no periodic update during a test: only the final one
    messages: list[str] = field(default_factory=list)
    updates: list[Snapshot] = field(default_factory=list)
    started: bool = False
    stopped: bool = False

    def start(self) -> None:
        self.started = True

    def update(self, snapshot: Snapshot) -> None:
        self.updates.append(snapshot)

    def message(self, text: str) -> None:
        self.messages.append(text)

    def stop(self) -> None:
        self.stopped = True
