"""Fakes for the blocking producer's tests: a hub gated from any thread, thread-safe handlers.

Nothing here sleeps: tests wait on conditions, with a generous timeout only so that a
bug fails the test instead of hanging it.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.from_thread
import anyio.lowlevel

from anyio_eventhubs import PublishFailedEventArgs, PublishSucceededEventArgs
from anyio_eventhubs.testing import InMemoryEventHub
from anyio_eventhubs.transport import OutgoingBatch

#: seconds a test waits for something that should happen at once (a bug, if it passes)
PATIENCE = 20.0


def producer_threads() -> list[str]:
    """Names of the blocking producers' threads still alive."""
    return [t.name for t in threading.enumerate() if t.name.startswith("anyio-eventhubs producer")]


class GatedHub:
    """An :class:`InMemoryEventHub` whose sends can be held and released from any thread.

    ``hold()`` makes later sends wait (after counting themselves as started);
    ``release()`` lets them through. The hub proper is :attr:`hub`.
    """

    supports_idempotent_publishing = False

    def __init__(self, partition_count: int = 2, *, max_message_size: int = 1048576) -> None:
        self.hub = InMemoryEventHub(partition_count, max_message_size=max_message_size)
        self._cond = threading.Condition()
        self._held = False
        self._gate: anyio.Event | None = None
        self._token: anyio.lowlevel.EventLoopToken | None = None
        self.sends_started = 0

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[_GatedConnection]:
        self._token = anyio.lowlevel.current_token()
        async with self.hub.connect() as connection:
            yield _GatedConnection(self, connection)

    def hold(self) -> None:
        with self._cond:
            self._held = True

    def release(self) -> None:
        with self._cond:
            self._held = False
        assert self._token is not None
        anyio.from_thread.run_sync(self._open_gate, token=self._token)

    def _open_gate(self) -> None:
        with self._cond:
            gate, self._gate = self._gate, None
        if gate is not None:
            gate.set()

    def wait_sends_started(self, count: int) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: self.sends_started >= count, PATIENCE)

    async def _pass(self, batch: OutgoingBatch, connection: InMemoryEventHub) -> None:
        while True:
            with self._cond:
                if not self._held:
                    break
                if self._gate is None:
                    self._gate = anyio.Event()
                gate = self._gate
            await gate.wait()
        await connection.send(batch)


class _GatedConnection:
    def __init__(self, gated: GatedHub, connection: InMemoryEventHub) -> None:
        self._gated = gated
        self._connection = connection
        self.eventhub_name = connection.eventhub_name
        self.fully_qualified_namespace = connection.fully_qualified_namespace
        self.partition_ids: Sequence[str] = connection.partition_ids
        self.max_message_size = connection.max_message_size

    async def send(self, batch: OutgoingBatch) -> None:
        gated = self._gated
        with gated._cond:
            gated.sends_started += 1
            gated._cond.notify_all()
        await gated._pass(batch, self._connection)


class ThreadRecorder:
    """Handlers that record every outcome and the thread it was reported on."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.succeeded: list[PublishSucceededEventArgs] = []
        self.failed: list[PublishFailedEventArgs] = []
        self.threads: set[str] = set()

    def on_succeeded(self, args: PublishSucceededEventArgs) -> None:
        with self._cond:
            self.succeeded.append(args)
            self.threads.add(threading.current_thread().name)
            self._cond.notify_all()

    def on_failed(self, args: PublishFailedEventArgs) -> None:
        with self._cond:
            self.failed.append(args)
            self.threads.add(threading.current_thread().name)
            self._cond.notify_all()

    @property
    def handlers(self) -> dict[str, Any]:
        return {"on_publish_succeeded": self.on_succeeded, "on_publish_failed": self.on_failed}

    def published_events(self) -> list[object]:
        with self._cond:
            return [e for args in self.succeeded for e in args.events]

    def failed_events(self) -> list[object]:
        with self._cond:
            return [e for args in self.failed for e in args.events]

    def wait_for(self, predicate: Callable[[ThreadRecorder], bool]) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: predicate(self), PATIENCE)
