"""Where an event goes: the service's partition-key hash and round robin.

Pure code: no I/O, no anyio. The hash is Bob Jenkins' lookup3 ``hashlittle2`` over the
UTF-8 bytes of the key, exactly as the Event Hubs gateway and the .NET, JavaScript and
Rust SDKs compute it (not as azure-eventhub for Python does: it hashes code points and
reduces with a floored ``%``, which sends about a third of keys elsewhere).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

__all__ = ["RoundRobin", "hash_partition_key", "partition_for_key"]

_MASK = 0xFFFFFFFF


def _rot(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & _MASK


def _mix(a: int, b: int, c: int) -> tuple[int, int, int]:
    a = (a - c) & _MASK
    a ^= _rot(c, 4)
    c = (c + b) & _MASK
    b = (b - a) & _MASK
    b ^= _rot(a, 6)
    a = (a + c) & _MASK
    c = (c - b) & _MASK
    c ^= _rot(b, 8)
    b = (b + a) & _MASK
    a = (a - c) & _MASK
    a ^= _rot(c, 16)
    c = (c + b) & _MASK
    b = (b - a) & _MASK
    b ^= _rot(a, 19)
    a = (a + c) & _MASK
    c = (c - b) & _MASK
    c ^= _rot(b, 4)
    b = (b + a) & _MASK
    return a, b, c


def _final(a: int, b: int, c: int) -> tuple[int, int, int]:
    c ^= b
    c = (c - _rot(b, 14)) & _MASK
    a ^= c
    a = (a - _rot(c, 11)) & _MASK
    b ^= a
    b = (b - _rot(a, 25)) & _MASK
    c ^= b
    c = (c - _rot(b, 16)) & _MASK
    a ^= c
    a = (a - _rot(c, 4)) & _MASK
    b ^= a
    b = (b - _rot(a, 14)) & _MASK
    c ^= b
    c = (c - _rot(b, 24)) & _MASK
    return a, b, c


def _hashlittle2(data: bytes) -> tuple[int, int]:
    length = len(data)
    a = b = c = (0xDEADBEEF + length) & _MASK
    offset = 0
    while length - offset > 12:
        a = (a + int.from_bytes(data[offset : offset + 4], "little")) & _MASK
        b = (b + int.from_bytes(data[offset + 4 : offset + 8], "little")) & _MASK
        c = (c + int.from_bytes(data[offset + 8 : offset + 12], "little")) & _MASK
        a, b, c = _mix(a, b, c)
        offset += 12
    if offset == length:  # only an empty key gets here
        return c, b
    tail = data[offset:].ljust(12, b"\0")
    a = (a + int.from_bytes(tail[0:4], "little")) & _MASK
    b = (b + int.from_bytes(tail[4:8], "little")) & _MASK
    c = (c + int.from_bytes(tail[8:12], "little")) & _MASK
    a, b, c = _final(a, b, c)
    return c, b


def hash_partition_key(partition_key: str) -> int:
    """Return the service's signed 16-bit hash of *partition_key*."""
    c, b = _hashlittle2(partition_key.encode("utf-8"))
    h = (c ^ b) & 0xFFFF
    return h - 0x10000 if h >= 0x8000 else h


def partition_for_key(partition_key: str, partition_ids: Sequence[str]) -> str:
    """Return the id of the partition that Event Hubs assigns *partition_key* to.

    :param partition_key: the key, hashed as its UTF-8 bytes.
    :param partition_ids: the hub's partition ids, in the order the service lists them.
    :raises TypeError: if *partition_key* is not a ``str``.
    :raises ValueError: if *partition_ids* is empty.
    """
    if not isinstance(partition_key, str):
        raise TypeError(f"partition_key must be a str, got {type(partition_key).__name__}")
    if isinstance(partition_ids, str) or not partition_ids:
        raise ValueError(
            f"partition_ids must be a non-empty sequence of partition ids, got {partition_ids!r}"
        )
    # abs() then the truncated remainder, as C#, Java and JavaScript compute it; abs() makes
    # the operand non-negative, so Python's floored % gives the same answer here.
    return partition_ids[abs(hash_partition_key(partition_key)) % len(partition_ids)]


class RoundRobin:
    """Hands out partition ids in turn, for events with neither an id nor a key.

    :meth:`next` is an :func:`itertools.cycle`'s ``__next__``: no Python code per event.
    """

    __slots__ = ("_ids", "_index", "next")

    def __init__(self, partition_ids: Sequence[str]) -> None:
        if not partition_ids:
            raise ValueError("RoundRobin needs at least one partition id")
        self._ids = tuple(partition_ids)
        #: where each id is in turn (ids are distinct)
        self._index = {pid: i for i, pid in enumerate(self._ids)}
        #: return the next partition id
        self.next: Callable[[], str] = itertools.cycle(self._ids).__next__

    def take(self, count: int) -> tuple[str, ...]:
        """Hand out *count* ids at once: return every id in turn, starting with the next
        one (the *i*-th of the *count* goes to ``ids[i % len(ids)]``)."""
        ids = self._ids
        if count <= 0:
            return ids  # (nothing is handed out; the turn does not move)
        first = self.next()
        for _ in range((count - 1) % len(ids)):
            self.next()
        start = self._index[first]
        return ids[start:] + ids[:start]
