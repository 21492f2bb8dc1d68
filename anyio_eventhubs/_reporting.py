"""Outcome reports: calling the handlers, and holding failures nobody handled.

Handlers run in the producer's own tasks, on the caller's event loop. A handler that
raises is logged and does not stop the producer. Reports run shielded, so a
cancellation exception that leaves a handler while its scope is not cancelled is the
handler's own (on asyncio: it awaited a future that was cancelled elsewhere): it is
logged like any other handler error, never passed on as a cancellation of the producer.

While a handler of a producer runs, :data:`current_handler_producer` names that
producer and the task running the handler, so that ``flush()``, ``clear()`` and
``aclose()`` can refuse to wait, in that task, for the very outcome that is being
reported (:func:`in_handler_of`). A task the handler starts inherits the variable, but
is free to wait: the handler does not wait for it.
"""

from __future__ import annotations

import inspect
import logging
import math
from collections.abc import Iterable, Sequence
from contextvars import ContextVar
from typing import Any

import anyio

from ._events import Event, PublishFailedEventArgs, PublishSucceededEventArgs
from ._exceptions import PublishError
from ._options import FailedHandler, SucceededHandler
from ._runs import QueuedItem, events_of

__all__ = [
    "HandlerCall",
    "Reporter",
    "current_handler_producer",
    "in_handler_of",
    "logger",
    "raise_errors",
]

logger = logging.getLogger("anyio_eventhubs")


class HandlerCall:
    """One running call of a handler: whose it is, and in which task it runs."""

    __slots__ = ("active", "owner", "task_id")

    def __init__(self, owner: object, task_id: int) -> None:
        self.owner = owner
        self.task_id = task_id
        #: false once the handler returned (tasks it started may outlive it)
        self.active = True


#: the handler call running in this task, if any (inherited by tasks it starts)
current_handler_producer: ContextVar[HandlerCall | None] = ContextVar(
    "anyio_eventhubs_current_handler_producer", default=None
)


def in_handler_of(producer: object) -> bool:
    """Whether the calling task is running a handler of *producer* right now."""
    call = current_handler_producer.get()
    return (
        call is not None
        and call.active
        and call.owner is producer
        and call.task_id == anyio.get_current_task().id
    )


class Reporter:
    """Calls one producer's handlers and keeps the failures that had no handler."""

    def __init__(
        self,
        owner: object,
        on_succeeded: SucceededHandler | None,
        on_failed: FailedHandler | None,
    ) -> None:
        self._owner = owner
        self._on_succeeded = on_succeeded
        self._on_failed = on_failed
        #: failures with no on_publish_failed handler, raised by the next flush or exit
        self.unhandled: list[PublishError] = []

    @property
    def wants_successes(self) -> bool:
        return self._on_succeeded is not None

    async def _call(self, handler: Any, args: object) -> None:
        call = HandlerCall(self._owner, anyio.get_current_task().id)
        token = current_handler_producer.set(call)
        try:
            result = handler(args)
            if inspect.isawaitable(result):
                await result
        except Exception:
            logger.exception(
                "the %s handler %r raised; the producer goes on", type(args).__name__, handler
            )
        except anyio.get_cancelled_exc_class():
            if anyio.current_effective_deadline() == -math.inf:
                raise  # a real cancellation of this task
            logger.exception(
                "the %s handler %r raised a cancellation nothing had requested; "
                "the producer goes on",
                type(args).__name__,
                handler,
            )
        finally:
            call.active = False
            current_handler_producer.reset(token)

    def failure_events(
        self, items: Iterable[QueuedItem], raise_if_unhandled: bool
    ) -> Sequence[Event]:
        """The events of *items* for a :meth:`failed` report, or none if the report will
        not read them (no handler, and not raised): decoding the events that the
        producer did not hold would be wasted."""
        if raise_if_unhandled or self._on_failed is not None:
            return events_of(items)
        return ()

    async def succeeded(self, events: Sequence[Event], partition_id: str) -> None:
        if self._on_succeeded is not None:
            await self._call(self._on_succeeded, PublishSucceededEventArgs(events, partition_id))

    async def failed(
        self,
        events: Sequence[Event],
        partition_id: str,
        exception: BaseException,
        *,
        resendable: bool,
        may_have_been_published: bool,
        raise_if_unhandled: bool = True,
    ) -> bool:
        """Report a failure; return whether the handler asked for a resend."""
        if self._on_failed is None:
            if raise_if_unhandled:
                self.unhandled.append(
                    PublishError(
                        events,
                        partition_id,
                        exception,
                        may_have_been_published=may_have_been_published,
                    )
                )
            return False
        resend_requested = False

        def request_resend() -> None:
            nonlocal resend_requested
            resend_requested = True

        args = PublishFailedEventArgs(
            events,
            partition_id,
            exception,
            may_have_been_published=may_have_been_published,
            _resend=request_resend if resendable else None,
        )
        await self._call(self._on_failed, args)
        args._resend = None  # force_resend() after the handler returned is an error
        return resend_requested

    def take_unhandled(self) -> list[PublishError]:
        errors, self.unhandled = self.unhandled, []
        return errors


def raise_errors(errors: list[PublishError]) -> None:
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise ExceptionGroup(f"{len(errors)} batches failed to publish", errors)
