"""Helpers for the journal's tests: events to journal, and a simulated crash."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import cast

from azure.eventhub import EventData

from anyio_eventhubs._events import Event, QueuedEvent, encode_event
from anyio_eventhubs._journal import JournalStore

NS = "ns.servicebus.windows.net"
HUB = "hub"


def open_store(path: Path, **kwargs: object) -> JournalStore:
    return JournalStore.open(path, namespace=NS, eventhub_name=HUB, **kwargs)  # type: ignore[arg-type]


def queued(event: Event, seq: int, key: str | None = None) -> QueuedEvent:
    return QueuedEvent(event, encode_event(event, key), seq)


def numbered(pid: str, seqs: Iterable[int], size: int = 100) -> list[tuple[str, QueuedEvent, None]]:
    """Body-only events whose body names their partition and number, padded to *size*."""
    out = []
    for seq in seqs:
        body = f"{pid}:{seq}:".encode().ljust(size, b".")
        out.append((pid, queued(body, seq), None))
    return out


def body_of(encoded: bytes) -> bytes:
    from anyio_eventhubs._codec import decode_message

    event: EventData = decode_message(encoded)
    return b"".join(cast("Iterable[bytes]", event.body))


def crash(store: JournalStore) -> None:
    """Let go of *store* as a killed process would: no outcome, sync or cleanup."""
    store._writer.abandon()
    os.close(store._lock_fd)
    store.closed = True


def segments(path: Path) -> list[Path]:
    return sorted(path.glob("*.seg"))
