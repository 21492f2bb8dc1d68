"""Celery tasks that publish with the blocking producer, one producer per worker process.

Celery's prefork pool forks its worker processes from the main one, and a producer
opened before a fork is refused in the child. So each pool process opens its own when
it starts (``worker_process_init``) and closes it, publishing what is queued, when it
stops (``worker_process_shutdown``); a task just queues. Outside a worker (eager tasks,
a shell), the producer opens on first use and closes at exit.

Run as a script (``python examples/sync_celery.py``): it starts the emulator and runs
the tasks eagerly (``task_always_eager``: no broker, no worker), then checks that the
hub holds every order. With a broker, start a worker as usual (``celery -A sync_celery
worker``, with ``EVENTHUB_CONNECTION_STRING`` set).
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import threading
from typing import Any

from celery import Celery
from celery.signals import worker_process_init, worker_process_shutdown

from anyio_eventhubs import PublishFailedEventArgs
from anyio_eventhubs.sync import StreamingProducer, open_streaming_producer

logger = logging.getLogger("orders")

app = Celery("orders")
app.conf.task_always_eager = True  # this example runs its tasks inline
app.conf.task_eager_propagates = True

_lock = threading.Lock()
_producer: StreamingProducer | None = None


def log_failure(args: PublishFailedEventArgs) -> None:
    # runs on the producer's thread; a task has long returned: log, count, dead-letter
    logger.error("%d orders not published: %s", len(args.events), args.exception)


def producer() -> StreamingProducer:
    """This process's producer (opened on first use if the worker signal did not)."""
    global _producer
    with _lock:
        if _producer is None or _producer.is_closed:  # closed: e.g. inherited by a fork
            _producer = open_streaming_producer(
                os.environ["EVENTHUB_CONNECTION_STRING"],
                os.environ.get("EVENTHUB_NAME"),
                on_publish_failed=log_failure,
            )
            atexit.register(_producer.close)
        return _producer


@worker_process_init.connect
def open_producer(**_: Any) -> None:
    producer()  # in each pool process, after the fork


@worker_process_shutdown.connect
def close_producer(**_: Any) -> None:
    if _producer is not None:
        _producer.close()


@app.task
def record_order(order: dict[str, Any]) -> str:
    """Publish *order*, keyed by customer so that a customer's orders stay in order."""
    producer().queue_for_send(json.dumps(order), partition_key=order["customer"])
    return str(order["id"])


def main() -> None:
    """Run the tasks eagerly against a local emulator; check the hub."""
    from anyio_eventhubs.testing.emulator import EventHubsEmulator

    with EventHubsEmulator({"orders": 4}) as emulator:
        os.environ["EVENTHUB_CONNECTION_STRING"] = emulator.connection_string("orders")
        customers = ("alice", "bob", "carol")
        results = [
            record_order.delay({"id": n, "customer": customers[n % 3], "cents": 100 * n})
            for n in range(150)
        ]
        assert [r.get() for r in results] == [str(n) for n in range(150)]
        close_producer()  # what a worker process does when it stops
        assert emulator.event_count("orders") == 150
        print(emulator.event_count("orders"), "orders published")


if __name__ == "__main__":
    main()
