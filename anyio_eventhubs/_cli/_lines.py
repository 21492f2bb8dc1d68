"""Newline-delimited input, read in chunks: no thread hop and no task switch per line.

A regular file is read in a worker thread, 256 KiB at a time. A pipe, socket or
terminal is read when it is readable (``anyio.wait_readable``), so that a Ctrl-C is not
stuck behind a blocked read. A stream without a file descriptor (``io.BytesIO``, click's
test runner) is read directly.
"""

from __future__ import annotations

import io
import os
import stat
from collections.abc import AsyncGenerator
from typing import BinaryIO

import anyio
from anyio.lowlevel import checkpoint

__all__ = ["LineSplitter", "read_line_batches"]

CHUNK_SIZE = 256 * 1024


class LineSplitter:
    """Cuts a byte stream into lines, without their ``\\n`` or ``\\r\\n``."""

    def __init__(self) -> None:
        self._tail = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        """The lines that *chunk* completes; a partial last line is kept for later."""
        lines = (self._tail + chunk).split(b"\n")
        self._tail = lines.pop()
        return [line[:-1] if line.endswith(b"\r") else line for line in lines]

    def end(self) -> list[bytes]:
        """The last line, if the input did not end with a newline."""
        tail, self._tail = self._tail, b""
        if tail.endswith(b"\r"):
            tail = tail[:-1]
        return [tail] if tail else []


def _file_descriptor(stream: BinaryIO) -> int | None:
    try:
        return stream.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        return None


def _is_pollable(fd: int) -> bool:
    if os.name == "nt":  # the proactor event loop cannot wait for a pipe to be readable
        return False
    mode = os.fstat(fd).st_mode
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or os.isatty(fd)


async def _read_chunk(stream: BinaryIO, fd: int | None, pollable: bool) -> bytes:
    if fd is None:
        await checkpoint()
        return stream.read(CHUNK_SIZE)
    if pollable:
        await anyio.wait_readable(fd)
        return os.read(fd, CHUNK_SIZE)
    return await anyio.to_thread.run_sync(os.read, fd, CHUNK_SIZE)


async def read_line_batches(stream: BinaryIO) -> AsyncGenerator[list[bytes], None]:
    """Yield the lines of *stream* in lists, one list per chunk read, until end of input.

    Cancellation is safe while waiting for a pipe or terminal; a regular file's read
    finishes first (it does not block for long).
    """
    fd = _file_descriptor(stream)
    pollable = fd is not None and _is_pollable(fd)
    splitter = LineSplitter()
    while chunk := await _read_chunk(stream, fd, pollable):
        lines = splitter.feed(chunk)
        if lines:
            yield lines
    last = splitter.end()
    if last:
        yield last
