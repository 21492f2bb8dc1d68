"""A failed send leaves no reference cycle behind.

An exception's traceback holds the frames it went through. A frame that keeps the
exception in a local makes a cycle: the exception, its traceback, the frame and
everything the frames hold (the batch's events, its payload) are then freed only by a
full collection of the garbage collector, which may come minutes later. Over a long
life with reconnections, that memory adds up (``benchmarks/lifetime_soak.py``).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator

import pytest

from anyio_eventhubs import (
    ConnectionLostError,
    NotFoundError,
    PublishFailedEventArgs,
    RetryOptions,
    ServerBusyError,
    TransportError,
    open_streaming_producer,
)
from anyio_eventhubs.testing import InMemoryEventHub
from anyio_eventhubs.transport import OutgoingBatch


@pytest.fixture
def collect_garbage() -> Iterator[Callable[[], list[object]]]:
    """With the collector off for the test: a call that returns what only a collection
    would have freed (the objects in reference cycles made since the test began)."""
    gc.collect()
    gc.disable()

    def collect() -> list[object]:
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            gc.collect()
            found = list(gc.garbage)
            gc.garbage.clear()
            return found
        finally:
            gc.set_debug(0)

    try:
        yield collect
    finally:
        gc.enable()


def _kept(garbage: list[object], module: str) -> list[str]:
    """What in *garbage* is a frame of *module*'s code or an outgoing batch."""
    kept = []
    for thing in garbage:
        if isinstance(thing, OutgoingBatch):
            kept.append(f"an OutgoingBatch of partition {thing.partition_id!r}")
        elif type(thing).__name__ == "frame" and module in thing.f_code.co_filename:  # type: ignore[attr-defined]
            kept.append(f"the frame of {thing.f_code.co_qualname}")  # type: ignore[attr-defined]
    return kept


@pytest.mark.anyio
@pytest.mark.parametrize("error", [NotFoundError, ServerBusyError], ids=["at-once", "retried"])
async def test_a_failed_batch_is_freed_without_a_collection(
    error: type[TransportError], collect_garbage: Callable[[], list[object]]
) -> None:
    hub = InMemoryEventHub(1)
    hub.fail_next_sends(5, error=error)  # one retry is allowed below: fails either way
    failed: list[str] = []

    def on_failed(args: PublishFailedEventArgs) -> None:
        failed.append(type(args.exception).__name__)  # the exception itself is not kept

    async with open_streaming_producer(
        transport=hub,
        retry_options=RetryOptions(max_retries=1, delay=0.001, jitter=0.0),
        on_publish_failed=on_failed,
    ) as producer:
        await producer.queue_for_send(b"doomed")
        await producer.flush()
    assert failed == [error.__name__]
    kept = _kept(collect_garbage(), "anyio_eventhubs")
    assert not kept, f"a failed send left a reference cycle that holds its batch: {kept}"


def test_an_error_mapped_at_the_transport_boundary_makes_no_cycle(
    collect_garbage: Callable[[], list[object]],
) -> None:
    from azure.eventhub._pyamqp import error as amqp

    from anyio_eventhubs._azure._errors import map_exceptions

    def send(payload: bytes) -> None:
        with map_exceptions("sending to partition '0'"):
            raise amqp.AMQPConnectionError(amqp.ErrorCondition.SocketError)

    with pytest.raises(ConnectionLostError) as info:
        send(b"payload")
    assert info.value.__traceback__ is not None
    del info  # the test's own hold on the error
    kept = [
        f"the frame of {thing.f_code.co_qualname}"  # type: ignore[attr-defined]
        for thing in collect_garbage()
        if type(thing).__name__ == "frame"
    ]
    assert not kept, f"the mapped error and the frames it went through form a cycle: {kept}"
