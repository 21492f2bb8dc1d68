"""Testing your own publishing code with ``InMemoryEventHub`` (no network, no emulator).

``InMemoryEventHub`` is passed as ``transport=`` instead of a connection string. It
stores what the producer publishes, per partition and in order, and injects faults:
errors for the next sends, latency, sends held until released.

Run: ``python examples/testing_in_memory.py`` (or ``pytest examples/testing_in_memory.py``).
Each test runs under asyncio and under Trio.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import anyio
import pytest

from anyio_eventhubs import (
    EventData,
    NotFoundError,
    PublishError,
    PublishFailedEventArgs,
    RetryOptions,
    StreamingProducer,
    open_streaming_producer,
    partition_for_key,
)
from anyio_eventhubs.testing import InMemoryEventHub

# -- the code under test: your application's publishing code ---------------------------


@dataclass(frozen=True)
class Order:
    order_id: str
    customer: str
    total_cents: int


async def publish_orders(producer: StreamingProducer, orders: Iterable[Order]) -> None:
    """Publish each order as JSON, keyed by customer: a customer's orders stay in order."""
    for order in orders:
        event = EventData(json.dumps(asdict(order)))
        event.content_type = "application/json"
        event.properties = {"type": "order.created"}
        await producer.queue_for_send(event, partition_key=order.customer)


# -- the tests ------------------------------------------------------------------------------


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


pytestmark = pytest.mark.anyio

ORDERS = [Order(f"o-{n}", ("alice", "bob", "carol")[n % 3], 100 * n) for n in range(30)]


async def test_a_customers_orders_are_published_in_order_on_one_partition() -> None:
    hub = InMemoryEventHub(partition_count=4)
    async with open_streaming_producer(transport=hub) as producer:
        await publish_orders(producer, ORDERS)
    # leaving the block published everything: the hub can be inspected now
    for customer in ("alice", "bob", "carol"):
        partition = partition_for_key(customer, hub.partition_ids)  # the service's choice
        stored = [json.loads(body) for body in hub.published_bodies(partition)]
        mine = [o["order_id"] for o in stored if o["customer"] == customer]
        assert mine == [o.order_id for o in ORDERS if o.customer == customer]


async def test_each_event_says_what_it_is() -> None:
    hub = InMemoryEventHub(partition_count=1)
    async with open_streaming_producer(transport=hub) as producer:
        await publish_orders(producer, ORDERS[:1])
    [event] = hub.published_events("0")  # decoded, as a consumer would read it
    assert event.content_type == "application/json"
    assert event.properties == {b"type": b"order.created"}
    assert event.partition_key == b"alice"


async def test_a_busy_service_is_retried_and_nothing_is_lost() -> None:
    hub = InMemoryEventHub(partition_count=2)
    hub.fail_next_sends(3)  # ServerBusyError, a transient error: the producer retries
    retries = RetryOptions(max_retries=5, delay=0)  # no back-off: the test does not wait
    async with open_streaming_producer(transport=hub, retry_options=retries) as producer:
        await publish_orders(producer, ORDERS)
    assert hub.published_count() == len(ORDERS)


async def test_a_permanent_failure_without_a_handler_leaves_the_block() -> None:
    hub = InMemoryEventHub(partition_count=1)
    hub.fail_next_sends(1, error=NotFoundError)  # not transient: not retried
    with pytest.raises(PublishError) as caught:
        async with open_streaming_producer(transport=hub, max_wait_time=None) as producer:
            await publish_orders(producer, ORDERS[:3])
    assert len(caught.value.events) == 3
    assert isinstance(caught.value.__cause__, NotFoundError)


async def test_publishing_waits_while_the_partition_is_full() -> None:
    hub = InMemoryEventHub(partition_count=1)
    hub.hold_sends()  # sends hang until released: the partition fills up
    failures: list[PublishFailedEventArgs] = []
    # with a handler, the producer holds each EventData until its outcome, at most
    # max_queued_events of them per partition (without handlers it keeps only their
    # encoded messages, and then only events waiting behind a full batch count)
    async with (
        open_streaming_producer(
            transport=hub, max_queued_events=5, on_publish_failed=failures.append
        ) as producer,
        anyio.create_task_group() as task_group,
    ):
        task_group.start_soon(publish_orders, producer, ORDERS[:8])
        await anyio.wait_all_tasks_blocked()  # publish_orders waits for room
        assert producer.get_partition_queued_event_count("0") == 5
        hub.release_sends()
    assert hub.published_count() == 8
    assert failures == []


if __name__ == "__main__":  # run these tests with pytest, in a process of their own
    sys.exit(
        subprocess.call([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__])
    )
