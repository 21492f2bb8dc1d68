"""Appending to the active segment file, with the chosen durability.

A write is all or nothing: if it fails part-way (disk full), the file is cut back to
where it was, so the failed record never becomes damage in the middle of the journal.
If even that fails, the writer refuses every later write.
"""

from __future__ import annotations

import contextlib
import os
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Literal, NoReturn

from . import _format as fmt
from ._errors import JournalError, JournalWriteError, describe_os_error
from ._segments import Segment, segment_name

__all__ = [
    "Durability",
    "OneEventCopier",
    "SegmentWriter",
    "check_options",
    "header_factory",
]

Durability = Literal["buffered", "interval", "always"]
_fdatasync: Callable[[int], None] = getattr(os, "fdatasync", os.fsync)


_DURABILITIES = ("buffered", "interval", "always")


def check_options(durability: str, fsync_interval: float, segment_size: int) -> None:
    """:raises ValueError: if an option of :meth:`JournalStore.open` is out of range.
    :raises TypeError: if one has the wrong type."""
    if durability not in _DURABILITIES:
        raise ValueError(f"durability must be one of {_DURABILITIES}, got {durability!r}")
    if isinstance(fsync_interval, bool) or not isinstance(fsync_interval, (int, float)):
        raise TypeError(f"fsync_interval must be a number, got {type(fsync_interval).__name__}")
    if isinstance(segment_size, bool) or not isinstance(segment_size, int):
        raise TypeError(f"segment_size must be an int, got {type(segment_size).__name__}")
    if not fsync_interval > 0:
        raise ValueError(f"fsync_interval must be > 0 seconds, got {fsync_interval!r}")
    if segment_size < 4096:
        raise ValueError(f"segment_size must be >= 4096 bytes, got {segment_size!r}")


def _write_all(fd: int, data: bytes) -> None:
    written = os.write(fd, data)  # all of it, as a rule: one call per record
    if written < len(data):
        _write_rest(fd, data, written)


def _write_rest(fd: int, data: bytes, written: int) -> None:
    """Finish a write the kernel took only the first *written* bytes of."""
    view = memoryview(data)[written:]
    while view:
        view = view[os.write(fd, view) :]


#: ``copy(active, seq, kind, encoded) -> bool``: :meth:`SegmentWriter.one_event_copier`
OneEventCopier = Callable[[Segment, int, int, bytes], bool]


def _never(active: Segment, seq: int, kind: int, encoded: bytes) -> bool:
    return False


