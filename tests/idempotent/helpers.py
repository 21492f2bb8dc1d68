"""A transport wrapper that loses acknowledgements, for the emulator and a live hub alike."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from anyio_eventhubs import ConnectionLostError
from anyio_eventhubs.transport import OutgoingBatch, PublishingState, Transport


class AckLosingTransport:
    """Wraps an idempotent transport: after the next *lose* sends succeed, each is reported
    as a lost acknowledgement (a transient :class:`~anyio_eventhubs.ConnectionLostError`),
    so the producer retries a batch the service has stored already."""

    supports_idempotent_publishing = True

    def __init__(self, inner: Transport, lose: int = 1) -> None:
        self._inner = inner
        self.to_lose = lose
        self.lost = 0

    def connect(self, *, idempotent: bool = False) -> AbstractAsyncContextManager[Any]:
        return self._connect(idempotent)

    @asynccontextmanager
    async def _connect(self, idempotent: bool) -> AsyncIterator[_AckLosingConnection]:
        async with self._inner.connect(idempotent=idempotent) as inner:  # type: ignore[call-arg]
            yield _AckLosingConnection(inner, self)


class _AckLosingConnection:
    def __init__(self, inner: Any, owner: AckLosingTransport) -> None:
        self._inner = inner
        self._owner = owner

    @property
    def eventhub_name(self) -> str:
        return str(self._inner.eventhub_name)

    @property
    def fully_qualified_namespace(self) -> str:
        return str(self._inner.fully_qualified_namespace)

    @property
    def partition_ids(self) -> Sequence[str]:
        return list(self._inner.partition_ids)

    @property
    def max_message_size(self) -> int:
        return int(self._inner.max_message_size)

    @property
    def reserved_bytes_per_event(self) -> int:
        return int(self._inner.reserved_bytes_per_event)

    def publishing_state(self, partition_id: str) -> PublishingState | None:
        state: PublishingState | None = self._inner.publishing_state(partition_id)
        return state

    async def resume_publishing(self, partition_id: str, producer_id: int, epoch: int) -> bool:
        resumed: bool = await self._inner.resume_publishing(partition_id, producer_id, epoch)
        return resumed

    async def send(self, batch: OutgoingBatch) -> None:
        await self._inner.send(batch)
        if self._owner.to_lose > 0:
            self._owner.to_lose -= 1
            self._owner.lost += 1
            raise ConnectionLostError("the acknowledgement was lost (simulated by the test)")
