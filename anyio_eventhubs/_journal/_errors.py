"""The journal's exceptions (defined in ``anyio_eventhubs._exceptions``, the one tree)
and the words for an operating system's error.

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

from .._exceptions import (
    JournalCorruptError,
    JournalError,
    JournalLockedError,
    JournalMismatchError,
    JournalVersionError,
    JournalWriteError,
)

__all__ = [
    "JournalCorruptError",
    "JournalError",
    "JournalLockedError",
    "JournalMismatchError",
    "JournalVersionError",
    "JournalWriteError",
    "describe_os_error",
]


def describe_os_error(exc: OSError) -> str:
    """Why an operating system call failed, in words a user acts on."""
    if exc.errno in (errno_codes.ENOSPC, errno_codes.EDQUOT):
        return "the disk is full"
    if exc.errno == errno_codes.EFBIG:
        return "the file size limit was reached"
    if exc.errno in (errno_codes.EACCES, errno_codes.EPERM, errno_codes.EROFS):
        return f"permission denied ({exc.strerror})"
    return exc.strerror or str(exc)
