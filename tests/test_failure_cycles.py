"""A failed send leaves no reference cycle behind.

An exception's traceback holds the frames it went through. A frame that keeps the
exception in a local makes a cycle: the exception, its traceback, the frame and
everything the frames hold (the batch's events, its payload) are then freed only by a
full collection of the garbage collector, which may come minutes later. Over a long
life with reconnections, that memory adds up (``benchmarks/lifetime_soak.py``).
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator

import pytest

import anyio_eventhubs
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
    # what already lived (a report of an earlier test may become garbage meanwhile)
    before = {id(thing) for thing in gc.get_objects()}

    def collect() -> list[object]:
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            gc.collect()
            found = [thing for thing in gc.garbage if id(thing) not in before]
            gc.garbage.clear()
            return found
        finally:
            gc.set_debug(0)

    try:
        yield collect
    finally:
        gc.enable()


#: where the package's code is
PACKAGE = os.path.dirname(anyio_eventhubs.__file__)


def _kept(garbage: list[object], where: str) -> list[str]:
    """What in *garbage* is a frame of the code under *where*, or an outgoing batch."""
    kept = []
    for thing in garbage:
        if isinstance(thing, OutgoingBatch):
            kept.append(f"an OutgoingBatch of partition {thing.partition_id!r}")
        elif type(thing).__name__ == "frame" and thing.f_code.co_filename.startswith(where):  # type: ignore[attr-defined]
            kept.append(f"the frame of {thing.f_code.co_qualname}")  # type: ignore[attr-defined]
    return kept


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("error", "failures", "outcome"),
    [
        pytest.param(NotFoundError, 1, "NotFoundError", id="failed-at-once"),
        pytest.param(ServerBusyError, 5, "ServerBusyError", id="failed-after-a-retry"),
        pytest.param(ServerBusyError, 1, "published", id="published-after-a-retry"),
    ],
)
async def test_a_failed_send_is_freed_without_a_collection(
    error: type[TransportError],
    failures: int,
    outcome: str,
    collect_garbage: Callable[[], list[object]],
) -> None:
    hub = InMemoryEventHub(1)
    hub.fail_next_sends(failures, error=error)
    outcomes: list[str] = []

    def on_failed(args: PublishFailedEventArgs) -> None:
        outcomes.append(type(args.exception).__name__)  # the exception itself is not kept

    async with open_streaming_producer(
        transport=hub,
        retry_options=RetryOptions(max_retries=1, delay=0.001, jitter=0.0),
        on_publish_failed=on_failed,
        on_publish_succeeded=lambda args: outcomes.append("published"),
    ) as producer:
        await producer.queue_for_send(b"event")
        await producer.flush()
    assert outcomes == [outcome]
    kept = _kept(collect_garbage(), PACKAGE)
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
    garbage = collect_garbage()
    kept = _kept(garbage, PACKAGE) + _kept(garbage, __file__)
    assert not kept, f"the mapped error and the frames it went through form a cycle: {kept}"
