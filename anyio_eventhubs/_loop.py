"""The running event loop's cancellation check, checkpoints and clock, fetched once.

``queue_for_send`` runs once per event, and anyio's ``checkpoint_if_cancelled`` and
``current_time`` look the backend up on every call; on asyncio they also find the
running loop and the current task (on Python 3.11 each of those makes a ``getpid``
system call) and look the task up in a ``WeakKeyDictionary``. Together that was a
quarter of a call.

:func:`loop_functions` returns, for the running loop:

- ``cancel_pending()``: a synchronous test that is ``True`` whenever anyio's
  ``checkpoint_if_cancelled()`` would raise (the calling task's innermost cancel
  scopes, up to the first shielded one, include a cancelled one; on Trio, the task's
  cancel status, as ``trio.lowlevel.checkpoint_if_cancelled`` reads it). The caller then
  awaits ``checkpoint_if_cancelled()``, which raises; when it is ``False`` nothing is
  awaited at all. It reads anyio's and Trio's private state, checked once here: if that
  state is not what it expects, it is always ``True`` (the public, slower path).
- ``checkpoint_if_cancelled``, ``cancel_shielded_checkpoint``: the backend's own.
- ``current_time``: the loop's clock (asyncio's ``loop.time``, Trio's clock's
  ``current_time``), which is what ``anyio.current_time()`` reads.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

import anyio
from anyio.lowlevel import cancel_shielded_checkpoint, checkpoint_if_cancelled

__all__ = ["LoopFunctions", "loop_functions"]


class LoopFunctions(NamedTuple):
    cancel_pending: Callable[[], bool]
    checkpoint_if_cancelled: Callable[[], Awaitable[None]]
    cancel_shielded_checkpoint: Callable[[], Awaitable[None]]
    current_time: Callable[[], float]


def _always() -> bool:
    return True


def loop_functions() -> LoopFunctions:
    """The running loop's functions (see the module's docstring); call it on the loop."""
    try:
        from anyio._core._eventloop import get_async_backend

        backend = get_async_backend()
        functions = LoopFunctions(
            _always,
            backend.checkpoint_if_cancelled,
            backend.cancel_shielded_checkpoint,
            backend.current_time,
        )
    except Exception:  # pragma: no cover - a different anyio
        return LoopFunctions(
            _always, checkpoint_if_cancelled, cancel_shielded_checkpoint, anyio.current_time
        )
    try:
        if backend.__module__ == "anyio._backends._asyncio":
            return functions._replace(**_asyncio_fast())
        if backend.__module__ == "anyio._backends._trio":
            return functions._replace(**_trio_fast())
    except Exception:  # private state not as expected
        pass
    return functions  # pragma: no cover - another backend


def _asyncio_fast() -> dict[str, Any]:
    import asyncio

    from anyio._backends._asyncio import CancelScope, _task_states

    loop = asyncio.get_running_loop()
    current_task = asyncio.current_task
    probe = CancelScope()
    if not (
        hasattr(probe, "_cancel_called")
        and hasattr(probe, "_shield")
        and hasattr(probe, "_parent_scope")
        and hasattr(_task_states, "get")
    ):
        raise RuntimeError("anyio's asyncio cancel scopes changed")
    # the last calling task and its anyio state (a task keeps one state object for life)
    last: list[Any] = [None, None]

    def cancel_pending() -> bool:
        task = current_task(loop)  # with the loop given: no get_running_loop()
        if task is last[0]:
            state = last[1]
        else:
            if task is None:
                return False  # not in a task: as anyio's check, nothing to raise
            state = _task_states.get(task)
            if state is None:
                return False  # no anyio scope yet: as anyio's check, nothing to raise
            last[0], last[1] = task, state
        scope = state.cancel_scope
        while scope is not None:
            if scope._cancel_called:
                return True
            if scope._shield:
                return False
            scope = scope._parent_scope
        return False

    return {"cancel_pending": cancel_pending, "current_time": loop.time}


def _trio_fast() -> dict[str, Any]:
    import trio

    current_task = trio.lowlevel.current_task
    task: Any = current_task()
    runner = task._runner
    if not (
        isinstance(task._cancel_status.effectively_cancelled, bool)
        and isinstance(runner.ki_pending, bool)
        and hasattr(runner, "main_task")
        and isinstance(task._cancel_points, int)
    ):
        raise RuntimeError("trio's task state changed")

    def cancel_pending() -> bool:
        # trio.lowlevel.checkpoint_if_cancelled, without its two coroutines
        task: Any = current_task()
        if task._cancel_status.effectively_cancelled:
            return True
        runner = task._runner
        if task is runner.main_task and runner.ki_pending:
            return True
        task._cancel_points += 1  # (what trio.testing.assert_checkpoints counts)
        return False

    return {
        "cancel_pending": cancel_pending,
        "current_time": trio.lowlevel.current_clock().current_time,
    }
