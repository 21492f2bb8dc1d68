import asyncio

from anyio_eventhubs import open_streaming_producer
from anyio_eventhubs.testing.emulator import EventHubsEmulator


async def main() -> None:
    with EventHubsEmulator({"eh1": 4}) as emulator:  # or your namespace's connection string
        conn_str = emulator.connection_string("eh1")
        async with open_streaming_producer(conn_str, max_wait_time=0.5) as producer:
            for i in range(1000):
                await producer.queue_for_send(f"reading {i}", partition_key=f"device-{i % 7}")
        print(producer.statistics().published, "events published")


asyncio.run(main())
