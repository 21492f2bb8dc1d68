"""The intake: validation, encoding and routing before an event is queued."""

from __future__ import annotations

import pytest

from anyio_eventhubs import partition_for_key
from anyio_eventhubs._encoding import encode_body
from anyio_eventhubs._intake import _KEY_CACHE_SIZE, Intake

IDS = tuple(str(i) for i in range(32))


def test_keys_route_as_the_service_hashes_them_past_the_cache_bound() -> None:
    intake = Intake("eh", IDS, 1 << 20)
    keys = [f"device-{i}" for i in range(_KEY_CACHE_SIZE * 2 + 7)]
    for _ in range(2):  # second pass: from the cache where it still holds them
        for key in keys:
            pid, item = intake.prepare(b"x", None, key)
            assert pid == partition_for_key(key, IDS)
            assert item.encoded == encode_body(b"x", key)
    assert len(intake._key_partitions) <= _KEY_CACHE_SIZE


def test_a_repeated_key_is_hashed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import anyio_eventhubs._intake as module

    calls: list[str] = []

    def counting(key: str, ids: tuple[str, ...]) -> str:
        calls.append(key)
        return partition_for_key(key, ids)

    monkeypatch.setattr(module, "partition_for_key", counting)
    intake = Intake("eh", IDS, 1 << 20)
    for _ in range(100):
        intake.prepare(b"x", None, "same-key")
    assert calls == ["same-key"]
