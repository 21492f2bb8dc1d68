"""Without opentelemetry-api installed, the package imports and publishes as before."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import sys

    sys.modules["opentelemetry"] = None  # as if opentelemetry-api were not installed

    import anyio

    from anyio_eventhubs import open_streaming_producer
    from anyio_eventhubs._telemetry import producer_telemetry
    from anyio_eventhubs.testing import InMemoryEventHub


    async def main() -> None:
        hub = InMemoryEventHub(2)
        async with open_streaming_producer(transport=hub) as producer:
            assert producer_telemetry(producer) is None
            for i in range(10):
                await producer.queue_for_send(b"event %d" % i)
        assert not any(event.properties for event in hub.published_events("0"))
        print("published", hub.published_count())


    anyio.run(main, backend=sys.argv[1])
    """
)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_the_package_publishes_with_opentelemetry_not_importable(backend: str) -> None:
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", SCRIPT, backend],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "published 10"
