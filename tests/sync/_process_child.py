"""The blocking producer and its process; run by ``test_sync_process.py`` as a child.

``python -m tests.sync._process_child MODE BACKEND``, from the repository root:

- ``exit-published`` / ``exit-stuck``: open a producer, queue events, never close it,
  let the interpreter exit (sends go through / are held forever);
- ``interrupt-body`` / ``interrupt-close``: a real ``SIGINT`` to the process while the
  main thread waits in ``flush()`` in the ``with`` body / in the close that leaving the
  block starts, with every send held;
- ``fork``: fork (``os.fork`` and ``multiprocessing``'s fork context) while a producer
  is open; the children try to use it, then open one of their own.

Handlers print one JSON line per outcome (``{"published": [...]}`` or ``{"failed":
[...], "error": ...}``); the modes print a final JSON report. The parent asserts on them.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import sys
import threading
import time
import warnings
from typing import Any

from anyio_eventhubs import PublishFailedEventArgs, PublishSucceededEventArgs
from anyio_eventhubs.sync import StreamingProducer, open_streaming_producer
from anyio_eventhubs.testing import InMemoryEventHub

from .helpers import GatedHub, producer_threads

CLOSE_TIMEOUT = 0.5


def say(**report: Any) -> None:
    print(json.dumps(report), flush=True)


def text(event: object) -> str:
    return event.decode() if isinstance(event, bytes) else str(event)


def on_succeeded(args: PublishSucceededEventArgs) -> None:
    say(published=[text(e) for e in args.events])


def on_failed(args: PublishFailedEventArgs) -> None:
    say(failed=[text(e) for e in args.events], error=type(args.exception).__name__)


HANDLERS: dict[str, Any] = {"on_publish_succeeded": on_succeeded, "on_publish_failed": on_failed}


def exit_without_close(backend: str, stuck: bool) -> None:
    hub = GatedHub(partition_count=2)
    if stuck:
        hub.hold()
    producer = open_streaming_producer(
        transport=hub, backend=backend, close_timeout=CLOSE_TIMEOUT, **HANDLERS
    )
    for n in range(20):
        producer.queue_for_send(str(n))
    say(queued=20, exiting_at=time.monotonic())
    # no close(): the interpreter exits with the producer open


def interrupt(backend: str, where: str) -> None:
    hub = GatedHub(partition_count=1)
    hub.hold()
    sent_at: list[float] = []

    def interrupter() -> None:
        hub.wait_sends_started(1)
        sent_at.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C: to the process, not a thread

    outcome = "nothing"
    try:
        with open_streaming_producer(
            transport=hub,
            backend=backend,
            close_timeout=CLOSE_TIMEOUT,
            max_wait_time=None,  # nothing is sent before the flush (or the close)
            **HANDLERS,
        ) as producer:
            producer.queue_for_send(b"stuck")
            threading.Thread(target=interrupter, daemon=True).start()
            if where == "body":
                producer.flush()
    except KeyboardInterrupt:
        outcome = "KeyboardInterrupt"
    say(
        outcome=outcome,
        seconds_after_interrupt=time.monotonic() - sent_at[0],
        threads=producer_threads(),
        closed=producer.is_closed,
    )


def _multiprocessing_child(producer: StreamingProducer) -> None:
    try:
        producer.queue_for_send(b"from a multiprocessing child")
    except RuntimeError as exc:
        sys.exit(0 if "forked" in str(exc) else 1)
    sys.exit(2)


def fork(backend: str) -> None:
    # Python 3.12+ warns about forking a process with threads: forking is what is tested
    warnings.filterwarnings("ignore", message=r".*fork\(\)", category=DeprecationWarning)
    hub = InMemoryEventHub(partition_count=2)
    with open_streaming_producer(transport=hub, backend=backend, **HANDLERS) as producer:
        producer.queue_for_send(b"parent before")
        pid = os.fork()
        if pid == 0:  # the child: refused, and leaving the block must not hang
            report: dict[str, Any] = {"closed": producer.is_closed}
            for call in (producer.queue_for_send, producer.try_queue_for_send):
                try:
                    call(b"from the child")
                except RuntimeError as exc:
                    report.setdefault("refused", []).append(str(exc))
            try:
                producer.flush()
            except RuntimeError as exc:
                report.setdefault("refused", []).append(str(exc))
            own = InMemoryEventHub(partition_count=1)
            with open_streaming_producer(transport=own, backend=backend) as mine:
                mine.queue_for_send(b"child's own")
            report["own_published"] = own.published_count()
            say(child=report)
        else:
            _, status = os.waitpid(pid, 0)
            ctx = multiprocessing.get_context("fork")
            process = ctx.Process(target=_multiprocessing_child, args=(producer,))
            process.start()
            process.join()
            producer.queue_for_send(b"parent after")
            say(
                parent={"child_exit": os.waitstatus_to_exitcode(status)},
                multiprocessing_exit=process.exitcode,
            )
    if pid == 0:
        sys.exit(0)  # a normal exit: atexit hooks run, and must not hang either
    say(stored=sorted(b.decode() for p in hub.partition_ids for b in hub.published_bodies(p)))


def main() -> None:
    mode, backend = sys.argv[1:3]
    if mode.startswith("exit-"):
        exit_without_close(backend, stuck=mode == "exit-stuck")
    elif mode.startswith("interrupt-"):
        interrupt(backend, mode.removeprefix("interrupt-"))
    elif mode == "fork":
        fork(backend)
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()
