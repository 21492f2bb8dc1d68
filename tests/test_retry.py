from __future__ import annotations

import math
import random

import pytest

from anyio_eventhubs import RetryOptions
from anyio_eventhubs._retry import retry_delay


def test_exponential_back_off_doubles_up_to_max_delay() -> None:
    options = RetryOptions(max_retries=10, delay=1.0, max_delay=5.0, jitter=0)
    delays = [retry_delay(options, n, is_transient=True) for n in range(5)]
    assert delays == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_fixed_mode_waits_the_same_each_time() -> None:
    options = RetryOptions(max_retries=3, delay=0.5, mode="fixed", jitter=0)
    assert [retry_delay(options, n, is_transient=True) for n in range(3)] == [0.5] * 3


def test_gives_up_after_max_retries() -> None:
    options = RetryOptions(max_retries=2, jitter=0)
    assert retry_delay(options, 2, is_transient=True) is None


def test_non_transient_errors_are_not_retried() -> None:
    assert retry_delay(RetryOptions(), 0, is_transient=False) is None


def test_jitter_stays_within_its_fraction() -> None:
    options = RetryOptions(delay=1.0, jitter=0.2)
    rng = random.Random(7)
    for _ in range(200):
        delay = retry_delay(options, 0, is_transient=True, rng=rng)
        assert delay is not None
        assert 0.8 <= delay <= 1.2


def test_defaults_match_the_documented_policy() -> None:
    options = RetryOptions()
    assert (
        options.max_retries,
        options.delay,
        options.max_delay,
        options.mode,
        options.try_timeout,
    ) == (
        3,
        0.8,
        60.0,
        "exponential",
        60.0,
    )


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"max_retries": -1}, ValueError, "max_retries"),
        ({"max_retries": 1.5}, TypeError, "max_retries"),
        ({"delay": -1}, ValueError, "delay"),
        ({"delay": "1"}, TypeError, "delay"),
        ({"max_delay": math.nan}, ValueError, "max_delay"),
        ({"try_timeout": 0}, ValueError, "try_timeout"),
        ({"mode": "linear"}, ValueError, "mode"),
        ({"jitter": 2}, ValueError, "jitter"),
    ],
)
def test_bad_retry_options_name_the_option(
    kwargs: dict[str, object], exc: type[Exception], match: str
) -> None:
    with pytest.raises(exc, match=match):
        RetryOptions(**kwargs)  # type: ignore[arg-type]
