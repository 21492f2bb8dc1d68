"""The streaming producer against a model, on both backends; and the public strategies.

The state machine (``anyio_eventhubs.testing.stateful``) runs the producer in a blocking
portal and drives it from synchronous rules: these tests are sync, not anyio tests.
"""

from __future__ import annotations

import math
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import run_state_machine_as_test
from trio.testing import MockClock

from anyio_eventhubs import (
    EventData,
    PublishSucceededEventArgs,
    RetryOptions,
    StreamingProducer,
    partition_for_key,
)
from anyio_eventhubs._events import encode_event
from anyio_eventhubs._retry import retry_delay
from anyio_eventhubs.testing import InMemoryEventHub
from anyio_eventhubs.testing.stateful import StreamingProducerStateMachine, body_bytes
from anyio_eventhubs.testing.strategies import (
    event_bodies,
    event_properties,
    events,
    partition_keys,
    retry_options,
)

from .azure_reference import decode_event

# -- the state machine, on both backends -----------------------------------------------------


class AsyncioProducerMachine(StreamingProducerStateMachine):
    backend = "asyncio"


class TrioProducerMachine(StreamingProducerStateMachine):
    backend = "trio"


class TrioVirtualTimeProducerMachine(StreamingProducerStateMachine):
    """Batch deadlines, retry back-offs and attempt timeouts, on a frozen MockClock."""

    backend = "trio"
    max_wait_time = 0.5
    retry_options = RetryOptions(
        max_retries=2, delay=0.2, max_delay=1.0, jitter=0.5, try_timeout=3.0
    )

    def make_backend_options(self) -> dict[str, Any]:
        return {"clock": MockClock()}  # rate 0, no autojump: only the rules move it


class AsyncioGlobalSendLimitProducerMachine(StreamingProducerStateMachine):
    """One batch in flight over all partitions (``max_concurrent_sends=1``)."""

    backend = "asyncio"

    def producer_options(self) -> dict[str, Any]:
        return {"max_concurrent_sends": 1}


MACHINES = [
    pytest.param(AsyncioProducerMachine, id="asyncio"),
    pytest.param(TrioProducerMachine, id="trio"),
    pytest.param(TrioVirtualTimeProducerMachine, id="trio-virtual-time"),
]
SLOW_MACHINES = [
    *MACHINES,
    pytest.param(AsyncioGlobalSendLimitProducerMachine, id="asyncio-global-send-limit"),
]

_COMMON: dict[str, Any] = {
    "deadline": None,
    "database": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
DEFAULT_SETTINGS = settings(max_examples=150, stateful_step_count=50, **_COMMON)
# sized so the four slow variants take about three minutes together on 2 cores
SLOW_SETTINGS = settings(max_examples=300, stateful_step_count=100, **_COMMON)


@pytest.mark.parametrize("machine", MACHINES)
def test_producer_keeps_its_contracts_under_random_operations(
    machine: type[StreamingProducerStateMachine],
) -> None:
    run_state_machine_as_test(machine, settings=DEFAULT_SETTINGS)


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("machine", SLOW_MACHINES)
def test_producer_keeps_its_contracts_under_long_random_runs(
    machine: type[StreamingProducerStateMachine],
) -> None:
    run_state_machine_as_test(machine, settings=SLOW_SETTINGS)


# -- the invariants catch a producer that loses an event ---------------------------------------

_FIND_FAST = settings(
    max_examples=200,
    stateful_step_count=30,
    phases=[Phase.generate],
    derandomize=True,
    **_COMMON,
)


class LosesOneOutcome(AsyncioProducerMachine):
    """A producer whose first successful batch is never reported to the handler."""

    def open_producer(self, hub: InMemoryEventHub, **options: Any) -> Any:
        report = options["on_publish_succeeded"]
        lost: list[PublishSucceededEventArgs] = []

        def lossy(args: PublishSucceededEventArgs) -> None:
            if not lost:
                lost.append(args)
                return
            report(args)

        return super().open_producer(hub, **{**options, "on_publish_succeeded": lossy})


class DropsOneEvent(TrioProducerMachine):
    """A publisher that says it queued its fourth event, but did not."""

    calls = 0

    async def publish(
        self,
        producer: StreamingProducer,
        event: EventData | bytes | str,
        *,
        partition_id: str | None,
        partition_key: str | None,
    ) -> None:
        self.calls += 1
        if self.calls == 4:
            return
        await super().publish(
            producer, event, partition_id=partition_id, partition_key=partition_key
        )


def test_the_machine_catches_a_lost_outcome() -> None:
    with pytest.raises(AssertionError, match=r"without a final outcome|reported published"):
        run_state_machine_as_test(LosesOneOutcome, settings=_FIND_FAST)


def test_the_machine_catches_an_event_dropped_on_queueing() -> None:
    with pytest.raises(AssertionError, match="grew by"):
        run_state_machine_as_test(DropsOneEvent, settings=_FIND_FAST)


# -- the strategies ------------------------------------------------------------------------


@given(event_bodies(max_size=32))
def test_event_bodies_are_bytes_or_str(body: bytes | str) -> None:
    assert isinstance(body, bytes | str)
    assert len(body) <= 32


@given(events())
def test_events_encode_and_round_trip(event: EventData | bytes | str) -> None:
    decoded = decode_event(encode_event(event, None))
    if isinstance(event, EventData):
        assert body_bytes(decoded) == body_bytes(event)
        assert decoded.content_type == event.content_type
        if event.properties:
            assert decoded.properties is not None
            assert {cast(bytes, k).decode() for k in decoded.properties} == set(event.properties)
    else:
        raw = event if isinstance(event, bytes) else event.encode()
        assert body_bytes(decoded) == raw


@given(event_properties())
def test_event_properties_are_encodable(props: dict[str, Any]) -> None:
    event = EventData(b"x")
    event.properties = props  # type: ignore[assignment]
    encode_event(event, None)


@given(partition_keys())
def test_partition_keys_are_accepted_keys(key: str) -> None:
    assert isinstance(key, str)
    assert key
    assert partition_for_key(key, ["0", "1", "2", "3"]) in {"0", "1", "2", "3"}
    encode_event(b"x", key)


@pytest.mark.parametrize(
    "condition",
    [
        pytest.param(lambda k: len(k.encode()) % 12 == 0 and not k.isascii(), id="non-ascii-12"),
        pytest.param(lambda k: len(k) == 12 and k.isascii(), id="ascii-12"),
        pytest.param(lambda k: not k.isascii(), id="non-ascii"),
    ],
)
def test_partition_keys_reach_the_hash_edge_cases(condition: Any) -> None:
    find(partition_keys(), condition, settings=settings(database=None, max_examples=500))


@given(retry_options(max_delay=5.0), st.integers(min_value=0, max_value=10), st.booleans())
def test_retry_options_are_valid_and_bounded(
    options: RetryOptions, retries_done: int, transient: bool
) -> None:
    assert isinstance(options, RetryOptions)
    assert options.delay <= 5.0
    assert options.max_delay <= 5.0
    assert options.try_timeout > 0
    delay = retry_delay(options, retries_done, is_transient=transient)
    if delay is not None:
        assert 0 <= delay <= options.max_delay
        assert not math.isnan(delay)


def test_strategies_validate_their_bounds() -> None:
    with pytest.raises(ValueError, match="max_size"):
        partition_keys(max_size=0)
    with pytest.raises(ValueError, match="max_retries"):
        retry_options(max_retries=-1)
    with pytest.raises(ValueError, match="max_delay"):
        retry_options(max_delay=math.inf)
