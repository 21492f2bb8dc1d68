"""What the store knows of one segment file while it runs, and small naming helpers."""

from __future__ import annotations

import contextlib
from pathlib import Path

from azure.eventhub import EventData

from . import _format as fmt
from ._ranges import RangeSet

__all__ = ["Segment", "kind_of", "remove_segment", "segment_name", "segment_number"]

_SUFFIX = ".seg"
_KINDS: dict[type, int] = {bytes: fmt.KIND_BYTES, str: fmt.KIND_STR, EventData: fmt.KIND_EVENT_DATA}


def segment_name(number: int) -> str:
    return f"{number:016d}{_SUFFIX}"


def segment_number(name: str) -> int | None:
    stem = name.removesuffix(_SUFFIX)
    if stem == name or len(stem) != 16 or not stem.isdigit():
        return None
    return int(stem)


def remove_segment(path: Path) -> None:
    """Delete a segment file and its index (``_index``), if they exist."""
    for file in (path, path.with_suffix(".idx")):
        with contextlib.suppress(FileNotFoundError):
            file.unlink()


def kind_of(event: object) -> int:
    """The journal's code for what ``queue_for_send`` was given."""
    kind = _KINDS.get(type(event))
    if kind is not None:
        return kind
    if isinstance(event, bytes):
        return fmt.KIND_BYTES
    if isinstance(event, str):
        return fmt.KIND_STR
    if isinstance(event, EventData):
        return fmt.KIND_EVENT_DATA
    raise TypeError(f"event must be EventData, bytes or str, got {type(event).__name__}")


class Segment:
    """A segment file: its generation, size, and per partition the range of sequence
    numbers of its events (``[first, last + 1)``)."""

    __slots__ = ("generation", "number", "others", "path", "ranges", "size")

    def __init__(self, path: Path, number: int, generation: int, size: int = 0) -> None:
        self.path = path
        self.number = number
        self.generation = generation
        self.size = size
        self.ranges: dict[str, list[int]] = {}
        #: where records other than events were appended here: ``(offset, length)``
        #: (written into its index, ``_index``, when the store rolls past it)
        self.others: list[tuple[int, int]] = []

    def __repr__(self) -> str:
        return f"<Segment {self.path.name} generation={self.generation} size={self.size}>"

    def note(self, partition_id: str, seq: int) -> bool:
        """Record an event; ``False`` if it is not after the partition's last one here."""
        span = self.ranges.get(partition_id)
        if span is None:
            self.ranges[partition_id] = [seq, seq + 1]
            return True
        if seq < span[1]:
            return False
        span[1] = seq + 1
        return True

    def resolved(self, resolved: dict[tuple[int, str], RangeSet]) -> bool:
        """Whether every event in the segment has its outcome."""
        gen = self.generation
        for pid, (first, end) in self.ranges.items():
            done = resolved.get((gen, pid))
            if done is None or not done.covers(first, end):
                return False
        return True
