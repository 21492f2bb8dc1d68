"""The client's asyncio loop runs on the caller's thread on both backends (stepped under
Trio): timers, executor threads, sniffio, a cancelled caller's clean-up, leftovers."""

from __future__ import annotations

import asyncio
import selectors
import sys
import threading

import anyio
import pytest
import sniffio

from anyio_eventhubs._azure._bridge import open_bridge
from anyio_eventhubs._azure._stepped import can_step

pytestmark = pytest.mark.anyio


async def where() -> tuple[int, str]:
    asyncio.get_running_loop()  # raises unless this runs on an asyncio loop
    return threading.get_ident(), sniffio.current_async_library()


async def test_the_loop_runs_on_the_callers_thread_and_names_asyncio(backend_name: str) -> None:
    async with open_bridge() as bridge:
        thread, library = await bridge.run(where)
        assert sniffio.current_async_library() == backend_name  # restored after the step
    assert not bridge.in_thread
    assert thread == threading.get_ident()
    assert library == "asyncio"


async def sleep_then(seconds: float, result: str) -> str:
    await asyncio.sleep(seconds)
    return result


async def test_a_timer_on_the_loop_wakes_it() -> None:
    async with open_bridge() as bridge:
        with anyio.fail_after(5):
            assert await bridge.run(sleep_then, 0.02, "slept") == "slept"


async def test_a_result_from_an_executor_thread_wakes_the_loop() -> None:
    async def in_executor() -> threading.Thread:
        return await asyncio.get_running_loop().run_in_executor(None, threading.current_thread)

    async with open_bridge() as bridge:
        with anyio.fail_after(5):
            worker = await bridge.run(in_executor)
    assert worker is not threading.current_thread()


async def test_a_cancelled_callers_shielded_clean_up_still_runs_on_the_loop() -> None:
    with anyio.CancelScope() as outer:
        async with open_bridge() as bridge:
            outer.cancel()  # cancels everything in the block, the loop's stepping excepted
            with anyio.CancelScope(shield=True), anyio.fail_after(5):
                result = await bridge.run(sleep_then, 0.01, "closed")
            await anyio.lowlevel.checkpoint()  # the cancellation was in effect all along
    assert result == "closed"
    assert outer.cancelled_caught


async def test_tasks_left_on_the_loop(backend_name: str) -> None:
    state: list[str] = []

    async def linger() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            state.append("cancelled")
            raise

    async def start_lingering() -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(linger())
        await asyncio.sleep(0)  # let it start waiting
        return task

    async with open_bridge() as bridge:
        task = await bridge.run(start_lingering)
    if backend_name == "trio":
        # the bridge's own loop: cancelled and waited for on the way out, then closed
        assert state == ["cancelled"]
        assert task.done()
    else:
        # the caller's loop: its tasks are the caller's
        assert state == []
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert state == ["cancelled"]


def test_no_stepping_on_a_thread_where_an_asyncio_loop_runs() -> None:
    # e.g. Trio as a guest of asyncio: asyncio would refuse to run a second loop there
    selector = selectors.DefaultSelector()
    loop = asyncio.SelectorEventLoop(selector)
    try:

        async def from_a_running_loop() -> bool:
            return can_step(loop, selector)

        assert not asyncio.run(from_a_running_loop())
        assert can_step(loop, selector) is (sys.platform != "win32")
    finally:
        loop.close()
