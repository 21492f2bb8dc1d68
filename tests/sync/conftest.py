from __future__ import annotations

import pytest


@pytest.fixture(params=["asyncio", "trio"])
def backend(request: pytest.FixtureRequest) -> str:
    """The event loop the blocking producer's thread runs: every test runs on both."""
    return str(request.param)
