"""Fixtures for the command-line tests: an emulator, and click's runner."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from anyio_eventhubs.testing.emulator import EventHubsEmulator

#: the command as a subprocess (the same as the ``anyio-eventhubs`` console script)
CLI = [sys.executable, "-m", "anyio_eventhubs._cli"]


@pytest.fixture
def emulator() -> Iterator[EventHubsEmulator]:
    """Hub ``eh1`` with 4 partitions, on a free port."""
    with EventHubsEmulator({"eh1": 4}) as emulator:
        yield emulator


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """click's runner, with the connection environment variables cleared."""
    for name in ("EVENTHUB_CONNECTION_STRING", "EVENTHUB_NAME", "EVENTHUB_NAMESPACE"):
        monkeypatch.delenv(name, raising=False)
    return CliRunner()
