"""Validation of ``open_streaming_producer``'s options into one frozen record."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from ._events import PublishFailedEventArgs, PublishSucceededEventArgs
from ._retry import RetryOptions

__all__ = ["FailedHandler", "ProducerOptions", "SucceededHandler"]

SucceededHandler: TypeAlias = Callable[[PublishSucceededEventArgs], "Awaitable[None] | None"]
FailedHandler: TypeAlias = Callable[[PublishFailedEventArgs], "Awaitable[None] | None"]


def _int_option(name: str, value: object, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def _seconds_option(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, got {type(value).__name__}")
    if math.isnan(value) or value < 0:
        raise ValueError(f"{name} must be >= 0 seconds, got {value!r}")
    return float(value)


def _handler_option(name: str, value: object) -> Any:
    if value is not None and not callable(value):
        raise TypeError(f"{name} must be a callable or None, got {type(value).__name__}")
    return value


@dataclass(frozen=True)
class ProducerOptions:
    """The validated options of one producer."""

    on_publish_succeeded: SucceededHandler | None = None
    on_publish_failed: FailedHandler | None = None
    max_wait_time: float | None = 1.0
    max_queued_events: int = 1500
    max_concurrent_sends: int | None = None
    max_concurrent_sends_per_partition: int = 1
    enable_idempotent_retries: bool = False
    retry_options: RetryOptions = field(default_factory=RetryOptions)
    identifier: str | None = None
    close_timeout: float = 30.0
    enable_telemetry: bool = True
    refresh_partitions_every: float | None = 60.0

    def __post_init__(self) -> None:
        _handler_option("on_publish_succeeded", self.on_publish_succeeded)
        _handler_option("on_publish_failed", self.on_publish_failed)
        if self.max_wait_time is not None:
            _seconds_option("max_wait_time", self.max_wait_time)
        _int_option("max_queued_events", self.max_queued_events, minimum=1)
        if self.max_concurrent_sends is not None:
            _int_option("max_concurrent_sends", self.max_concurrent_sends, minimum=1)
        _int_option(
            "max_concurrent_sends_per_partition", self.max_concurrent_sends_per_partition, minimum=1
        )
        if not isinstance(self.enable_idempotent_retries, bool):
            raise TypeError(
                "enable_idempotent_retries must be a bool, got "
                f"{type(self.enable_idempotent_retries).__name__}"
            )
        if self.enable_idempotent_retries and self.max_concurrent_sends_per_partition != 1:
            raise ValueError(
                "enable_idempotent_retries=True needs max_concurrent_sends_per_partition=1 "
                f"(idempotent publishing depends on ordering), got "
                f"{self.max_concurrent_sends_per_partition}"
            )
        if not isinstance(self.retry_options, RetryOptions):
            raise TypeError(
                f"retry_options must be a RetryOptions, got {type(self.retry_options).__name__}"
            )
        if self.identifier is not None and not isinstance(self.identifier, str):
            raise TypeError(
                f"identifier must be a str or None, got {type(self.identifier).__name__}"
            )
        _seconds_option("close_timeout", self.close_timeout)
        if self.refresh_partitions_every is not None:
            _seconds_option("refresh_partitions_every", self.refresh_partitions_every)
            if not self.refresh_partitions_every > 0:
                raise ValueError(
                    "refresh_partitions_every must be > 0 seconds (or None: never), got "
                    f"{self.refresh_partitions_every!r}"
                )
        if not isinstance(self.enable_telemetry, bool):
            raise TypeError(
                f"enable_telemetry must be a bool, got {type(self.enable_telemetry).__name__}"
            )
