"""The retry policy: ``RetryOptions`` and its pure back-off schedule.

No I/O, no anyio: the shell asks :func:`retry_delay` what to do after a failed attempt
and sleeps itself.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Literal

__all__ = ["RetryOptions", "retry_delay"]

_MODES = ("exponential", "fixed")


def _check_duration(
    name: str, value: object, *, allow_zero: bool = True, allow_inf: bool = True
) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, got {type(value).__name__}")
    if math.isnan(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {bound} seconds, got {value!r}")
    if math.isinf(value) and not allow_inf:
        # a back-off of inf seconds would make one transient failure wait forever
        raise ValueError(f"{name} must be a finite number of seconds, got {value!r}")


@dataclass(frozen=True)
class RetryOptions:
    """How the producer retries a batch after a transient failure.

    The producer's retry policy is the only one: the transport is told not to retry
    underneath it. Only errors whose ``is_transient`` is true are retried; the
    ``on_publish_failed`` handler runs once the policy gives up.

    :param max_retries: retries after the first attempt (0 disables retrying).
    :param delay: the first back-off, in seconds (finite).
    :param max_delay: the longest back-off, in seconds (finite).
    :param mode: ``"exponential"`` (delay doubles each retry) or ``"fixed"``.
    :param try_timeout: the longest one attempt may take, in seconds; ``math.inf`` for
        no limit. An attempt that times out is retried and may be stored twice.
    :param jitter: the fraction of each back-off that is randomised (0 to 1).
    """

    max_retries: int = 3
    delay: float = 0.8
    max_delay: float = 60.0
    mode: Literal["exponential", "fixed"] = "exponential"
    try_timeout: float = 60.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int):
            raise TypeError(f"max_retries must be an int, got {type(self.max_retries).__name__}")
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")
        _check_duration("delay", self.delay, allow_inf=False)
        _check_duration("max_delay", self.max_delay, allow_inf=False)
        _check_duration("try_timeout", self.try_timeout, allow_zero=False)
        if self.mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}, got {self.mode!r}")
        _check_duration("jitter", self.jitter)
        if self.jitter > 1:
            raise ValueError(f"jitter must be between 0 and 1, got {self.jitter!r}")


def retry_delay(
    options: RetryOptions,
    retries_done: int,
    *,
    is_transient: bool,
    rng: random.Random | None = None,
) -> float | None:
    """Return how long to wait before the next attempt, or ``None`` to give up.

    :param retries_done: how many retries have already been made for this batch.
    :param is_transient: whether the last failure may succeed on a retry.
    :param rng: the source of jitter (a seeded one makes the schedule reproducible).
    """
    if not is_transient or retries_done >= options.max_retries:
        return None
    if options.mode == "fixed":
        base = options.delay
    else:
        base = options.delay * (2.0 ** min(retries_done, 62))
    base = min(base, options.max_delay)
    if options.jitter:
        r = (rng or random).random()
        base *= 1.0 - options.jitter + 2.0 * options.jitter * r
        base = min(base, options.max_delay)
    return base
