"""The producer's own thread: an event loop running the async producer, start to end.

The thread runs ``anyio.run()`` (asyncio or Trio) on :meth:`Runner._main`, which opens,
in this order and as one structured whole: a cancel scope (to abort an open), a
:class:`~anyio.from_thread.BlockingPortal` (for the calls that do cross threads:
``flush``, ``clear``, ``statistics``), the async producer, and a task group for the
intake's pump and its watches. Then it waits: the pump returns once the intake refuses
events (``close()``), the last events are handed over, and the async producer is closed
in a cancel scope that an abort cancels (which bounds the close by ``close_timeout``, as
an exit by exception). Whatever the close raised is kept as :attr:`Runner.outcome` for
the thread that closes.

The thread is a daemon thread: it never holds the interpreter up (see
:mod:`._lifecycle` for what happens at exit).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
import sniffio
from anyio.from_thread import BlockingPortal

from .._open import open_streaming_producer as open_async_producer
from .._producer import StreamingProducer as AsyncStreamingProducer
from ._core import Core
from ._intake import Intake

__all__ = ["Runner"]

T = TypeVar("T")

_CLOSED = "the producer is closed"
_STOPPED = "the producer stopped"


def _bind_call_soon() -> Callable[[Callable[[], None]], object]:
    """The running loop's thread-safe, non-waiting way to schedule a call on it."""
    if sniffio.current_async_library() == "trio":
        import trio

        return trio.lowlevel.current_trio_token().run_sync_soon
    return asyncio.get_running_loop().call_soon_threadsafe


class Runner:
    """One blocking producer's thread and what runs on it."""

    def __init__(
        self,
        open_options: dict[str, Any],
        backend: str,
        backend_options: dict[str, Any] | None,
        identifier: str,
    ) -> None:
        self._open_options = open_options
        self._backend = backend
        self._backend_options = backend_options
        self.thread = threading.Thread(
            target=self._run, name=f"anyio-eventhubs producer {identifier}", daemon=True
        )
        #: set once the producer is open, or the thread has ended
        self.settled = threading.Event()
        #: set once the thread has ended (the producer closed, or never opened)
        self.done = threading.Event()
        #: what the thread's work raised (an open that failed, failures the close raised)
        self.outcome: BaseException | None = None
        self.producer: AsyncStreamingProducer | None = None
        self.core: Core | None = None
        self.intake: Intake | None = None
        self.portal: BlockingPortal | None = None
        #: the loop thread's id (0 before it runs)
        self.loop_thread = 0
        self._call_soon: Callable[[Callable[[], None]], object] | None = None
        self._close_requested = False
        self._abort = False
        self._main_scope: anyio.CancelScope | None = None
        self._close_scope: anyio.CancelScope | None = None
        self._portal_stopping = False

    # -- the loop thread -----------------------------------------------------------------

    def _run(self) -> None:
        try:
            anyio.run(self._main, backend=self._backend, backend_options=self._backend_options)
        except BaseException as exc:
            self.outcome = exc
        finally:
            if self.intake is not None:
                self.intake.refuse(_CLOSED if self._close_requested else _STOPPED)
            self.settled.set()
            self.done.set()

    async def _main(self) -> None:
        self.loop_thread = threading.get_ident()
        self._main_scope = anyio.CancelScope()
        self._close_scope = anyio.CancelScope()
        self._call_soon = _bind_call_soon()
        if self._abort:
            self._main_scope.cancel()
        with self._main_scope:
            async with BlockingPortal() as portal:
                try:
                    await self._serve(portal)
                except Exception as exc:  # kept for the closing thread, not the portal's
                    self.outcome = exc
                finally:
                    self._portal_stopping = True

    async def _serve(self, portal: BlockingPortal) -> None:
        async with open_async_producer(**self._open_options) as producer:
            core = Core(producer, await producer.get_partition_ids())
            intake = Intake(core, self._call_soon_or_not)
            self.producer, self.core, self.portal = producer, core, portal
            self.intake = intake
            if self._close_requested:
                intake.refuse(_CLOSED)
            self.settled.set()
            try:
                async with anyio.create_task_group() as task_group:
                    await intake.pump(task_group)
                    task_group.cancel_scope.cancel()
            finally:
                # the last events refused callers left (or all of them, if the async
                # producer crashed and cancelled us): its close reports them
                intake.refuse(_STOPPED)
                intake.transfer()
            assert self._close_scope is not None
            with self._close_scope:
                await producer.aclose()

    def _call_soon_or_not(self, function: Callable[[], None]) -> None:
        assert self._call_soon is not None
        # RuntimeError: the loop has ended (trio.RunFinishedError is one too)
        with contextlib.suppress(RuntimeError):
            self._call_soon(function)

    def _abort_on_loop(self) -> None:
        self._abort = True
        if self.producer is None:
            if self._main_scope is not None:
                self._main_scope.cancel()
        elif self._close_scope is not None:
            self._close_scope.cancel()

    # -- other threads -------------------------------------------------------------------

    def start(self) -> None:
        """Start the thread and wait until the producer is open.

        :raises: what opening raised; ``KeyboardInterrupt`` if interrupted (the
            thread is stopped first).
        """
        self.thread.start()
        interrupted = self.wait(self.settled)
        if interrupted is None and self.producer is not None:
            return
        self.request_close(abort=True)
        again = self.wait(self.done)
        self.thread.join()
        first = interrupted if interrupted is not None else again
        if first is not None:
            raise first
        outcome, self.outcome = self.outcome, None
        if outcome is None:
            raise RuntimeError("the producer's thread ended before the producer opened")
        raise outcome

    def wait(self, event: threading.Event) -> KeyboardInterrupt | None:
        """Wait for *event*; on Ctrl-C, abort the producer and go on waiting.

        :returns: the first ``KeyboardInterrupt`` that came, for the caller to raise.
        """
        interrupted: KeyboardInterrupt | None = None
        while True:
            try:
                event.wait()
                return interrupted
            except KeyboardInterrupt as exc:
                interrupted = interrupted or exc
                self.request_close(abort=True)

    def request_close(self, *, abort: bool) -> None:
        """Ask the thread to close the producer (bounded by ``close_timeout`` if *abort*)."""
        self._close_requested = True
        if abort:
            self._abort = True
        intake = self.intake
        if intake is not None:
            intake.refuse(_CLOSED)
            intake.wake_pump()
        call_soon = self._call_soon
        if abort and call_soon is not None and not self.done.is_set():
            with contextlib.suppress(RuntimeError):  # the loop has just ended
                call_soon(self._abort_on_loop)

    def call(self, function: Callable[..., Awaitable[T]], *args: Any) -> tuple[bool, T | None]:
        """Run async *function* on the loop, wait for it, return ``(ran, result)``.

        ``ran`` is ``False`` when the loop no longer takes calls (the producer closed).
        """
        portal = self.portal
        if portal is None or self.portal_stopping():
            return False, None
        try:
            return True, portal.call(function, *args)
        except RuntimeError:
            if self.portal_stopping():  # it stopped between the check and the call
                return False, None
            raise

    def portal_stopping(self) -> bool:
        """Whether the portal takes no more calls (the producer has closed)."""
        return self._portal_stopping
