"""Idempotent publishing's state, per partition, beside the journal (issue #10 item 4).

With ``enable_idempotent_retries=True`` and a journal, a restarted producer must attach
as the producer it was (same producer id and epoch) and re-send the batch whose
acknowledgement died with it with the same sequence numbers and boundaries
(``docs/idempotent-publishing.md``, "Resuming a producer group after a restart"). A
partition has at most one batch in flight then (idempotence needs
``max_concurrent_sends_per_partition=1``), and every event before it has its outcome, so
the state of a partition is small and fixed in size: the producer id and epoch, and the
batch last numbered (the identity of its first event, how many events, its first
sequence number).

One file per partition, ``publishing-<hex of the partition id>.state``, of two 128-byte
slots written alternately, each a journal frame (``PRODUCER_STATE``, with its CRCs) whose
body is::

    counter u64, producer id i64, epoch i64, has batch u8,
    batch generation u64, batch first seq u64, batch count u32, batch sequence number i64

The slot with the higher counter that reads whole wins, so a write torn by a crash (or
by a power loss, with ``durability`` other than ``"buffered"``, which syncs each write)
leaves the previous state. Written before the batch leaves the process.
"""

from __future__ import annotations

import contextlib
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from ._errors import JournalCorruptError, JournalWriteError, describe_os_error
from ._format import PRODUCER_STATE, DamagedError, frame, read_frame

__all__ = ["PublishingStateFiles", "SentBatch", "StoredPublishing"]

_SLOT = 128
_fdatasync = getattr(os, "fdatasync", os.fsync)
_BODY = struct.Struct("<QqqBQQIq")
_PREFIX = "publishing-"
_SUFFIX = ".state"


@dataclass(frozen=True, slots=True)
class SentBatch:
    """A batch numbered for the service: ``count`` events from the event ``first_seq`` of
    ``generation`` on (its first event's identity in the journal), starting at the
    publishing sequence number ``sequence_number``."""

    generation: int
    first_seq: int
    count: int
    sequence_number: int


@dataclass(frozen=True, slots=True)
class StoredPublishing:
    """A partition's idempotent identity, and the batch it numbered last."""

    producer_id: int
    epoch: int
    batch: SentBatch | None


def _encode(counter: int, state: StoredPublishing) -> bytes:
    b = state.batch
    body = _BODY.pack(
        counter,
        state.producer_id,
        state.epoch,
        b is not None,
        *((b.generation, b.first_seq, b.count, b.sequence_number) if b else (0, 0, 0, 0)),
    )
    return frame(PRODUCER_STATE, body).ljust(_SLOT, b"\0")


def _decode(slot: bytes) -> tuple[int, StoredPublishing] | None:
    try:
        read = read_frame(slot, 0)
    except DamagedError:
        return None
    if read is None or read[0] != PRODUCER_STATE or len(read[1]) != _BODY.size:
        return None
    counter, producer_id, epoch, has_batch, gen, first, count, number = _BODY.unpack(read[1])
    batch = SentBatch(gen, first, count, number) if has_batch else None
    return counter, StoredPublishing(producer_id, epoch, batch)


class PublishingStateFiles:
    """The publishing state files of one journal directory (opened by its store's owner,
    under the journal's lock). Not thread-safe.

    :param sync: ``fdatasync`` each write (durabilities ``"interval"`` and ``"always"``).
    """

    def __init__(self, directory: Path, *, sync: bool) -> None:
        self.directory = directory
        self._sync = sync
        self._fds: dict[str, int] = {}
        self._counters: dict[str, int] = {}

    def _path(self, partition_id: str) -> Path:
        return self.directory / f"{_PREFIX}{partition_id.encode('utf-8').hex()}{_SUFFIX}"

    def load(self, *, quarantine_damaged: bool = False) -> dict[str, StoredPublishing]:
        """Every partition's stored state.

        :raises JournalCorruptError: if neither slot of a file reads whole (unless
            *quarantine_damaged*: then the file is moved into ``quarantine/``).
        """
        states: dict[str, StoredPublishing] = {}
        for path in sorted(self.directory.glob(f"{_PREFIX}*{_SUFFIX}")):
            try:
                pid = bytes.fromhex(path.name[len(_PREFIX) : -len(_SUFFIX)]).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                continue  # not one of ours
            data = path.read_bytes()
            slots = [_decode(data[i : i + _SLOT]) for i in (0, _SLOT)]
            best = max((s for s in slots if s is not None), default=None, key=lambda s: s[0])
            if best is None:
                if not data:
                    continue  # created, never written: the process died at once
                if not quarantine_damaged:
                    raise JournalCorruptError(
                        "the idempotent publishing state is damaged in both copies", path, 0
                    )
                quarantine = self.directory / "quarantine"
                quarantine.mkdir(exist_ok=True)
                path.rename(quarantine / path.name)
                continue
            self._counters[pid] = best[0]
            states[pid] = best[1]
        return states

    def write(self, partition_id: str, state: StoredPublishing) -> None:
        """Store *state* for *partition_id* (returns once written; synced if asked).

        :raises JournalWriteError: if it could not be written.
        """
        path = self._path(partition_id)
        counter = self._counters.get(partition_id, 0) + 1
        try:
            fd = self._fds.get(partition_id)
            if fd is None:
                fd = self._fds[partition_id] = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            os.pwrite(fd, _encode(counter, state), ((counter - 1) % 2) * _SLOT)
            if self._sync:
                _fdatasync(fd)
        except OSError as exc:
            raise JournalWriteError(
                f"cannot write the idempotent publishing state {path}: {describe_os_error(exc)}",
                path,
                exc.errno,
            ) from exc
        self._counters[partition_id] = counter

    def close(self) -> None:
        for fd in self._fds.values():
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds.clear()
