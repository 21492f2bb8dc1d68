"""queue_for_send's synchronous cancellation test (``_loop``) raises exactly when anyio's
``checkpoint_if_cancelled`` would: through nested scopes, up to a shielded one, per task,
for a passed deadline; and the public fallback behaves the same."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from anyio_eventhubs import StreamingProducer, open_streaming_producer
from anyio_eventhubs import _loop as loop_module
from anyio_eventhubs._loop import loop_functions
from anyio_eventhubs.testing import InMemoryEventHub

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["fast", "public"])
def check(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run each test with the fast check, and with the public path it falls back to."""
    if request.param == "public":

        def unavailable() -> dict[str, Any]:
            raise RuntimeError("private state not as expected")

        monkeypatch.setattr(loop_module, "_asyncio_fast", unavailable)
        monkeypatch.setattr(loop_module, "_trio_fast", unavailable)
    param: str = request.param
    return param


async def _queue_both(producer: StreamingProducer, body: bytes) -> None:
    await producer.queue_for_send(body)
    await producer.queue_many_for_send([body])


async def test_the_fast_check_is_used_unless_private_state_is_missing(check: str) -> None:
    functions = loop_functions()
    assert (functions.cancel_pending is loop_module._always) == (check == "public")
    assert functions.cancel_pending() == (check == "public")  # the public path: always ask
    assert functions.current_time() == pytest.approx(anyio.current_time(), abs=0.5)


async def test_a_cancelled_outer_scope_cancels_the_call_through_inner_scopes(check: str) -> None:
    async with open_streaming_producer(transport=InMemoryEventHub(1)) as producer:
        await producer.queue_for_send(b"before")  # the task is known to the check
        for many in (False, True):
            with anyio.CancelScope() as outer:
                outer.cancel()
                with anyio.CancelScope(), anyio.CancelScope():
                    if many:
                        await producer.queue_many_for_send([b"never"])
                    else:
                        await producer.queue_for_send(b"never")
            assert outer.cancelled_caught
        assert producer.total_queued_event_count == 1


async def test_a_shielded_scope_inside_a_cancelled_one_still_accepts(check: str) -> None:
    async with open_streaming_producer(transport=InMemoryEventHub(1)) as producer:
        with anyio.CancelScope() as outer:
            outer.cancel()
            with anyio.CancelScope(shield=True):
                await _queue_both(producer, b"shielded")
            await producer.queue_for_send(b"never")
        assert outer.cancelled_caught
        assert producer.total_queued_event_count == 2


async def test_each_task_is_checked_against_its_own_scopes(check: str) -> None:
    async with open_streaming_producer(transport=InMemoryEventHub(1)) as producer:
        cancelled_caught = []

        async def in_a_cancelled_scope() -> None:
            with anyio.CancelScope() as scope:
                scope.cancel()
                await producer.queue_for_send(b"never")
            cancelled_caught.append(scope.cancelled_caught)

        for _ in range(2):  # alternate: this task, another (cancelled), this one again
            await producer.queue_for_send(b"kept")
            async with anyio.create_task_group() as tg:
                tg.start_soon(in_a_cancelled_scope)
        await producer.queue_for_send(b"kept")
        assert cancelled_caught == [True, True]
        assert producer.total_queued_event_count == 3


async def test_a_passed_deadline_cancels_the_call(check: str) -> None:
    async with open_streaming_producer(transport=InMemoryEventHub(1)) as producer:
        with anyio.move_on_after(0) as scope:
            await producer.queue_for_send(b"never")
        assert scope.cancelled_caught
        with anyio.move_on_after(0) as scope:
            await producer.queue_many_for_send([b"never"])
        assert scope.cancelled_caught
        assert producer.total_queued_event_count == 0


async def test_a_cancelled_task_group_cancels_its_tasks_calls(check: str) -> None:
    async with open_streaming_producer(transport=InMemoryEventHub(1)) as producer:
        async with anyio.create_task_group() as tg:
            tg.cancel_scope.cancel()
            await producer.queue_for_send(b"never")
        assert producer.total_queued_event_count == 0
