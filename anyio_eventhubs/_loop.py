"""The running event loop's ``checkpoint_if_cancelled`` and ``current_time``, fetched once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
from anyio.lowlevel import checkpoint_if_cancelled

__all__ = ["loop_functions"]


def loop_functions() -> tuple[Callable[[], Awaitable[None]], Callable[[], float]]:
    """anyio's ``checkpoint_if_cancelled`` and ``current_time`` without their backend
    lookup on every call.

    ``queue_for_send`` runs once per event; the lookup (sniffio, a dict) was a quarter
    of its time. Falls back to the public functions if anyio's layout changes.
    """
    try:
        from anyio._core._eventloop import get_async_backend

        backend = get_async_backend()
        return backend.checkpoint_if_cancelled, backend.current_time
    except Exception:  # pragma: no cover - a different anyio
        return checkpoint_if_cancelled, anyio.current_time
