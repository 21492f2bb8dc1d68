"""Testing your own publishing code against the local Event Hubs emulator.

The emulator speaks AMQP 1.0 on 127.0.0.1, so the real transport (azure-eventhub's
client) runs exactly as it would against Azure: connection string, authentication,
partitions, batches. The test inspects what the emulator stored, and arms faults the
way a busy or throttled namespace would answer. It needs the ``emulator`` extra.

Run: ``python examples/testing_emulator.py`` (or ``pytest examples/testing_emulator.py``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass

import pytest

from anyio_eventhubs import (
    PublishFailedEventArgs,
    RetryOptions,
    StreamingProducer,
    open_streaming_producer,
    partition_for_key,
)
from anyio_eventhubs.testing.emulator import NOT_FOUND, SERVER_BUSY, EventHubsEmulator

# -- the code under test: your application's publishing code ---------------------------


@dataclass(frozen=True)
class Order:
    order_id: str
    customer: str
    total_cents: int


async def publish_orders(producer: StreamingProducer, orders: Iterable[Order]) -> None:
    """Publish each order as JSON, keyed by customer: a customer's orders stay in order."""
    for order in orders:
        await producer.queue_for_send(json.dumps(asdict(order)), partition_key=order.customer)


# -- the tests ------------------------------------------------------------------------------


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def emulator() -> Iterator[EventHubsEmulator]:
    """A fresh emulator per test (it starts in milliseconds), on a free port."""
    with EventHubsEmulator({"orders": 4}) as emulator:
        yield emulator


pytestmark = pytest.mark.anyio

ORDERS = [Order(f"o-{n}", f"customer-{n % 5}", 100 * n) for n in range(50)]
NO_BACKOFF = RetryOptions(max_retries=3, delay=0)  # tests do not wait for back-off


async def test_orders_land_on_their_customers_partition(emulator: EventHubsEmulator) -> None:
    connection_string = emulator.connection_string("orders")
    async with open_streaming_producer(connection_string) as producer:
        await publish_orders(producer, ORDERS)
    stored = emulator.all_events("orders")
    assert len(stored) == len(ORDERS)
    partition_ids = ["0", "1", "2", "3"]
    for event in stored:
        order = json.loads(event.body)
        assert event.partition_key == order["customer"]
        assert event.partition_id == partition_for_key(order["customer"], partition_ids)
    mine = [json.loads(e.body)["order_id"] for e in stored if e.partition_key == "customer-3"]
    assert mine == [o.order_id for o in ORDERS if o.customer == "customer-3"]


async def test_a_busy_namespace_is_retried(emulator: EventHubsEmulator) -> None:
    emulator.faults.reject_next(2, condition=SERVER_BUSY)
    connection_string = emulator.connection_string("orders")
    async with open_streaming_producer(connection_string, retry_options=NO_BACKOFF) as producer:
        await publish_orders(producer, ORDERS)
    assert emulator.faults.fired() == {"reject": 2}
    assert emulator.event_count("orders") == len(ORDERS)


async def test_a_permanent_error_reaches_the_failure_handler(
    emulator: EventHubsEmulator,
) -> None:
    failures: list[PublishFailedEventArgs] = []
    emulator.faults.reject_next(1, condition=NOT_FOUND, partition_id="2")
    async with open_streaming_producer(
        emulator.connection_string("orders"),
        on_publish_failed=failures.append,
        retry_options=NO_BACKOFF,
    ) as producer:
        await publish_orders(producer, ORDERS)
    [failure] = failures  # one batch, not retried: the error is not transient
    assert failure.partition_id == "2"
    assert emulator.event_count("orders") == len(ORDERS) - len(failure.events)


if __name__ == "__main__":  # run these tests with pytest, in a process of their own
    sys.exit(
        subprocess.call([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__])
    )
