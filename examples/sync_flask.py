"""A Flask app that publishes from its views with the blocking producer.

Each process opens one producer, on first use: under a pre-fork server (gunicorn), that
is in the worker, after the fork — a producer opened before a fork is refused in the
child. Views only queue: ``queue_for_send`` returns as soon as the event is handed over
(it waits only while a partition holds ``max_queued_events`` events), and the handlers
run on the producer's own thread. The producer is closed, publishing what is queued,
when the process exits.

Serve it against a hub: ``EVENTHUB_CONNECTION_STRING=... flask --app examples/sync_flask
run`` (or ``gunicorn 'sync_flask:create_app()' --chdir examples``). Run as a script
(``python examples/sync_flask.py``), it starts the emulator, posts readings through
Flask's test client (no server), closes the producer and checks that the hub holds every
reading.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import threading
from typing import Any

from flask import Flask, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from anyio_eventhubs import PublishFailedEventArgs
from anyio_eventhubs.sync import StreamingProducer, open_streaming_producer

logger = logging.getLogger("readings")
_lock = threading.Lock()


def log_failure(args: PublishFailedEventArgs) -> None:
    # runs on the producer's thread, not in a request; keep it short
    logger.error("%d readings not published: %s", len(args.events), args.exception)


def get_producer() -> StreamingProducer:
    """This process's producer, opened on first use (after any fork) and closed at exit."""
    extensions: dict[str, Any] = current_app.extensions
    with _lock:
        producer: StreamingProducer | None = extensions.get("eventhubs")
        if producer is None or producer.is_closed:  # closed: e.g. inherited through a fork
            producer = open_streaming_producer(
                current_app.config["EVENTHUB_CONNECTION_STRING"],
                current_app.config.get("EVENTHUB_NAME"),
                on_publish_failed=log_failure,
                max_wait_time=0.1,
            )
            atexit.register(producer.close)
            extensions["eventhubs"] = producer
        return producer


def create_app() -> Flask:
    app = Flask(__name__)
    app.config.from_prefixed_env("APP")  # e.g. APP_EVENTHUB_CONNECTION_STRING
    app.config.setdefault(
        "EVENTHUB_CONNECTION_STRING", os.environ.get("EVENTHUB_CONNECTION_STRING")
    )

    @app.post("/readings")
    def post_reading() -> ResponseReturnValue:
        reading = request.get_json(silent=True)
        if not isinstance(reading, dict) or not isinstance(reading.get("device"), str):
            return jsonify(error="a JSON object with a 'device' string"), 422
        get_producer().queue_for_send(json.dumps(reading), partition_key=reading["device"])
        return jsonify(queued=True), 202

    @app.get("/health")
    def health() -> ResponseReturnValue:
        stats = get_producer().statistics()
        return jsonify(queued=stats.queued, published=stats.published)

    return app


def main() -> None:
    """Post readings through the test client against a local emulator; check the hub."""
    from anyio_eventhubs.testing.emulator import EventHubsEmulator

    with EventHubsEmulator({"readings": 4}) as emulator:
        app = create_app()
        app.config["EVENTHUB_CONNECTION_STRING"] = emulator.connection_string("readings")
        client = app.test_client()
        for i in range(200):
            response = client.post("/readings", json={"device": f"dev-{i % 5}", "n": i})
            assert response.status_code == 202, response.get_data(as_text=True)
        assert client.post("/readings", json=[1]).status_code == 422
        print("health:", client.get("/health").get_json())
        with app.app_context():
            get_producer().close()  # what the exit would do: publish what is queued
        assert emulator.event_count("readings") == 200
        print(emulator.event_count("readings"), "readings published")


if __name__ == "__main__":
    main()
