"""``send --journal DIR`` killed with SIGKILL, run again: every line published, in order.

The emulator runs in a process of its own; ``send`` reads a file of numbered JSON lines
and is killed three times at some point in the middle (the test waits until the input
position next to the journal passes a line, then kills at once), then run to the end.
Read back with azure-eventhub's consumer: every line is stored, each key's lines in
order (first occurrences), and the duplicates stay within the documented bound: per
kill, the events accepted without an outcome (per partition ``--max-queued-events`` and
two batches: the head batch and the one in flight; the hub's messages are 2 KiB, so
that this bound says something) and the one line whose position was not yet written;
with ``--idempotent``, only that line.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from anyio_eventhubs._cli._position import read_saved

from ..journal_crash.harness import emulator_process, read_everything
from .conftest import CLI

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

LINES = 9_000
PARTITIONS = 4
MAX_QUEUED = 50
KILL_AFTER = (1_000, 3_500, 6_000)
MAX_MESSAGE_SIZE = 2048


def _wait_for_line(process: subprocess.Popen[bytes], journal: Path, line: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # polling an external process, with a bound
        saved = read_saved(journal)
        if saved is not None and saved.line >= line:
            return
        if process.poll() is not None:
            raise AssertionError(f"send ended before line {line}: {process.returncode}")
        time.sleep(0.002)
    raise AssertionError(f"send did not reach line {line} in 60 s")


@pytest.mark.parametrize("idempotent", [False, True], ids=["plain", "idempotent"])
@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_killed_send_resumes_where_it_stopped(
    tmp_path: Path, backend: str, idempotent: bool
) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps({"n": n, "key": f"k{n % 7}"}) + "\n" for n in range(LINES)))
    journal = tmp_path / "journal"
    with emulator_process(["eh1"], PARTITIONS, MAX_MESSAGE_SIZE) as hubs:
        command = [*CLI, "send", str(path), "--journal", str(journal), "--backend", backend]
        command += ["--partition-key-field", "key", "--max-queued-events", str(MAX_QUEUED)]
        command += ["--max-wait-time", "0.05", "--progress", "off"]
        if idempotent:
            command.append("--idempotent")
        env = {**os.environ, "EVENTHUB_CONNECTION_STRING": hubs["eh1"]}
        killed_at = []
        for line in KILL_AFTER:
            process = subprocess.Popen(
                command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            try:
                _wait_for_line(process, journal, line)
            finally:
                process.send_signal(signal.SIGKILL)
                process.wait(timeout=10)
            saved = read_saved(journal)
            assert saved is not None
            killed_at.append(saved.line)
        final = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert final.returncode == 0, final.stderr + final.stdout  # the summary says why
        assert f"resuming after input line {killed_at[-1]:,}" in final.stderr
        assert read_saved(journal) is None  # finished: the next run starts afresh
        stored = read_everything(hubs["eh1"])

    counts = Counter(event.n for event in stored)
    assert sorted(counts) == list(range(LINES))  # every line, none lost
    duplicates = sum(counts.values()) - LINES
    mode = "idempotent" if idempotent else "plain"
    print(f"\n{backend} {mode}: killed after lines {killed_at}; {duplicates} duplicates")
    # a batch holds at most this many lines: each adds its body and 5 bytes at least
    per_batch = MAX_MESSAGE_SIZE // (min(len(line) for line in path.read_bytes().splitlines()) + 5)
    per_kill = 1 if idempotent else PARTITIONS * (MAX_QUEUED + 2 * per_batch) + 1
    assert duplicates <= len(KILL_AFTER) * per_kill
    last: dict[str, int] = {}
    seen: set[int] = set()
    for event in stored:
        assert event.partition_key == event.key
        if event.n not in seen:
            seen.add(event.n)
            assert event.n > last.get(event.key, -1), f"{event.key}: {event.n} after {last}"
            last[event.key] = event.n
