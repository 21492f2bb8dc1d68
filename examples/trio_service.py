"""A Trio service: several tasks publish through one producer, in one nursery.

Each sensor task samples every few milliseconds and queues a reading keyed by its name,
so that each sensor's readings stay in order on one partition. The service runs until
it is cancelled (here after one second, as a deployment would on shutdown): leaving the
``async with`` by cancellation still gives what is queued ``close_timeout`` seconds to
be published, so no reading accepted by the producer is lost.

Run: ``python examples/trio_service.py`` (it starts the emulator itself).
"""

from __future__ import annotations

import json
import logging
import random
from collections import Counter

import trio

from anyio_eventhubs import (
    PublishFailedEventArgs,
    PublishSucceededEventArgs,
    StreamingProducer,
    open_streaming_producer,
)
from anyio_eventhubs.testing.emulator import EventHubsEmulator

SENSORS = ("boiler", "pump", "valve", "fan", "chiller")
logger = logging.getLogger("telemetry")


class Telemetry:
    """The service: sensors publishing, and the outcome of every reading counted."""

    def __init__(self) -> None:
        self.queued: Counter[str] = Counter()
        self.published: Counter[str] = Counter()  # per partition
        self.failed = 0

    # handlers run in the producer's tasks on this Trio loop: no locks needed
    def on_published(self, args: PublishSucceededEventArgs) -> None:
        self.published[args.partition_id] += len(args.events)

    def on_failed(self, args: PublishFailedEventArgs) -> None:
        self.failed += len(args.events)
        logger.error("%d readings lost: %s", len(args.events), args.exception)

    async def sensor(self, producer: StreamingProducer, name: str) -> None:
        value = 20.0
        for seq in range(1_000_000):
            value += random.uniform(-0.5, 0.5)
            reading = {"sensor": name, "seq": seq, "value": round(value, 2)}
            await producer.queue_for_send(json.dumps(reading), partition_key=name)
            self.queued[name] += 1  # accepted: it will be published or reported failed
            await trio.sleep(0.002)

    async def run(self, connection_string: str) -> None:
        async with (
            open_streaming_producer(
                connection_string,
                on_publish_succeeded=self.on_published,
                on_publish_failed=self.on_failed,
                max_wait_time=0.05,
            ) as producer,
            trio.open_nursery() as nursery,
        ):
            for name in SENSORS:
                nursery.start_soon(self.sensor, producer, name)


async def main() -> None:
    service = Telemetry()
    with EventHubsEmulator({"telemetry": 4}) as emulator:
        with trio.move_on_after(1.0):  # a service runs until it is cancelled
            await service.run(emulator.connection_string("telemetry"))
        stored = emulator.all_events("telemetry")
    queued, published = sum(service.queued.values()), sum(service.published.values())
    print(f"{queued} readings queued, {published} published, {service.failed} failed")
    print("per partition:", dict(sorted(service.published.items())))
    assert published == queued == len(stored)  # the cancellation lost nothing
    for name in SENSORS:  # and each sensor's readings are in order on one partition
        mine = [e for e in stored if json.loads(e.body)["sensor"] == name]
        assert len({e.partition_id for e in mine}) == 1
        assert [json.loads(e.body)["seq"] for e in mine] == list(range(len(mine)))


if __name__ == "__main__":
    trio.run(main)
