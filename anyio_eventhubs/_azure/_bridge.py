"""Running azure-eventhub's asyncio client from asyncio or from Trio.

azure-eventhub's client needs an asyncio event loop. :func:`open_bridge` gives a
:class:`Bridge` whose :meth:`~Bridge.run` awaits a coroutine function on that loop:

- under asyncio, the caller's own loop: ``run`` just awaits it;
- under Trio, a new asyncio loop stepped on Trio's own thread (``_stepped``: no second
  thread to hand the GIL to), where the loop allows it; else (Windows, or a CPython
  whose loop lacks what the stepping reads)
- a new asyncio loop in a thread that ``open_bridge`` starts on entry and
  joins on exit (no thread outlives the ``async with``). ``run`` schedules the coroutine
  as a task on that loop and sleeps in Trio until the task is done; cancelling the Trio
  caller cancels the task (again every 0.1 s until it ends) and waits for it to finish,
  so nothing runs on after the call returns. The loop's default executor (DNS look-ups,
  sync credentials) is shut down before the thread ends.
"""

from __future__ import annotations

import asyncio
import selectors
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol, TypeVar

import sniffio

from ._stepped import RECANCEL_INTERVAL, call, can_step, open_stepped_loop, tidy

__all__ = ["Bridge", "open_bridge"]

T = TypeVar("T")


class Bridge(Protocol):
    """Runs coroutine functions on the asyncio loop that runs the azure-eventhub client."""

    @property
    def in_thread(self) -> bool:
        """Whether the loop runs in a thread of its own (under Trio)."""
        ...

    async def run(self, function: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Await ``function(*args)`` on the client's loop and return its result.

        Cancelling the call cancels the coroutine and waits for it to end.
        """
        ...


class _DirectBridge:
    """asyncio: the caller's loop runs the client."""

    in_thread = False

    async def run(self, function: Callable[..., Awaitable[T]], *args: Any) -> T:
        return await function(*args)


class _ThreadBridge:
    """Trio: an asyncio loop in a thread of ours runs the client."""

    in_thread = True

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        import trio  # only needed (and imported) under Trio

        self._trio = trio
        self._loop = loop
        self._token = trio.lowlevel.current_trio_token()

    async def run(self, function: Callable[..., Awaitable[T]], *args: Any) -> T:
        trio = self._trio
        finished = trio.Event()
        tasks: list[asyncio.Task[T]] = []

        def on_done(_: object) -> None:  # on the loop thread, after the task ended
            self._token.run_sync_soon(finished.set)

        def start() -> None:  # on the loop thread
            task = self._loop.create_task(call(function, args))
            task.add_done_callback(on_done)
            tasks.append(task)

        def cancel() -> None:  # on the loop thread, always after start()
            if not tasks[0].done():
                tasks[0].cancel()

        self._loop.call_soon_threadsafe(start)
        try:
            await finished.wait()
        except BaseException:
            # cancelled (or interrupted): stop the task and wait for it, shielded. Cancel
            # again while it runs on, as anyio does on asyncio: Python 3.11's wait_for()
            # (which the AMQP client uses for every socket read) can swallow a
            # cancellation that races with its inner future completing.
            with trio.CancelScope(shield=True):
                while not finished.is_set():
                    self._loop.call_soon_threadsafe(cancel)
                    with trio.move_on_after(RECANCEL_INTERVAL):
                        await finished.wait()
            if not tasks[0].cancelled():
                tasks[0].exception()  # mark the outcome retrieved; it no longer matters
            raise
        task = tasks[0]
        if task.cancelled():
            raise RuntimeError("the azure-eventhub call was cancelled on its event loop")
        return task.result()


def _run_loop(loop: asyncio.AbstractEventLoop, on_exit: Callable[[], None]) -> None:
    """The bridge thread: run *loop* until stopped, then tidy and close it."""
    try:
        asyncio.set_event_loop(loop)
        loop.run_forever()
        loop.run_until_complete(tidy(loop))
    finally:
        asyncio.set_event_loop(None)
        loop.close()
        on_exit()


@asynccontextmanager
async def open_bridge() -> AsyncIterator[Bridge]:
    """Yield a bridge to an asyncio loop (see the module docstring)."""
    if sniffio.current_async_library() == "asyncio":
        yield _DirectBridge()
        return
    import trio  # only needed (and imported) under Trio

    selector: Any = selectors.DefaultSelector()
    stepped = asyncio.SelectorEventLoop(selector)
    if can_step(stepped, selector):
        async with open_stepped_loop(stepped, selector.fileno()) as stepped_bridge:
            yield stepped_bridge
        return
    stepped.close()
    loop = asyncio.new_event_loop()
    token = trio.lowlevel.current_trio_token()
    stopped = trio.Event()
    thread = threading.Thread(
        target=_run_loop,
        args=(loop, lambda: token.run_sync_soon(stopped.set)),
        name="anyio-eventhubs asyncio bridge",
        daemon=True,
    )
    try:
        bridge = _ThreadBridge(loop)
        thread.start()
    except BaseException:
        loop.close()
        raise
    try:
        yield bridge
    finally:
        loop.call_soon_threadsafe(loop.stop)
        with trio.CancelScope(shield=True):
            await stopped.wait()
        thread.join()  # it has nothing left to do but return
