"""Appending by copying into a memory map: no system call per record (format version 2).

A ``write`` per accepted event was most of what the journal cost ``queue_for_send``
(about 1.5 µs of the call, most of it the kernel's). Bytes copied into a shared mapping
of the file are in the operating system's page cache once the copy is done, exactly
where a ``write`` puts them: they survive the death of the process (and, as with
``write``, only ``durability="interval"`` or ``"always"`` also survives a power loss:
``sync`` is ``msync``).

- **Space first.** Disk space is reserved with ``posix_fallocate`` in steps of
  :data:`STEP` bytes before anything is copied there, so a full disk is a
  :class:`JournalWriteError` at the append that needs the space (the event is not
  accepted), never a ``SIGBUS``. A segment file is therefore up to :data:`STEP` bytes
  longer than its records while it is active or after a crash (never reserved past the
  segment size, where the store rolls to the next segment, unless one record needs
  it); the free space is zeros. Closing the journal cuts the file back to its records.
- **A copy in three steps.** A record's 4-byte length is copied first, then its body,
  then the rest of its frame head (type and the two checksums). Until the last step the
  head fails its checksum, and only zeros follow the end its length claims: that is how
  ``_tails.classify_tail`` tells a record that the process did not finish (a torn tail,
  dropped) from damage, whatever order ``memcpy`` copies each part's bytes in.
- **Memory.** The mapping is made again at each step, so only the pages written since
  the last step (at most :data:`STEP` bytes) stay mapped and count in the RSS.

Used where ``os.posix_fallocate`` exists (Linux, the BSDs); elsewhere (macOS) the
journal writes each record with ``write`` (format version 1).
"""

from __future__ import annotations

import contextlib
import mmap
import os
import struct
import zlib
from collections.abc import Callable

from . import _format as fmt
from ._errors import JournalWriteError, describe_os_error
from ._format import FRAME_SIZE
from ._segments import Segment
from ._writer import OneEventCopier, SegmentWriter

__all__ = ["STEP", "MappedSegmentWriter", "mapping_available"]

#: bytes of disk space reserved (and mapped) at a time
STEP = 1 << 20
_U32 = struct.Struct("<I")
#: a frame's head after its length: type, body CRC-32, head CRC-32
_REST = struct.Struct("<BII")
#: ``msync`` (``MS_SYNC``) of a whole mapping
_flush: Callable[[mmap.mmap], object] = mmap.mmap.flush


def mapping_available() -> bool:
    """Whether this platform can reserve disk space (``os.posix_fallocate``)."""
    return hasattr(os, "posix_fallocate")


