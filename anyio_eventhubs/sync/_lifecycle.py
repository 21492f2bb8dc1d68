"""The blocking producer and the process: fork, interpreter exit, and what leaves ``with``.

- **Fork.** A forked child has a copy of the producer but not its thread (a fork copies
  only the thread that called it), so nothing would ever publish what the child queued,
  and a lock held by another thread at the fork would stay held forever. So a producer
  opened before a fork is *refused* in the child: every call raises ``RuntimeError``
  that says so and what to do instead (open the producer in the child, after the fork);
  ``close()`` and leaving the ``with`` block do nothing there. The parent's producer
  goes on in the parent, untouched.
- **Interpreter exit.** The producer's thread is a daemon thread, so it never holds the
  interpreter up. Producers still open at exit are closed by an :mod:`atexit` hook
  (bounded by ``close_timeout``, as a close by exception), with a ``RuntimeWarning``
  saying that ``close()`` was not called; failures nobody handled are logged.
"""

from __future__ import annotations

import atexit
import os
import warnings
import weakref
from typing import TYPE_CHECKING

from .._reporting import logger

if TYPE_CHECKING:
    from ._producer import StreamingProducer

__all__ = ["exit_errors", "forked_error", "track", "untrack"]

#: every producer made in this process (to mark them when the process forks)
_all: weakref.WeakSet[StreamingProducer] = weakref.WeakSet()
#: producers opened and not yet closed, closed at interpreter exit (strong references)
_open: set[StreamingProducer] = set()


def track(producer: StreamingProducer) -> None:
    """Note *producer* as open in this process."""
    _all.add(producer)
    _open.add(producer)


def untrack(producer: StreamingProducer) -> None:
    """Note *producer* as closed (or closing)."""
    _open.discard(producer)


def forked_error(identifier: str, pid: int) -> RuntimeError:
    return RuntimeError(
        f"the producer {identifier!r} was opened in process {pid}, before this process "
        f"({os.getpid()}) was forked from it; its thread did not come along, so it cannot "
        "publish here. Open a producer in this process, after the fork (e.g. in gunicorn's "
        "post_fork hook, in a Celery worker_process_init handler, or lazily on first use)."
    )


def _after_fork_in_child() -> None:
    for producer in list(_all):
        producer._forked = True
    _open.clear()


def _close_at_exit() -> None:
    for producer in list(_open):
        try:
            warnings.warn(
                f"the producer {producer.identifier!r} was not closed; closing it at "
                "interpreter exit (what is queued gets close_timeout seconds to go out). "
                "Use it in a with block, or call close().",
                RuntimeWarning,
                stacklevel=1,
            )
        except Exception:  # -W error: the warning is raised; closing matters more
            logger.warning("the producer %r was not closed before exit", producer.identifier)
        try:
            errors = producer._close(abort=True)
        except Exception:
            logger.exception("closing the producer %r at exit failed", producer.identifier)
            continue
        if errors is not None:
            for error in exit_errors(errors):
                logger.error("unpublished at interpreter exit: %s", error, exc_info=error)


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_close_at_exit)


def exit_errors(errors: BaseException) -> list[BaseException]:
    """The errors a close raised, one level of exception group unpacked."""
    if isinstance(errors, BaseExceptionGroup):
        return list(errors.exceptions)
    return [errors]
