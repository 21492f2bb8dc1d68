"""A producer that lives through what the service does over days (issue #12), shortened.

The emulator applies the service's rules with timings of a second or two
(``docs/service-lifetime.md``): tokens that expire, connections closed when idle. The
idle gaps and token lifetimes *are* the scenario here, so the tests wait through them;
they publish before and after and check that no event failed and every one is stored.
"""

from __future__ import annotations

import pytest

from anyio_eventhubs.testing.emulator import EventHubsEmulator

from ..emulator_fixtures import _collect_garbage_after_each_test  # noqa: F401
from ..helpers import Recorder
from .conftest import publish_across, start

pytestmark = pytest.mark.anyio


async def test_an_idle_gap_longer_than_the_idle_timeout(
    stop_after: list[EventHubsEmulator],
) -> None:
    emulator = start(idle_timeout=0.5)
    stop_after.append(emulator)
    rec = Recorder()
    await publish_across(emulator, 1.5, rec)
    assert not rec.failed
    assert emulator.event_count("eh1") == 8
