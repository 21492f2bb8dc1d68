"""Small tools shared by the tests (no sleeping: everything waits on events)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest
from trio.testing import MockClock

from anyio_eventhubs import PublishFailedEventArgs, PublishSucceededEventArgs
from anyio_eventhubs.testing import InMemoryEventHub


@dataclass
class Recorder:
    """Handlers that record every outcome, and let a test wait for a number of them."""

    succeeded: list[PublishSucceededEventArgs] = field(default_factory=list)
    failed: list[PublishFailedEventArgs] = field(default_factory=list)
    _changed: anyio.Event | None = None

    def on_succeeded(self, args: PublishSucceededEventArgs) -> None:
        self.succeeded.append(args)
        self._poke()

    def on_failed(self, args: PublishFailedEventArgs) -> None:
        self.failed.append(args)
        self._poke()

    def _poke(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    @property
    def published_events(self) -> list[Any]:
        return [e for args in self.succeeded for e in args.events]

    @property
    def failed_events(self) -> list[Any]:
        return [e for args in self.failed for e in args.events]

    def outcomes(self) -> int:
        return len(self.published_events) + len(self.failed_events)

    def by_partition(self) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = defaultdict(list)
        for args in self.succeeded:
            out[args.partition_id].extend(args.events)
        return out

    async def wait_outcomes(self, count: int) -> None:
        while self.outcomes() < count:
            if self._changed is None:
                self._changed = anyio.Event()
            await self._changed.wait()

    def handlers(self) -> dict[str, Any]:
        return {"on_publish_succeeded": self.on_succeeded, "on_publish_failed": self.on_failed}


def trio_autojump() -> pytest.MarkDecorator:
    """Run a test under Trio with a virtual clock that jumps whenever all tasks are blocked.

    Lets a test assert exact elapsed times without sleeping for real.
    """

    return pytest.mark.parametrize(
        "anyio_backend",
        [pytest.param(("trio", {"clock": MockClock(autojump_threshold=0)}), id="trio-autojump")],
    )


#: the in-memory hub's smallest message size: a batch of it holds one event of
#: ``padded()`` bytes (two such events need at least 86 bytes)
ONE_EVENT_BATCH_SIZE = 64


def padded(body: bytes) -> bytes:
    """*body* padded to 40 bytes: alone it fills a batch of ``ONE_EVENT_BATCH_SIZE``."""
    if len(body) > 40:
        raise ValueError(f"body of {len(body)} bytes is longer than 40")
    return body.ljust(40, b".")


def one_event_batch_hub(partition_count: int = 1) -> InMemoryEventHub:
    """A hub where every ``padded()`` event fills a batch of its own, so that a partition
    is full (``max_queued_events`` events behind a full head batch) after a few events."""
    return InMemoryEventHub(partition_count, max_message_size=ONE_EVENT_BATCH_SIZE)
