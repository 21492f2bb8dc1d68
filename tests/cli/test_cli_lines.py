"""Reading newline-delimited input in chunks: memory, regular files, pipes."""

from __future__ import annotations

import io
import os
from collections.abc import AsyncGenerator
from pathlib import Path

import anyio
import pytest

from anyio_eventhubs._cli._lines import CHUNK_SIZE, LineSplitter, read_line_batches


def test_lines_are_cut_across_chunks_without_their_line_endings() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"one\r\ntw") == [b"one"]
    assert splitter.feed(b"o\n\nthr") == [b"two", b""]
    assert splitter.feed(b"ee") == []
    assert splitter.end() == [b"three"]
    assert splitter.end() == []


def test_a_trailing_carriage_return_is_dropped_at_the_end() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"last\r") == []
    assert splitter.end() == [b"last"]


async def _collect(batches: AsyncGenerator[list[bytes], None]) -> list[bytes]:
    return [line async for batch in batches for line in batch]


@pytest.mark.anyio
async def test_a_stream_without_a_file_descriptor_is_read_directly() -> None:
    data = b"".join(b"line %d\n" % i for i in range(50_000))
    assert len(data) > 2 * CHUNK_SIZE
    lines = await _collect(read_line_batches(io.BytesIO(data + b"no newline")))
    assert len(lines) == 50_001
    assert lines[12_345] == b"line 12345"
    assert lines[-1] == b"no newline"


@pytest.mark.anyio
async def test_a_regular_file_is_read_in_a_worker_thread(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(b'{"n": %d}\n' % i for i in range(40_000)))
    with path.open("rb") as file:
        lines = await _collect(read_line_batches(file))
    assert len(lines) == 40_000
    assert lines[-1] == b'{"n": 39999}'


@pytest.mark.anyio
async def test_a_pipe_is_read_as_data_arrives() -> None:
    read_fd, write_fd = os.pipe()
    with os.fdopen(read_fd, "rb") as reader, os.fdopen(write_fd, "wb") as writer:
        batches = read_line_batches(reader)
        writer.write(b"first\nsec")
        writer.flush()
        assert await anext(batches) == [b"first"]  # returns with the pipe still open
        writer.write(b"ond\n")
        writer.flush()
        assert await anext(batches) == [b"second"]
        writer.close()
        assert await _collect(batches) == []


@pytest.mark.anyio
async def test_waiting_on_an_open_pipe_can_be_cancelled() -> None:
    read_fd, write_fd = os.pipe()
    with os.fdopen(read_fd, "rb") as reader, os.fdopen(write_fd, "wb"):
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as task_group:
                task_group.start_soon(_collect, read_line_batches(reader))
                await anyio.wait_all_tasks_blocked()
                scope.cancel()
        assert scope.cancelled_caught
