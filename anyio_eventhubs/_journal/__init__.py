"""A crash-safe journal of accepted events (issue #10): the storage layer.

Private: the producer uses it; users see it through ``open_streaming_producer(journal=...)``.
No anyio here: the format (``_format``) is sans-IO and the store (``_store``) does plain
synchronous file I/O. ``docs/durability.md`` describes the format and the settings.
"""

from __future__ import annotations

from ._errors import (
    JournalCorruptError,
    JournalError,
    JournalLockedError,
    JournalMismatchError,
    JournalVersionError,
    JournalWriteError,
)
from ._format import FORMAT_VERSION, KIND_BYTES, KIND_EVENT_DATA, KIND_STR
from ._scan import JournaledEvent, TornTail
from ._store import DEFAULT_SEGMENT_SIZE, Durability, JournalStore

__all__ = [
    "DEFAULT_SEGMENT_SIZE",
    "FORMAT_VERSION",
    "KIND_BYTES",
    "KIND_EVENT_DATA",
    "KIND_STR",
    "Durability",
    "JournalCorruptError",
    "JournalError",
    "JournalLockedError",
    "JournalMismatchError",
    "JournalStore",
    "JournalVersionError",
    "JournalWriteError",
    "JournaledEvent",
    "TornTail",
]
