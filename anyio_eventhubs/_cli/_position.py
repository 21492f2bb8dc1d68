"""Where ``send --journal DIR`` stopped reading: the input position, kept next to the journal.

The journal keeps every accepted event; this file keeps how far the input was read, so
that ``send`` run again on the same input and journal reads on after the last accepted
line instead of from the start. It is ``DIR/send-position``, written only while the
producer holds the journal's lock (one ``send`` per journal).

Order is what makes it safe: a line's number is written here only *after*
``queue_for_send`` returned, so the event is in the journal first. A kill between the
two leaves the position one line behind: that line is in the journal (and is published
from there) and is read again, so it is published twice at most. Never the other way:
no line is skipped. Each kill costs at most one duplicate line.

The file holds two 48-byte slots, written in turn, each with a counter and a CRC-32, so
a write torn by a power loss leaves the other, older slot (again: re-read lines, never
skipped ones). With ``interval`` or ``always`` durability, the file is also synced at
most once a second (the journal's own syncs come first: the position is written after
the append returned).

A slot: magic ``AEHP``, then little-endian u64s: counter, line number, device and inode
of the input (both 0 for a stream, which cannot be identified), a flag (1: a regular
file), then the CRC-32 of the 44 bytes before it.
"""

from __future__ import annotations

import os
import struct
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

__all__ = [
    "POSITION_FILE",
    "InputIdentity",
    "JournalSettings",
    "PositionFile",
    "SavedPosition",
    "identify",
    "read_saved",
    "where_to_resume",
]

POSITION_FILE = "send-position"
_MAGIC = b"AEHP"
_BODY = struct.Struct("<4sQQQQQ")
_SLOT = _BODY.size + 4
#: seconds between syncs of the position file (with "interval" or "always")
SYNC_INTERVAL = 1.0


@dataclass(frozen=True)
class InputIdentity:
    """What identifies the input across runs: a regular file's device and inode."""

    device: int = 0
    inode: int = 0
    regular: bool = False

    def describe(self) -> str:
        return "a file" if self.regular else "a stream (standard input or a pipe)"


def identify(file: BinaryIO) -> InputIdentity:
    """The identity of *file*: device and inode of a regular file, else a stream's."""
    import io
    import stat

    try:
        status = os.fstat(file.fileno())
    except (AttributeError, OSError, io.UnsupportedOperation):
        return InputIdentity()
    if not stat.S_ISREG(status.st_mode):
        return InputIdentity()
    return InputIdentity(status.st_dev, status.st_ino, True)


@dataclass(frozen=True)
class SavedPosition:
    """The last line a run of ``send`` accepted (or passed over), and its input."""

    line: int
    identity: InputIdentity


def _decode(slot: bytes) -> tuple[int, SavedPosition] | None:
    if len(slot) != _SLOT or zlib.crc32(slot[: _BODY.size]) != int.from_bytes(
        slot[_BODY.size :], "little"
    ):
        return None
    magic, counter, line, device, inode, flag = _BODY.unpack_from(slot)
    if magic != _MAGIC:
        return None
    return counter, SavedPosition(line, InputIdentity(device, inode, bool(flag)))


class PositionFile:
    """``DIR/send-position``: read once at the start, then written after each line."""

    def __init__(self, path: Path, fd: int, saved: SavedPosition | None, sync: bool) -> None:
        self.path = path
        #: what the previous run recorded (``None``: no previous run, or it finished)
        self.saved = saved
        self._fd = fd
        self._sync = sync
        self._counter = 0
        self._identity = InputIdentity()
        self._last_line = -1
        self._synced_at = time.monotonic()

    @classmethod
    def open(cls, directory: str | os.PathLike[str], *, sync: bool) -> PositionFile:
        """Open (or create) the file in *directory*, which the journal has locked.

        :param sync: sync it at most once a second (and its creation at once).
        :raises OSError: if it cannot be read or written.
        """
        path = Path(directory) / POSITION_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            found = [s for s in (_decode(os.pread(fd, _SLOT, i * _SLOT)) for i in (0, 1)) if s]
            saved = max(found, key=lambda s: s[0]) if found else None
            if sync and saved is None:  # a new file: make its name durable
                os.fsync(fd)
                dir_fd = os.open(path.parent, os.O_RDONLY)
                try:
                    os.fsync(dir_fd)
                finally:
                    os.close(dir_fd)
        except BaseException:
            os.close(fd)
            raise
        position = cls(path, fd, saved[1] if saved else None, sync)
        position._counter = saved[0] if saved else 0
        return position

    def start(self, identity: InputIdentity) -> None:
        """Record positions of the input *identity* from now on."""
        self._identity = identity

    def record(self, line: int) -> None:
        """Input lines up to *line* are in the journal (or were passed over)."""
        if line == self._last_line:
            return
        self._last_line = line
        self._counter += 1
        identity = self._identity
        body = _BODY.pack(
            _MAGIC, self._counter, line, identity.device, identity.inode, int(identity.regular)
        )
        slot = body + zlib.crc32(body).to_bytes(4, "little")
        os.pwrite(self._fd, slot, (self._counter % 2) * _SLOT)
        if self._sync:
            now = time.monotonic()
            if now - self._synced_at >= SYNC_INTERVAL:
                os.fdatasync(self._fd)
                self._synced_at = now

    def finish(self) -> None:
        """The input was read to its end and every line has an outcome: forget the
        position, so that the next run starts from the first line."""
        self.close()
        self.path.unlink(missing_ok=True)

    def close(self) -> None:
        """Close, keeping the position for the next run."""
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            if self._sync:
                os.fdatasync(fd)
            os.close(fd)


@dataclass(frozen=True)
class JournalSettings:
    """``send --journal DIR --durability ...``, and the input it reads."""

    directory: str
    durability: Literal["buffered", "interval", "always"] = "buffered"
    identity: InputIdentity = InputIdentity()


def where_to_resume(saved: SavedPosition | None, identity: InputIdentity) -> tuple[int, str | None]:
    """The input lines to pass over because an earlier run accepted them, and a message.

    Only the same regular file (device and inode) is resumed: a stream cannot be told
    from another, and another file starts from its first line (the journal still
    publishes what the earlier run accepted; nothing is lost, lines may repeat).
    """
    if saved is None or saved.line == 0:
        return 0, None
    if identity.regular and saved.identity == identity:
        return saved.line, f"resuming after input line {saved.line:,}, where the last run stopped"
    if not identity.regular and not saved.identity.regular:
        return 0, (
            f"the last run read {saved.line:,} lines of its input stream; this one is read "
            f"from its start (add --skip {saved.line} if it is the same input)"
        )
    return 0, (
        f"the last run stopped after line {saved.line:,} of {saved.identity.describe()}, "
        f"not of this input ({identity.describe()}): reading it from its start"
    )


def read_saved(directory: str | os.PathLike[str]) -> SavedPosition | None:
    """The position recorded in *directory* (``None`` if none), without opening it for
    writing: for looking on from outside, e.g. a test waiting for progress."""
    try:
        data = (Path(directory) / POSITION_FILE).read_bytes()
    except FileNotFoundError:
        return None
    found = [s for s in (_decode(data[i * _SLOT : (i + 1) * _SLOT]) for i in (0, 1)) if s]
    return max(found, key=lambda s: s[0])[1] if found else None
