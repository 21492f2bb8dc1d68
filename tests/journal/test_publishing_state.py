"""The idempotent publishing state files: round trip, torn writes, damage."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anyio_eventhubs._journal import JournalCorruptError
from anyio_eventhubs._journal._publishing_state import (
    PublishingStateFiles,
    SentBatch,
    StoredPublishing,
)

states = st.builds(
    StoredPublishing,
    st.integers(-(2**63), 2**63 - 1),
    st.integers(-(2**15), 2**15 - 1),
    st.one_of(
        st.none(),
        st.builds(
            SentBatch,
            st.integers(1, 2**64 - 1),
            st.integers(0, 2**63),
            st.integers(1, 2**32 - 1),
            st.integers(-(2**31), 2**31 - 1),
        ),
    ),
)


@given(history=st.lists(st.tuples(st.sampled_from(["0", "1", "é/7"]), states), min_size=1))
def test_the_last_write_of_each_partition_is_what_loads(
    tmp_path_factory: pytest.TempPathFactory, history: list[tuple[str, StoredPublishing]]
) -> None:
    directory = tmp_path_factory.mktemp("state")
    files = PublishingStateFiles(directory, sync=False)
    for pid, state in history:
        files.write(pid, state)
    files.close()
    assert PublishingStateFiles(directory, sync=True).load() == dict(history)


def only_file(directory: Path) -> Path:
    (path,) = directory.glob("publishing-*.state")
    return path


@pytest.mark.parametrize("cut", [0, 1, 12, 13, 40, 65])  # the frame is 66 bytes
def test_a_torn_write_leaves_the_state_before_it(tmp_path: Path, cut: int) -> None:
    files = PublishingStateFiles(tmp_path, sync=False)
    first = StoredPublishing(7, 0, SentBatch(1, 0, 10, 0))
    second = StoredPublishing(7, 0, SentBatch(1, 10, 5, -3))  # no zero byte at its end
    files.write("0", first)
    files.write("0", second)  # the second slot
    files.close()
    path = only_file(tmp_path)
    data = bytearray(path.read_bytes())
    data[128 + cut :] = bytes(len(data) - 128 - cut)  # the second write got only *cut* bytes
    path.write_bytes(bytes(data))
    assert PublishingStateFiles(tmp_path, sync=False).load() == {"0": first}


def test_both_copies_damaged_is_an_error_naming_the_file_or_quarantined(tmp_path: Path) -> None:
    files = PublishingStateFiles(tmp_path, sync=False)
    files.write("0", StoredPublishing(7, 0, None))
    files.write("0", StoredPublishing(7, 0, None))
    files.close()
    path = only_file(tmp_path)
    path.write_bytes(b"\x01" * 256)
    with pytest.raises(JournalCorruptError, match="both copies") as caught:
        PublishingStateFiles(tmp_path, sync=False).load()
    assert caught.value.path == path
    assert PublishingStateFiles(tmp_path, sync=False).load(quarantine_damaged=True) == {}
    assert (tmp_path / "quarantine" / path.name).exists()


def test_continues_the_counter_of_an_earlier_opening(tmp_path: Path) -> None:
    files = PublishingStateFiles(tmp_path, sync=False)
    for epoch in range(3):
        files.write("0", StoredPublishing(1, epoch, None))
    files.close()
    again = PublishingStateFiles(tmp_path, sync=False)
    again.load()
    again.write("0", StoredPublishing(1, 9, None))  # must beat the older slot
    again.close()
    assert PublishingStateFiles(tmp_path, sync=False).load() == {"0": StoredPublishing(1, 9, None)}
