"""Ctrl-C presses: two signals count as two only when 0.5 s or more apart."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator

import pytest

from anyio_eventhubs._cli._signals import exit_status_for, presses

pytestmark = pytest.mark.anyio


async def test_signals_closer_than_half_a_second_are_one_press() -> None:
    times = iter([10.0, 10.01, 10.49, 10.5, 11.2, 11.3])

    async def signals() -> AsyncIterator[int]:
        for signum in (
            signal.SIGINT,
            signal.SIGINT,  # the same Ctrl-C, passed on by a wrapper such as timeout
            signal.SIGTERM,
            signal.SIGINT,
            signal.SIGINT,
            signal.SIGINT,
        ):
            yield signum

    counted = [s async for s in presses(signals(), clock=lambda: next(times))]
    assert counted == [signal.SIGINT, signal.SIGINT, signal.SIGINT]


def test_the_exit_status_names_the_signal() -> None:
    assert exit_status_for(signal.SIGINT) == 130
    assert exit_status_for(signal.SIGTERM) == 143
