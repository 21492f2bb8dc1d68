"""A Starlette (or FastAPI) app whose producer lives in the app's lifespan.

The producer opens when the app starts and closes, publishing what is queued, when it
stops. Request handlers only queue: they never wait for the service (unless a partition
holds ``max_queued_events`` events, which is backpressure doing its job).

Serve it against a hub: ``EVENTHUB_CONNECTION_STRING=... uvicorn starlette_lifespan:app
--app-dir examples``. Run as a script (``python examples/starlette_lifespan.py``), it
starts the emulator, serves the app with uvicorn, posts readings to it, stops the
server, and checks that the hub holds every reading.
FastAPI takes the same ``lifespan`` function: ``FastAPI(lifespan=lifespan)``.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypedDict

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from anyio_eventhubs import PublishFailedEventArgs, StreamingProducer, open_streaming_producer

logger = logging.getLogger("readings")


class State(TypedDict):
    producer: StreamingProducer


def log_failure(args: PublishFailedEventArgs) -> None:
    # runs on the app's event loop; keep it short (a dead-letter queue, a metric, ...)
    logger.error("%d readings not published: %s", len(args.events), args.exception)


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[State]:
    async with open_streaming_producer(
        os.environ["EVENTHUB_CONNECTION_STRING"],
        os.environ.get("EVENTHUB_NAME"),
        on_publish_failed=log_failure,
        max_wait_time=0.1,
    ) as producer:
        yield {"producer": producer}  # each request finds it in request.state


async def post_reading(request: Request) -> JSONResponse:
    reading = await request.json()
    if not isinstance(reading, dict) or not isinstance(reading.get("device"), str):
        return JSONResponse({"error": "a JSON object with a 'device' string"}, 422)
    producer: StreamingProducer = request.state.producer
    await producer.queue_for_send(json.dumps(reading), partition_key=reading["device"])
    return JSONResponse({"queued": True}, 202)


async def health(request: Request) -> JSONResponse:
    producer: StreamingProducer = request.state.producer
    stats = producer.statistics()
    return JSONResponse({"queued": stats.queued, "published": stats.published})


app = Starlette(
    routes=[
        Route("/readings", post_reading, methods=["POST"]),
        Route("/health", health),
    ],
    lifespan=lifespan,
)


def post(port: int, path: str, body: object) -> int:
    """POST *body* as JSON with the standard library; return the status."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def send_readings(port: int) -> None:
    for i in range(200):
        assert post(port, "/readings", {"device": f"dev-{i % 5}", "n": i}) == 202
    assert post(port, "/readings", [1]) == 422
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as response:
        print("health:", json.load(response))


async def main() -> None:
    """Serve the app with uvicorn against a local emulator, post to it, check the hub."""
    from anyio_eventhubs.testing.emulator import EventHubsEmulator

    with EventHubsEmulator({"readings": 4}) as emulator:
        os.environ["EVENTHUB_CONNECTION_STRING"] = emulator.connection_string("readings")
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        with socket.create_server(("127.0.0.1", 0)) as listener:
            port = listener.getsockname()[1]  # listening already: requests wait for startup
            async with anyio.create_task_group() as task_group:
                task_group.start_soon(server.serve, [listener])
                await anyio.to_thread.run_sync(send_readings, port)
                server.should_exit = True  # uvicorn stops; the lifespan closes the producer
        assert emulator.event_count("readings") == 200
        print(emulator.event_count("readings"), "readings published")


if __name__ == "__main__":
    anyio.run(main)  # uvicorn runs on asyncio
