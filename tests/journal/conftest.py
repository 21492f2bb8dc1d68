"""The journal writes segments of format version 2 (copied into a memory map) where the
platform can reserve disk space, else of version 1 (one ``write`` per record): tests
that depend on how records reach the file run with each."""

from __future__ import annotations

import pytest

from anyio_eventhubs._journal import _mapped

_FORCE = "anyio_eventhubs._journal._store.mapping_available"


@pytest.fixture(params=[1, 2], ids=["written", "mapped"])
def segment_version(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """The format version of the segments the store writes in this test."""
    version: int = request.param
    if version == 1:
        monkeypatch.setattr(_FORCE, lambda: False)
    elif not _mapped.mapping_available():
        pytest.fail("this platform has no os.posix_fallocate: segments are never mapped")
    return version


@pytest.fixture
def written_segments(monkeypatch: pytest.MonkeyPatch) -> None:
    """Segments of format version 1 (a test of what a ``write`` does)."""
    monkeypatch.setattr(_FORCE, lambda: False)


@pytest.fixture
def mapped_segments() -> None:
    """Segments of format version 2 (a test of the memory-mapped writer)."""
    if not _mapped.mapping_available():
        pytest.fail("this platform has no os.posix_fallocate: segments are never mapped")
