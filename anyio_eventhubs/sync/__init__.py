"""The streaming producer for synchronous code: Django and Flask views, Celery tasks,
scripts and notebooks.

The same producer (same options, handlers and guarantees), run on an event loop in a
thread that the producer owns (asyncio by default, Trio with ``backend="trio"``), with
blocking methods that any number of threads may call at once::

    from anyio_eventhubs.sync import open_streaming_producer

    with open_streaming_producer(conn_str, "my-hub") as producer:
        producer.queue_for_send(b"reading", partition_key="device-7")

Queueing costs no round trip to the loop: the event is validated, encoded and routed in
the calling thread and handed over in bulk. Handlers run on the producer's thread. A
producer opened before a fork is refused in the child. See ``docs/sync.md``.
"""

from __future__ import annotations

from ._open import open_streaming_producer as open_streaming_producer
from ._producer import StreamingProducer as StreamingProducer

__all__ = ["StreamingProducer", "open_streaming_producer"]