class SegmentWriter:
    """Owns the active segment's file descriptor; writes each record with one ``write``
    (format version 1). :class:`~anyio_eventhubs._journal._mapped.MappedSegmentWriter`
    copies them into a memory map instead, where the platform can reserve disk space."""

    #: the format version of the segments it writes (``_tails.classify_tail``)
    version = 1

    def __init__(
        self,
        directory: Path,
        header: Callable[[int, int], bytes],
        durability: Durability,
        fsync_interval: float,
        clock: Callable[[], float],
    ) -> None:
        self.directory = directory
        self._header = header
        self.durability = durability
        self.fsync_interval = fsync_interval
        self._clock = clock
        self.active: Segment | None = None
        self.header_size = 0
        self._fd = -1
        self._unsynced = False
        self._last_sync = clock()
        self.broken: OSError | None = None

    def start(self, number: int, generation: int) -> Segment:
        """Create segment *number* and make it the active one (its header is written to
        a temporary name, synced unless ``buffered``, then renamed)."""
        path = self.directory / segment_name(number)
        tmp = path.with_suffix(".tmp")
        header = self._header(number, self.version)
        fd = -1
        try:
            fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
            _write_all(fd, header)
            if self.durability != "buffered":
                _fdatasync(fd)
            os.replace(tmp, path)
            if self.durability != "buffered":
                dir_fd = os.open(self.directory, os.O_RDONLY)
                try:
                    os.fsync(dir_fd)
                finally:
                    os.close(dir_fd)
        except OSError as exc:
            if fd >= 0:
                os.close(fd)
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise JournalWriteError(
                f"cannot create a journal segment in {self.directory}: {describe_os_error(exc)}",
                self.directory,
                exc.errno,
            ) from exc
        if self._fd >= 0:
            self._retire()
            os.close(self._fd)
        self._fd = fd
        self.header_size = len(header)
        self.active = Segment(path, number, generation, len(header))
        return self.active

    def _retire(self) -> None:
        """Done with the active segment, whose descriptor is still open (a hook)."""

    def roll(self) -> Segment:
        """Start the next segment (the current one is first synced, unless ``buffered``)."""
        active = self.active
        assert active is not None
        if self.durability != "buffered":
            self.sync()
        return self.start(active.number + 1, active.generation)

    def append(self, data: bytes, what: str) -> None:
        """Write *data* at the end of the active segment: all of it, or none of it.

        :param what: what *data* is, for the error message.
        :raises JournalWriteError: if it could not be written.
        """
        active = self.active
        if active is None or self.broken is not None:
            self._refuse(what)
        try:
            written = os.write(self._fd, data)  # all of it, as a rule: one call
            if written < len(data):
                _write_rest(self._fd, data, written)
        except OSError as exc:
            self._undo(active, exc, what)
        active.size += len(data)
        self._unsynced = True

    def one_event_copier(self, partition_id: bytes) -> OneEventCopier:
        """``copy(active, seq, kind, encoded)``: append to *active* the one-event record
        that ``_format.one_event_encoder(partition_id)`` makes, if that needs no system
        call and no new segment; else ``False`` (nothing was appended), and
        :meth:`append` must (here: always ``False``)."""
        return _never

    def copy_if_reserved(self, active: Segment, data: bytes) -> bool:
        """Append one record *data* to *active* if that needs no system call and no new
        segment (:class:`~anyio_eventhubs._journal._mapped.MappedSegmentWriter`: it
        fits in the space reserved); else ``False``, and :meth:`append` must."""
        return False

    def append_records(self, data: bytes, what: str) -> None:
        """:meth:`append` of *data* made of several framed records (not events: their
        place is noted in :attr:`Segment.others`)."""
        self.append(data, what)
        assert self.active is not None
        self.active.others.append((self.active.size - len(data), len(data)))

    def content_crc(self) -> int:
        """The CRC-32 of the active segment's bytes (for its index, ``_index``).

        :raises OSError: if they cannot be read back.
        """
        active = self.active
        assert active is not None
        return zlib.crc32(os.pread(self._fd, active.size, 0))

    def _refuse(self, what: str) -> NoReturn:
        if self.broken is not None:
            raise JournalWriteError(
                f"the journal {self.directory} is unusable since a write failed and could "
                f"not be undone ({describe_os_error(self.broken)}); {what} not written",
                self.directory,
                self.broken.errno,
            )
        raise JournalError(f"the journal {self.directory} is closed", self.directory)

    def _undo(self, active: Segment, exc: OSError, what: str) -> NoReturn:
        """Cut the file back to where it was before a failed write, and raise."""
        try:
            os.ftruncate(self._fd, active.size)
            os.lseek(self._fd, active.size, os.SEEK_SET)
        except OSError:
            self.broken = exc
        raise JournalWriteError(
            f"cannot write to the journal {active.path}: {describe_os_error(exc)}; "
            f"{what} not written",
            active.path,
            exc.errno,
        ) from exc

    def after_append(self) -> None:
        """Sync as the durability says, after an append of events."""
        if self.durability == "always":
            self.sync()
        elif self.durability == "interval":
            self.sync_if_due()

    def sync(self) -> None:
        """``fdatasync`` what was written, whatever the durability.

        :raises JournalWriteError: if the disk reports an error.
        """
        if self._fd < 0 or not self._unsynced:
            return
        try:
            self._sync_now()
        except OSError as exc:
            raise JournalWriteError(
                f"cannot flush the journal {self.directory} to disk: {describe_os_error(exc)}",
                self.directory,
                exc.errno,
            ) from exc
        self._unsynced = False
        self._last_sync = self._clock()

    def _sync_now(self) -> None:
        """Sync the active segment: ``fdatasync``."""
        _fdatasync(self._fd)

    def sync_if_due(self) -> None:
        """With ``durability="interval"``: :meth:`sync` if ``fsync_interval`` seconds
        have passed since the last one."""
        if self.durability == "interval" and self._clock() - self._last_sync >= self.fsync_interval:
            self.sync()

    def close(self) -> None:
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                self._retire()
            with contextlib.suppress(OSError):
                os.close(self._fd)
        self.active = None
        self._fd = -1

    def abandon(self) -> None:
        """Let go of the file as the death of the process would (for tests)."""
        self.active = None
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
        self._fd = -1


def header_factory(
    generation: int, namespace: str, eventhub_name: str
) -> Callable[[int, int], bytes]:
    """What :class:`SegmentWriter` writes at the start of segment ``number``, in format
    ``version``: ``header(number, version)``."""
    return lambda number, version: fmt.encode_header(
        generation, number, namespace, eventhub_name, version
    )
