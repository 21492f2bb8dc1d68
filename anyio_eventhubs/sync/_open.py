"""``open_streaming_producer`` for threads: start the producer's thread, open, hand over."""

from __future__ import annotations

import os
import uuid
from typing import Any

from .._options import FailedHandler, SucceededHandler
from .._retry import RetryOptions
from ..transport import Transport
from ._lifecycle import track
from ._producer import StreamingProducer
from ._runner import Runner

__all__ = ["open_streaming_producer"]

_BACKENDS = ("asyncio", "trio")


def open_streaming_producer(
    connection_string: str | None = None,
    eventhub_name: str | None = None,
    *,
    backend: str = "asyncio",
    backend_options: dict[str, Any] | None = None,
    transport: Transport | None = None,
    on_publish_succeeded: SucceededHandler | None = None,
    on_publish_failed: FailedHandler | None = None,
    max_wait_time: float | None = 1.0,
    max_queued_events: int = 1500,
    max_concurrent_sends: int | None = None,
    max_concurrent_sends_per_partition: int = 1,
    enable_idempotent_retries: bool = False,
    retry_options: RetryOptions | None = None,
    identifier: str | None = None,
    close_timeout: float = 30.0,
    **more: Any,
) -> StreamingProducer:
    """Open a streaming producer that runs on a thread of its own; blocks until it is open.

    ::

        with open_streaming_producer(conn_str, "my-hub") as producer:
            producer.queue_for_send(b"reading", partition_key="device-7")

    The options are those of :func:`anyio_eventhubs.open_streaming_producer`, with the
    same meaning and defaults. The handlers run on the producer's thread (sync or async
    handlers; an async one on that thread's event loop), never on the caller's.

    Leave the ``with`` block, or call :meth:`~StreamingProducer.close`, to publish what
    is queued and join the thread. A producer still open at interpreter exit is closed
    then, with a ``RuntimeWarning``.

    :param backend: the event loop the thread runs: ``"asyncio"`` or ``"trio"``.
    :param more: the async function's other options (the connection options:
        ``fully_qualified_namespace``, ``credential``, ``client``, ``open_timeout``, ...),
        passed on as they are.
    :param backend_options: passed to :func:`anyio.run` (e.g. ``{"use_uvloop": True}``).
    :raises TypeError: for an argument of the wrong type or an unknown option.
    :raises ValueError: for a bad option value.
    :raises ~anyio_eventhubs.TransportError: if the hub cannot be reached.
    """
    if more.get("journal") is not None:
        # the sync queue_for_send returns before the loop thread takes the event, so it
        # could not promise that the event is in the journal when it returns
        raise ValueError(
            "journal= is not supported by anyio_eventhubs.sync yet; use the async "
            "open_streaming_producer for a crash-safe journal"
        )
    if backend not in _BACKENDS:
        raise ValueError(f"backend must be one of {list(_BACKENDS)}, got {backend!r}")
    if backend_options is not None and not isinstance(backend_options, dict):
        raise TypeError(
            f"backend_options must be a dict or None, got {type(backend_options).__name__}"
        )
    if identifier is None:
        identifier = str(uuid.uuid4())
    elif not isinstance(identifier, str):
        raise TypeError(f"identifier must be a str or None, got {type(identifier).__name__}")
    options: dict[str, Any] = {
        "connection_string": connection_string,
        "eventhub_name": eventhub_name,
        "transport": transport,
        "on_publish_succeeded": on_publish_succeeded,
        "on_publish_failed": on_publish_failed,
        "max_wait_time": max_wait_time,
        "max_queued_events": max_queued_events,
        "max_concurrent_sends": max_concurrent_sends,
        "max_concurrent_sends_per_partition": max_concurrent_sends_per_partition,
        "enable_idempotent_retries": enable_idempotent_retries,
        "retry_options": retry_options,
        "identifier": identifier,
        "close_timeout": close_timeout,
        **more,
    }
    runner = Runner(options, backend, backend_options, identifier)
    runner.start()
    producer = StreamingProducer(runner, identifier, os.getpid())
    track(producer)
    return producer
