import trio

from anyio_eventhubs import open_streaming_producer
from anyio_eventhubs.testing.emulator import EventHubsEmulator


async def main() -> None:
    with EventHubsEmulator({"eh1": 4}) as emulator:  # or your namespace's connection string
        async with open_streaming_producer(emulator.connection_string("eh1")) as producer:

            async def device(name: str) -> None:  # each device publishes from its own task
                for i in range(100):
                    await producer.queue_for_send(f"{name}: reading {i}", partition_key=name)

            async with trio.open_nursery() as nursery:
                for name in ("boiler", "pump", "valve"):
                    nursery.start_soon(device, name)
        print(producer.statistics().published, "events published")


trio.run(main)
