"""Inputs that used to hang or stall the loop are refused at once (issue #16, items 9, 10)."""

from __future__ import annotations

import math

import pytest

from anyio_eventhubs import EventTooLargeError, RetryOptions, open_streaming_producer
from anyio_eventhubs.testing import InMemoryEventHub


@pytest.mark.parametrize("field", ["delay", "max_delay"])
def test_an_infinite_back_off_is_refused(field: str) -> None:
    with pytest.raises(ValueError, match=f"{field} must be a finite"):
        RetryOptions(**{field: math.inf})  # type: ignore[arg-type]


def test_an_unbounded_attempt_is_still_allowed() -> None:
    assert RetryOptions(try_timeout=math.inf).try_timeout == math.inf


@pytest.mark.anyio
async def test_a_key_that_can_never_fit_is_refused_before_it_is_hashed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import anyio_eventhubs._intake as intake

    hashed: list[str] = []
    from anyio_eventhubs._partitioning import partition_for_key as real

    def spy(key: str, ids: object) -> str:
        hashed.append(key)
        return real(key, ids)  # type: ignore[arg-type]

    monkeypatch.setattr(intake, "partition_for_key", spy)
    hub = InMemoryEventHub(4, max_message_size=64 * 1024)
    async with open_streaming_producer(transport=hub) as producer:
        with pytest.raises(EventTooLargeError):
            await producer.queue_for_send(b"x", partition_key="k" * (8 * 1024 * 1024))
        assert hashed == []
        await producer.queue_for_send(b"x", partition_key="small")
        assert hashed == ["small"]
