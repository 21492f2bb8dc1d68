"""Bad input gets a clear exception naming what is wrong."""

from __future__ import annotations

from typing import Any

import pytest

from anyio_eventhubs import EventData, RetryOptions, open_streaming_producer
from anyio_eventhubs.testing import InMemoryEventHub

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("options", "exc", "match"),
    [
        ({"max_wait_time": -1}, ValueError, "max_wait_time must be >= 0"),
        ({"max_wait_time": "1"}, TypeError, "max_wait_time must be a number"),
        ({"max_queued_events": 0}, ValueError, "max_queued_events must be >= 1"),
        ({"max_queued_events": 1.5}, TypeError, "max_queued_events must be an int"),
        ({"max_queued_events": True}, TypeError, "max_queued_events must be an int"),
        ({"max_concurrent_sends": 0}, ValueError, "max_concurrent_sends must be >= 1"),
        (
            {"max_concurrent_sends_per_partition": 0},
            ValueError,
            "max_concurrent_sends_per_partition",
        ),
        (
            {"enable_idempotent_retries": "yes"},
            TypeError,
            "enable_idempotent_retries must be a bool",
        ),
        ({"retry_options": {"max_retries": 1}}, TypeError, "retry_options must be a RetryOptions"),
        ({"identifier": 7}, TypeError, "identifier must be a str"),
        ({"on_publish_failed": "print"}, TypeError, "on_publish_failed must be a callable"),
        ({"on_publish_succeeded": 1}, TypeError, "on_publish_succeeded must be a callable"),
        ({"close_timeout": -2}, ValueError, "close_timeout"),
        ({"max_wait": 1.0}, TypeError, "unexpected keyword argument 'max_wait'"),
        ({"transport": object()}, TypeError, "transport must implement"),
        (
            {"transport": InMemoryEventHub(1), "connection_string": "x"},
            ValueError,
            "replaces the connection",
        ),
        ({"connection_string": b"Endpoint=sb://x/"}, TypeError, "connection_string must be a str"),
        (
            {"transport": InMemoryEventHub(1), "eventhub_name": 3},
            TypeError,
            "eventhub_name must be a str",
        ),
        (
            {"enable_idempotent_retries": True, "transport": InMemoryEventHub(1)},
            ValueError,
            "supports idempotent publishing",
        ),
        ({}, ValueError, "give a connection string"),
    ],
)
async def test_bad_options_name_the_option(
    options: dict[str, Any], exc: type[Exception], match: str
) -> None:
    if options and "transport" not in options and "connection_string" not in options:
        options["transport"] = InMemoryEventHub(1)
    with pytest.raises(exc, match=match):
        async with open_streaming_producer(**options):
            pass


@pytest.mark.parametrize(
    ("event", "kwargs", "exc", "match"),
    [
        (None, {}, TypeError, "event must be EventData, bytes or str, got NoneType"),
        (42, {}, TypeError, "got int"),
        (bytearray(b"x"), {}, TypeError, "convert it with bytes"),
        ({"a": 1}, {}, TypeError, "got dict"),
        (b"x", {"partition_id": 0}, TypeError, "partition_id must be a str, got int"),
        (b"x", {"partition_key": b"k"}, TypeError, "partition_key must be a str, got bytes"),
        (b"x", {"partition_key": 5}, TypeError, "partition_key must be a str, got int"),
        (b"x", {"partition_key": ""}, ValueError, "partition_key must not be empty"),
        (b"x", {"partition_id": "9"}, ValueError, "no partition '9'"),
        (EventData(body=[]), {}, ValueError, r"must have a body.*give it b''"),
    ],
)
async def test_bad_events_and_routing_are_refused_and_nothing_is_queued(
    event: Any, kwargs: dict[str, Any], exc: type[Exception], match: str
) -> None:
    async with open_streaming_producer(transport=InMemoryEventHub(2)) as producer:
        with pytest.raises(exc, match=match):
            await producer.queue_for_send(event, **kwargs)
        with pytest.raises(exc, match=match):
            producer.try_queue_for_send(event, **kwargs)
        assert producer.total_queued_event_count == 0


async def test_a_huge_partition_key_is_accepted_and_routed() -> None:
    hub = InMemoryEventHub(4)
    key = "k" * 5000
    async with open_streaming_producer(transport=hub) as producer:
        await producer.queue_for_send(EventData(b"x"), partition_key=key)
    assert hub.published_count() == 1


async def test_partition_count_lookup_for_unknown_partition() -> None:
    async with open_streaming_producer(transport=InMemoryEventHub(2)) as producer:
        with pytest.raises(ValueError, match=r"\['0', '1'\]"):
            producer.get_partition_queued_event_count("5")
        with pytest.raises(TypeError):
            producer.get_partition_queued_event_count(1)  # type: ignore[arg-type]


def test_retry_options_reject_unknown_fields() -> None:
    with pytest.raises(TypeError):
        RetryOptions(retries=3)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("kwargs", "exc"),
    [
        ({"partition_count": 0}, ValueError),
        ({"partition_count": "4"}, TypeError),
        ({"name": ""}, ValueError),
        ({"max_message_size": 10}, ValueError),
    ],
)
def test_in_memory_hub_validates_its_arguments(
    kwargs: dict[str, Any], exc: type[Exception]
) -> None:
    with pytest.raises(exc):
        InMemoryEventHub(**kwargs)
