"""The partition-key hash matches the service (lookup3 over UTF-8, truncated remainder)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anyio_eventhubs import partition_for_key
from anyio_eventhubs._partitioning import RoundRobin, hash_partition_key


def reference_hash16(key: str) -> int:
    """An independent, literal transcription of lookup3 hashlittle2 (seeds 0) for the tests."""
    data = key.encode("utf-8")
    m = 0xFFFFFFFF

    def rot(x: int, k: int) -> int:
        return ((x << k) | (x >> (32 - k))) & m

    a = b = c = (0xDEADBEEF + len(data)) & m
    i, n = 0, len(data)
    while n > 12:
        a = (a + data[i] + (data[i + 1] << 8) + (data[i + 2] << 16) + (data[i + 3] << 24)) & m
        b = (b + data[i + 4] + (data[i + 5] << 8) + (data[i + 6] << 16) + (data[i + 7] << 24)) & m
        c = (c + data[i + 8] + (data[i + 9] << 8) + (data[i + 10] << 16) + (data[i + 11] << 24)) & m
        for x, y, z, r in (
            ("a", "c", "b", 4),
            ("b", "a", "c", 6),
            ("c", "b", "a", 8),
            ("a", "c", "b", 16),
            ("b", "a", "c", 19),
            ("c", "b", "a", 4),
        ):
            v = {"a": a, "b": b, "c": c}
            v[x] = (v[x] - v[y]) & m
            v[x] ^= rot(v[y], r)
            v[y] = (v[y] + v[z]) & m
            a, b, c = v["a"], v["b"], v["c"]
        i += 12
        n -= 12
    if n == 0:
        h = (c ^ b) & 0xFFFF
        return h - 0x10000 if h & 0x8000 else h
    tail = data[i:] + bytes(12 - n)
    a = (a + int.from_bytes(tail[0:4], "little")) & m
    b = (b + int.from_bytes(tail[4:8], "little")) & m
    c = (c + int.from_bytes(tail[8:12], "little")) & m
    for x, y, r in (
        ("c", "b", 14),
        ("a", "c", 11),
        ("b", "a", 25),
        ("c", "b", 16),
        ("a", "c", 4),
        ("b", "a", 14),
        ("c", "b", 24),
    ):
        v = {"a": a, "b": b, "c": c}
        v[x] ^= v[y]
        v[x] = (v[x] - rot(v[y], r)) & m
        a, b, c = v["a"], v["b"], v["c"]
    h = (c ^ b) & 0xFFFF
    return h - 0x10000 if h & 0x8000 else h


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("7", -15263),
        ("131", 30562),
        ("7149583486996073602", 12977),
        ("FWfAT", -22341),
        ("sOdeEAsyQoEuEFPGerWO", -6503),
        ("$0cb", 26269),
    ],
)
def test_hash_matches_the_dotnet_sdk_vectors(key: str, expected: int) -> None:
    assert hash_partition_key(key) == expected


@pytest.mark.parametrize(("count", "index"), [(3, 0), (11, 4)])
def test_partition_matches_the_javascript_sdk_vectors(count: int, index: int) -> None:
    ids = [str(i) for i in range(count)]
    assert partition_for_key("alphabet", ids) == str(index)


@pytest.mark.parametrize(
    "key",
    [
        "",
        "x" * 12,
        "y" * 24,
        "abcdefghijkl",
        "abcdefghijklmnopqrstuvwx",
        "é",
        "日本語のキー",
        "ключ-12-байт",
        "🔑" * 3,
        "ü" * 6,
        "a" * 13,
    ],
)
def test_hash_of_block_multiples_and_non_ascii_keys(key: str) -> None:
    assert hash_partition_key(key) == reference_hash16(key)


def test_empty_key_hashes_to_zero() -> None:
    assert hash_partition_key("") == 0


@given(st.text(max_size=60))
def test_hash_agrees_with_the_reference_for_any_key(key: str) -> None:
    assert hash_partition_key(key) == reference_hash16(key)


@given(st.text(min_size=1, max_size=40), st.integers(min_value=1, max_value=64))
def test_index_is_the_truncated_remainder_of_abs_hash(key: str, count: int) -> None:
    ids = [f"p{i}" for i in range(count)]
    assert partition_for_key(key, ids) == ids[abs(reference_hash16(key)) % count]


def test_index_differs_from_a_floored_remainder_of_the_signed_hash() -> None:
    # the official Python SDK's mistake: floored % of the negative hash
    key = "7"  # hash16 = -15263
    ids = [str(i) for i in range(5)]
    assert partition_for_key(key, ids) == str(15263 % 5)
    assert (-15263) % 5 != 15263 % 5


def test_partition_ids_order_is_the_services() -> None:
    ids = ["b", "a", "c"]
    assert partition_for_key("alphabet", ids) == "b"


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(TypeError, match="partition_key must be a str"):
        partition_for_key(b"k", ["0"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="non-empty"):
        partition_for_key("k", [])


def test_round_robin_cycles_through_ids() -> None:
    rr = RoundRobin(["0", "1", "2"])
    assert [rr.next() for _ in range(7)] == ["0", "1", "2", "0", "1", "2", "0"]
