"""``JournalOptions``: where and how a producer journals what it accepts (issue #10)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ._journal import DEFAULT_SEGMENT_SIZE, Durability
from ._journal._writer import check_options

__all__ = ["JournalOptions", "journal_options"]


@dataclass(frozen=True)
class JournalOptions:
    """A crash-safe journal for a producer: ``open_streaming_producer(journal=...)``.

    With a journal, ``queue_for_send`` and ``try_queue_for_send`` return only once the
    event is written to it, and a producer opened on the same directory after a crash
    publishes first what had no outcome (``docs/durability.md``).

    :ivar directory: the journal's directory, created if missing; one producer at a time
        (it is locked).
    :ivar durability: ``"buffered"`` (the default): each event is written to the
        operating system before it is accepted, which survives the death of the process
        (a crash, an OOM kill, SIGKILL) but not a power loss or a kernel crash.
        ``"interval"``: also ``fdatasync`` at most every *fsync_interval* seconds, so a
        power loss loses at most that long of accepted events. ``"always"``:
        ``fdatasync`` before each event is accepted (survives a power loss; costs a
        disk flush per event, on the event loop).
    :ivar fsync_interval: seconds between syncs with ``durability="interval"``.
    :ivar quarantine_damaged: move damaged journal files aside into ``quarantine/`` and
        carry on, instead of refusing to open with
        :class:`~anyio_eventhubs.JournalCorruptError`. The events after the damage are
        not recovered; outcomes after it may be forgotten (those events are published
        again).
    :ivar segment_size: bytes after which a new journal file is started; space is
        reclaimed a whole file at a time, once every event in it has its outcome.
    """

    directory: str | os.PathLike[str]
    durability: Durability = "buffered"
    fsync_interval: float = 1.0
    quarantine_damaged: bool = False
    segment_size: int = DEFAULT_SEGMENT_SIZE

    def __post_init__(self) -> None:
        if not isinstance(self.directory, (str, os.PathLike)):
            raise TypeError(
                "the journal directory must be a str or a path, got "
                f"{type(self.directory).__name__}"
            )
        if not str(self.directory):
            raise ValueError("the journal directory must not be empty")
        check_options(self.durability, self.fsync_interval, self.segment_size)
        if not isinstance(self.quarantine_damaged, bool):
            raise TypeError(
                f"quarantine_damaged must be a bool, got {type(self.quarantine_damaged).__name__}"
            )

    @property
    def path(self) -> Path:
        return Path(self.directory)


def journal_options(journal: object) -> JournalOptions | None:
    """``open_streaming_producer``'s *journal* argument as options (``None``: no journal).

    :raises TypeError: for anything but a path, ``JournalOptions`` or ``None``.
    """
    if journal is None or isinstance(journal, JournalOptions):
        return journal
    if isinstance(journal, (str, os.PathLike)):
        return JournalOptions(journal)
    raise TypeError(
        "journal must be a directory (str or path), JournalOptions or None, got "
        f"{type(journal).__name__}"
    )
