"""Under Trio: azure-eventhub's asyncio loop, stepped on Trio's own thread.

A loop in a thread of its own (``_bridge._ThreadBridge``) hands the GIL to and from
Trio's thread for every send and acknowledgement. On two cores the two threads then take
turns on different cores, and each turn starts on caches the other core holds: the same
work cost the two threads about a third more CPU than when both were pinned to one core
(``benchmarks/trio_bridge.py``), and Trio sent 0.8x of asyncio's events per second.

So under Trio the loop runs here, on Trio's thread, one iteration at a time: a Trio task
(the driver) calls ``loop.stop(); loop.run_forever()`` (asyncio's documented way to poll
the selector once, with a zero timeout, and run what is ready), then sleeps in Trio until
the loop's selector has an event (its fd is readable: sockets, and the self-pipe that
``call_soon_threadsafe`` from the default executor writes to), its next timer is due, or
:meth:`SteppedBridge.run` has given it a task. While a step runs, sniffio names asyncio.

It reads two attributes of CPython's selector event loop (``_ready``, the callbacks due
now, and ``_scheduled``, the timers); :func:`can_step` checks for them, and without them,
on Windows (whose Trio cannot wait on a selector's fd), or where an asyncio loop already
runs on the thread (Trio in guest mode on asyncio), the thread bridge is used.
"""

from __future__ import annotations

import asyncio
import selectors
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sized
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import sniffio

__all__ = ["RECANCEL_INTERVAL", "SteppedBridge", "call", "can_step", "open_stepped_loop", "tidy"]

T = TypeVar("T")

#: seconds between two cancellations of an asyncio task that has not ended yet
RECANCEL_INTERVAL = 0.1


def can_step(loop: asyncio.AbstractEventLoop, selector: selectors.BaseSelector) -> bool:
    """Whether *loop* exposes what the driver reads, Trio can wait on *selector*, and no
    asyncio loop runs on this thread already (Trio as a guest of asyncio, for example)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        return False
    return (
        sys.platform != "win32"
        and callable(getattr(selector, "fileno", None))
        and isinstance(getattr(loop, "_ready", None), Sized)
        and isinstance(getattr(loop, "_scheduled", None), list)
    )


class SteppedBridge:
    """Trio: runs coroutine functions on an asyncio loop stepped on Trio's thread."""

    in_thread = False

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        import trio  # only needed (and imported) under Trio

        self._trio = trio
        self._loop = loop
        self._kick: Callable[[], object] = _nothing
        self._driving = trio.CancelScope()
        self.ended = trio.Event()

    async def run(self, function: Callable[..., Awaitable[T]], *args: Any) -> T:
        trio = self._trio
        finished = trio.Event()
        task = self._loop.create_task(call(function, args))
        task.add_done_callback(lambda _: finished.set())
        self._kick()
        try:
            await finished.wait()
        except BaseException:
            # cancelled (or interrupted): stop the task and wait for it, shielded; cancel
            # again while it runs on (see _bridge._ThreadBridge.run for why)
            with trio.CancelScope(shield=True):
                while not finished.is_set():
                    task.cancel()
                    self._kick()
                    with trio.move_on_after(RECANCEL_INTERVAL):
                        await finished.wait()
            if not task.cancelled():
                task.exception()  # mark the outcome retrieved; it no longer matters
            raise
        if task.cancelled():
            raise RuntimeError("the azure-eventhub call was cancelled on its event loop")
        return task.result()

    async def drive(self, selector_fd: int) -> None:
        """Step the loop until :meth:`stop`, then set :attr:`ended`.

        A Trio system task runs it: outside the caller's cancel scopes (the calls that a
        cancelled caller makes in its own shielded clean-up still need the loop), and
        outside its nurseries (whose exception groups would wrap the caller's errors).
        """
        try:
            with self._driving:
                await self._step_forever(selector_fd)
        finally:
            self.ended.set()

    def stop(self) -> None:
        """End :meth:`drive`."""
        self._driving.cancel()

    async def _step_forever(self, selector_fd: int) -> None:
        trio, loop, state = self._trio, self._loop, sniffio.thread_local
        ready: Any = getattr(loop, "_ready")  # noqa: B009 (checked by can_step)
        scheduled: list[asyncio.TimerHandle] = getattr(loop, "_scheduled")  # noqa: B009
        while True:
            named, state.name = state.name, "asyncio"
            try:
                loop.stop()
                loop.run_forever()  # one iteration with a zero timeout
            finally:
                state.name = named
            if ready:
                await trio.lowlevel.checkpoint()
                continue
            with trio.CancelScope() as scope:
                if scheduled:
                    scope.deadline = trio.current_time() + max(
                        0.0, scheduled[0].when() - loop.time()
                    )
                self._kick = scope.cancel
                try:
                    await trio.lowlevel.wait_readable(selector_fd)
                finally:
                    self._kick = _nothing


def _nothing() -> None:
    pass


async def call(function: Callable[..., Awaitable[T]], args: tuple[Any, ...]) -> T:
    return await function(*args)


@asynccontextmanager
async def open_stepped_loop(
    loop: asyncio.SelectorEventLoop, selector_fd: int
) -> AsyncIterator[SteppedBridge]:
    """Step *loop* (whose selector's fd is *selector_fd*) while inside; then tidy and
    close it."""
    import trio

    bridge = SteppedBridge(loop)
    try:
        trio.lowlevel.spawn_system_task(bridge.drive, selector_fd, name="asyncio loop steps")
    except BaseException:
        loop.close()
        raise
    try:
        yield bridge
    finally:
        with trio.CancelScope(shield=True):
            try:
                await bridge.run(tidy, loop)
            finally:
                bridge.stop()
                await bridge.ended.wait()
        trio.lowlevel.notify_closing(selector_fd)
        loop.close()


async def tidy(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel the tasks left on *loop*, wait for them, and shut down its async
    generators and executor (on the loop, stepped or in its thread, before it closes)."""
    current = asyncio.current_task()
    leftovers = [t for t in asyncio.all_tasks(loop) if t is not current and not t.done()]
    for task in leftovers:
        task.cancel()
    if leftovers:
        await asyncio.gather(*leftovers, return_exceptions=True)
    await loop.shutdown_asyncgens()
    await loop.shutdown_default_executor()
    # a transport closed by those cancellations closes its socket in a callback of the
    # next iterations: run them before the loop stops (else the socket is left to the
    # garbage collector, with a ResourceWarning)
    for _ in range(3):
        await asyncio.sleep(0)
    # a transport still open now would be left to the collector once the loop closes (a
    # TLS or websocket close that needs more round trips, a connection its client never
    # closed): everything on this loop was the closed client's, so abort it, and let the
    # loop run the callback that closes its socket
    left = _open_transports(loop)
    for transport in left:
        transport.abort()
    if left:
        for _ in range(2):
            await asyncio.sleep(0)


def _open_transports(loop: asyncio.AbstractEventLoop) -> list[asyncio.Transport]:
    """The transports whose sockets *loop*'s selector still watches (read or write)."""
    selector = getattr(loop, "_selector", None)
    if selector is None:
        return []
    found: dict[int, asyncio.Transport] = {}
    for key in list(selector.get_map().values()):
        for handle in key.data or ():  # (reader, writer) handles of a selector event loop
            owner = getattr(getattr(handle, "_callback", None), "__self__", None)
            if isinstance(owner, asyncio.Transport):  # (not the loop's own self-pipe)
                found[id(owner)] = owner
    return list(found.values())
