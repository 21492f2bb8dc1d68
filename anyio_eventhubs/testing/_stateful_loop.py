"""The state machine's event loop: a blocking portal, and letting the loop settle.

A base class of :class:`~anyio_eventhubs.testing.stateful.StreamingProducerStateMachine`:
how the machine's synchronous rules run code on the producer's event loop, wait until
every task is blocked, and move a frozen Trio ``MockClock``.
"""

from __future__ import annotations

import asyncio
import inspect
import math
from concurrent.futures import Future
from typing import Any, ClassVar

import anyio
from anyio.from_thread import BlockingPortal
from hypothesis.stateful import RuleBasedStateMachine

from ._stateful_model import _is_blocked

__all__ = ["LoopDriver"]


class LoopDriver(RuleBasedStateMachine):
    """Runs code on the machine's event loop (the subclass sets the attributes)."""

    backend: ClassVar[str]
    backend_options: ClassVar[dict[str, Any] | None]
    settle_limit: ClassVar[int]
    clock_step: ClassVar[float]
    max_clock_steps: ClassVar[int]
    portal: BlockingPortal
    #: the event loop's clock, when it is a frozen Trio MockClock the rules move
    clock: Any

    def make_backend_options(self) -> dict[str, Any] | None:
        """The backend options for this example's event loop (default: :attr:`backend_options`).

        Override it for a fresh object per example. On Trio, a frozen
        ``trio.testing.MockClock()`` (rate 0, no autojump) puts the producer on virtual
        time that only the ``advance_clock`` rule (and waiting for ``flush()`` or
        ``aclose()``) moves: ``max_wait_time`` deadlines, retry back-offs and
        ``try_timeout`` then run deterministically.
        """
        return self.backend_options

    def _find_frozen_clock(self) -> Any:
        if self.backend != "trio":
            return None
        import trio.testing  # only on the trio backend

        clock = trio.lowlevel.current_clock()
        if (
            isinstance(clock, trio.testing.MockClock)
            and clock.rate == 0
            and clock.autojump_threshold == math.inf
        ):
            return clock
        return None

    async def _finish_on_loop(self, func: Any, *args: Any) -> Any:
        """Await ``func(*args)``; on a frozen clock, jump it while that waits on time."""
        result: list[Any] = []

        async def run() -> None:
            result.append(await func(*args))

        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            await self.settle()
            steps = 0
            while not result and self.clock is not None:
                assert steps < self.max_clock_steps, (
                    f"{func!r} did not return within {steps} jumps of the clock"
                )
                self.clock.jump(self.clock_step)
                steps += 1
                await self.settle()
        await self.settle()
        return result[0]

    def finish_on_loop(self, func: Any, *args: Any) -> Any:
        """Call the async *func* on the event loop until it returns (moving a frozen clock)."""
        return self.portal.call(self._finish_on_loop, func, *args)

    def _wait_future(self, future: Future[Any]) -> Any:
        """Wait for a task started with ``portal.start_task_soon`` (moving a frozen clock)."""
        self.portal.call(self.settle)
        steps = 0
        while not future.done() and self.clock is not None:
            assert steps < self.max_clock_steps, f"a task did not finish in {steps} clock jumps"
            self.run_on_loop(self.clock.jump, self.clock_step)
            steps += 1
        return future.result()

    async def settle(self) -> None:
        """Return once every other task of the event loop is blocked.

        On Trio this is ``anyio.wait_all_tasks_blocked()``; on asyncio, anyio's version
        sleeps 0.1 s whenever a task is runnable, so this polls at each loop iteration.
        """
        if self.backend == "trio":
            await anyio.wait_all_tasks_blocked()
            return
        this = asyncio.current_task()
        for _ in range(self.settle_limit):
            await asyncio.sleep(0)
            if all(task is this or _is_blocked(task) for task in asyncio.all_tasks()):
                return
        raise AssertionError(f"the event loop did not settle in {self.settle_limit} iterations")

    def _count_tasks(self) -> int:
        if self.backend == "trio":
            import trio  # only on the trio backend

            def count(task: trio.lowlevel.Task) -> int:
                children = [c for nursery in task.child_nurseries for c in nursery.child_tasks]
                return 1 + sum(count(child) for child in children)

            root = trio.lowlevel.current_root_task()
            assert root is not None
            return count(root)
        return len(asyncio.all_tasks())

    async def _call_and_settle(self, func: Any, *args: Any) -> Any:
        result = func(*args)
        if inspect.isawaitable(result):
            result = await result
        await self.settle()
        return result

    def run_on_loop(self, func: Any, *args: Any) -> Any:
        """Call *func* (sync or async) on the event loop, let the loop settle, return."""
        return self.portal.call(self._call_and_settle, func, *args)
