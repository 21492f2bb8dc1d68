"""The journal's exceptions (re-exported by the package once the producer uses them).

::

    EventHubsError
    └── JournalError                  the journal cannot be used as asked
        ├── JournalLockedError        another producer holds the journal's lock
        ├── JournalMismatchError      the journal belongs to another namespace or hub
        ├── JournalVersionError       written by a newer (or unknown) format version
        ├── JournalCorruptError       a damaged record, not at the end: .path, .offset
        └── JournalWriteError         a write failed (disk full, permission): nothing accepted
"""

from __future__ import annotations

import errno as errno_codes
from pathlib import Path

from .._exceptions import EventHubsError

__all__ = [
    "JournalCorruptError",
    "JournalError",
    "JournalLockedError",
    "JournalMismatchError",
    "JournalVersionError",
    "JournalWriteError",
    "describe_os_error",
]


class JournalError(EventHubsError):
    """The journal cannot be used as asked.

    :ivar path: the file or directory concerned.
    """

    def __init__(self, message: str, path: Path | str) -> None:
        super().__init__(message)
        self.path = Path(path)


class JournalLockedError(JournalError):
    """Another producer (in this process or another) holds the journal directory."""


class JournalMismatchError(JournalError):
    """The journal was written for another namespace or Event Hub."""


class JournalVersionError(JournalError):
    """The journal was written in a format version this version cannot read."""


class JournalCorruptError(JournalError):
    """A record is damaged somewhere other than at the very end of the journal.

    :ivar offset: the byte offset, in :attr:`path`, where the damage was found.
    """

    def __init__(self, message: str, path: Path | str, offset: int) -> None:
        super().__init__(f"{message} (in {path} at byte offset {offset})", path)
        self.offset = offset


class JournalWriteError(JournalError):
    """Writing to the journal failed (disk full, permission denied, ...).

    The events of the failed call were not journaled, so they were not accepted.

    :ivar errno: the operating system's error number, if any.
    """

    def __init__(self, message: str, path: Path | str, errno: int | None = None) -> None:
        super().__init__(message, path)
        self.errno = errno


def describe_os_error(exc: OSError) -> str:
    """Why an operating system call failed, in words a user acts on."""
    if exc.errno in (errno_codes.ENOSPC, errno_codes.EDQUOT):
        return "the disk is full"
    if exc.errno == errno_codes.EFBIG:
        return "the file size limit was reached"
    if exc.errno in (errno_codes.EACCES, errno_codes.EPERM, errno_codes.EROFS):
        return f"permission denied ({exc.strerror})"
    return exc.strerror or str(exc)