class MappedSegmentWriter(SegmentWriter):
    """A :class:`SegmentWriter` that copies records into a mapping of the segment."""

    version = 2
    #: reserve no further than this (the store's segment size, where it rolls to the
    #: next segment) unless a record needs it
    reserve_until: int | None = None
    _map: mmap.mmap | None = None
    #: bytes of the active segment file reserved (its size on disk)
    _reserved = 0
    #: the process that reserved them
    _owner = -1

    def _retire(self) -> None:
        """Unmap the active segment (rolling to the next: less than a record of free
        space is left at its end)."""
        if self._map is not None:
            self._map.close()
            self._map = None
        self._reserved = 0

    def close(self) -> None:
        """Cut the active segment's file back to its records, and close it.

        Only in the process that reserved the space: a forked child that closes its copy
        of the journal must not cut the file under its parent's mapping (the parent's
        next copy there would be a ``SIGBUS``).
        """
        active = self.active
        reserved = self._reserved
        self._retire()
        if (
            self._fd >= 0
            and active is not None
            and reserved > active.size
            and os.getpid() == self._owner
        ):
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, active.size)
        super().close()

    def _reserve(self, end: int, what: str) -> None:
        """Reserve the file up to at least *end* bytes (a whole :data:`STEP` more) and
        map it again.

        :raises JournalWriteError: if the space cannot be reserved or mapped.
        """
        active = self.active
        assert active is not None
        start = max(self._reserved, active.size)
        size = start + STEP
        if self.reserve_until is not None:
            size = min(size, self.reserve_until)
        size = max(end, size)
        try:
            os.posix_fallocate(self._fd, start, size - start)
            if self._map is not None:
                self._map.close()
                self._map = None
            self._map = mmap.mmap(self._fd, size)
        except OSError as exc:
            raise JournalWriteError(
                f"cannot reserve space in the journal {active.path}: "
                f"{describe_os_error(exc)}; {what} not written",
                active.path,
                exc.errno,
            ) from exc
        self._reserved = size
        self._owner = os.getpid()

    def append(self, data: bytes, what: str) -> None:
        """Copy *data*, one framed record, after the active segment's records.

        :raises JournalWriteError: if there was no room for it (nothing was copied).
        """
        active = self.active
        if active is None or self.broken is not None:
            self._refuse(what)
        if not self.copy_if_reserved(active, data):
            self._reserve(active.size + len(data), what)
            self.copy_if_reserved(active, data)  # (it fits now)

    def copy_if_reserved(self, active: Segment, data: bytes) -> bool:
        # the space is reserved only up to the segment size, and only while the writer
        # is sound and open; the length, the body, then the head's checksums (see the
        # module's docstring)
        pos = active.size
        end = pos + len(data)
        buf = self._map
        if buf is None or end > self._reserved:
            return False
        buf[pos : pos + 4] = data[:4]
        buf[pos + 13 : end] = data[13:]
        buf[pos + 4 : pos + 13] = data[4:13]
        active.size = end
        self._unsynced = True
        return True

    def one_event_copier(self, partition_id: bytes) -> OneEventCopier:
        # encodes as _format.one_event_encoder, copies as append: no bytes of the record
        # are made but its body
        n = len(partition_id)
        pack, head_size = fmt.one_event_layout(partition_id)
        overhead = FRAME_SIZE + head_size
        pack_length = _U32.pack_into
        pack_rest = _REST.pack_into
        frame_head = fmt.FRAME_HEAD_STRUCT.pack
        crc32 = zlib.crc32
        events = fmt.EVENTS

        def copy(active: Segment, seq: int, kind: int, encoded: bytes) -> bool:
            pos = active.size
            size = len(encoded)
            end = pos + overhead + size
            buf = self._map
            if buf is None or end > self._reserved:
                return False
            body = pack(1, n, seq, seq, 1, partition_id, seq, size, kind, n, 0xFFFF, partition_id)
            body += encoded
            length = head_size + size
            pack_length(buf, pos, length)
            buf[pos + FRAME_SIZE : end] = body
            body_crc = crc32(body)
            pack_rest(buf, pos + 4, events, body_crc, crc32(frame_head(length, events, body_crc)))
            active.size = end
            self._unsynced = True
            return True

        return copy

    def append_records(self, data: bytes, what: str) -> None:
        """Copy *data*, framed records one after another, each as :meth:`append` does
        (so that a kill leaves whole records and at most one cut short, as ``write``
        would).

        :raises JournalWriteError: if there was no room for them (nothing was copied).
        """
        active = self.active
        if active is None or self.broken is not None:
            self._refuse(what)
        if active.size + len(data) > self._reserved:
            self._reserve(active.size + len(data), what)
        view = memoryview(data)
        start = pos = active.size
        try:
            while pos - start < len(data):
                at = pos - start
                end = at + FRAME_SIZE + int.from_bytes(view[at : at + 4], "little")
                self.append(bytes(view[at:end]), what)
                pos = active.size
        finally:
            if pos > start:  # (the records copied, if not all)
                active.others.append((start, pos - start))

    def content_crc(self) -> int:
        active = self.active
        assert active is not None
        if self._map is None:  # nothing copied yet: the header alone, in the file
            return super().content_crc()
        with memoryview(self._map) as whole, whole[: active.size] as content:
            return zlib.crc32(content)

    def _sync_now(self) -> None:
        """``msync`` the mapping (the segment's header and what was copied), or, before
        anything was copied, ``fdatasync`` the header."""
        if self._map is None:
            super()._sync_now()
        else:
            _flush(self._map)

    def abandon(self) -> None:
        if self._map is not None:
            with contextlib.suppress(OSError):
                self._map.close()
            self._map = None
        super().abandon()
