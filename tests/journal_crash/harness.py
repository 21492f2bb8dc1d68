"""The crash test's parent side: the emulator process, children, kills and the read-back.

The emulator runs in a process of its own (``python -m anyio_eventhubs.testing.emulator``)
and outlives every child. A child (``child.py``) publishes numbered events through a
journaled producer and writes each number down once ``queue_for_send`` returned; the
parent kills it with SIGKILL at a random moment and starts the next one on the same
journal. At the end everything stored is read back with azure-eventhub's
``EventHubConsumerClient``.
"""

from __future__ import annotations

import json
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from azure.eventhub import EventData, EventHubConsumerClient

CHILD = Path(__file__).with_name("child.py")
RUN_STRIDE = 1_000_000


@contextmanager
def emulator_process(
    hubs: Sequence[str], partitions: int = 4, max_message_size: int | None = None
) -> Iterator[dict[str, str]]:
    """The emulator in its own process, serving *hubs*: ``{hub: connection string}``."""
    arguments = [sys.executable, "-m", "anyio_eventhubs.testing.emulator", "--port", "0"]
    if max_message_size is not None:
        arguments += ["--max-message-size", str(max_message_size)]
    for hub in hubs:
        arguments += ["--hub", f"{hub}:{partitions}"]
    process = subprocess.Popen(arguments, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        strings = [process.stdout.readline().strip() for _ in hubs]
        if not all(strings):
            raise RuntimeError(f"the emulator exited with {process.wait(timeout=10)}")
        yield dict(zip(hubs, strings, strict=True))
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


class Child:
    """One child process; its standard output lines arrive on :attr:`lines`."""

    def __init__(self, arguments: list[str]) -> None:
        self.process = subprocess.Popen(
            arguments, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.endswith("\n"):  # not the torn end of a line cut short by the kill
                self.lines.put(line.removesuffix("\n"))
        self.lines.put(None)

    def wait_for(self, prefix: str, timeout: float) -> str | None:
        """The first line starting with *prefix*; ``None`` if the child ended first."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise TimeoutError(f"no {prefix!r} from the child in {timeout} s") from None
            if line is None:
                return None
            self.seen.append(line)
            if line.startswith(prefix):
                return line

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.finish(10)
        while (line := self.lines.get(timeout=10)) is not None:  # what it printed before
            self.seen.append(line)

    def finish(self, timeout: float) -> tuple[int, str]:
        try:
            self.process.wait(timeout=timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
        self._reader.join(timeout=10)
        assert self.process.stderr is not None
        stderr = self.process.stderr.read()
        self.process.stderr.close()
        assert self.process.stdout is not None
        self.process.stdout.close()
        return self.process.returncode, stderr


@dataclass
class CrashRun:
    """What the kills did."""

    kills: int = 0
    #: kills after the producer opened and before its first queue_for_send returned
    kills_during_recovery: int = 0
    #: per child: events recovered from earlier runs (children that got that far)
    recovered: list[int] = field(default_factory=list)
    final: dict[str, Any] = field(default_factory=dict)
    elapsed: float = 0.0


def run_children(
    conn: str,
    work: Path,
    backend: str,
    *,
    idempotent: bool,
    kills: int,
    seed: int,
    rate: float = 3000.0,
    final_count: int = 300,
) -> CrashRun:
    """Run *kills* children killed at random moments, then one that finishes cleanly.

    Every third kill lands while the producer is recovering: a few milliseconds after it
    reported ``open``, before its first ``queue_for_send`` returned.
    """
    rng = random.Random(seed)
    journal, record = work / "journal", work / "record.txt"
    result = CrashRun()
    started = time.monotonic()

    def arguments(run: int, count: int) -> list[str]:
        args = [sys.executable, str(CHILD), "--backend", backend, "--conn", conn]
        args += ["--journal", str(journal), "--record", str(record), "--run", str(run)]
        args += ["--count", str(count), "--rate", str(rate)]
        return [*args, "--idempotent"] if idempotent else args

    for run in range(kills):
        child = Child(arguments(run, count=RUN_STRIDE - 1))
        if run % 3 == 1:  # during recovery: soon after the producer opened
            if child.wait_for("open", 60) is None:
                raise AssertionError(f"child {run} ended early: {child.finish(10)}")
            time.sleep(rng.uniform(0.0, 0.004))
        else:
            if child.wait_for("first", 60) is None:
                raise AssertionError(f"child {run} ended early: {child.finish(10)}")
            time.sleep(rng.uniform(0.05, 0.8))
        child.kill()
        result.kills += 1
        firsts = [line for line in child.seen if line.startswith("first")]
        if run % 3 == 1 and not firsts:
            result.kills_during_recovery += 1
        result.recovered += [int(line.split()[1]) for line in firsts]
    child = Child(arguments(kills, count=final_count))
    done = child.wait_for("done", 120)
    code, stderr = child.finish(60)
    if done is None or code != 0:
        raise AssertionError(f"the final child failed ({code}): {child.seen}\n{stderr}")
    result.final = json.loads(done.removeprefix("done "))
    result.recovered.append(result.final["recovered"])
    result.elapsed = time.monotonic() - started
    return result


def written_down(record: Path) -> list[int]:
    """The numbers the children wrote down (a torn last line from a kill is left out)."""
    text = record.read_bytes().decode()
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    elif lines:
        lines.pop()  # cut by a kill: the child never wrote it down in full
    return [int(line) for line in lines]


@dataclass(frozen=True)
class Stored:
    """One event as the consumer read it."""

    partition_id: str
    sequence_number: int
    n: int
    key: str
    partition_key: str | None
    property_n: object


def read_everything(conn: str, timeout: float = 120.0) -> list[Stored]:
    """Every event of the hub, partition by partition in sequence-number order."""
    client = EventHubConsumerClient.from_connection_string(conn, consumer_group="$Default")
    received: dict[str, list[Stored]] = {}
    with client:
        partition_ids = client.get_partition_ids()
        expected = {
            pid: client.get_partition_properties(pid)["last_enqueued_sequence_number"] + 1
            for pid in partition_ids
        }
        received = {pid: [] for pid in partition_ids}
        complete = threading.Event()
        if not sum(expected.values()):
            return []

        def on_event_batch(context: Any, events: list[EventData]) -> None:
            pid = context.partition_id
            for event in events:
                document = json.loads(event.body_as_str())
                properties = {
                    (k.decode() if isinstance(k, bytes) else k): v
                    for k, v in (event.properties or {}).items()
                }
                received[pid].append(
                    Stored(
                        pid,
                        event.sequence_number or 0,
                        int(document["n"]),
                        str(document["key"]),
                        event.partition_key.decode()
                        if isinstance(event.partition_key, bytes)
                        else event.partition_key,
                        properties.get("n"),
                    )
                )
            if all(len(received[p]) >= expected[p] for p in partition_ids):
                complete.set()

        thread = threading.Thread(
            target=client.receive_batch,
            kwargs={
                "on_event_batch": on_event_batch,
                "starting_position": "-1",
                "max_batch_size": 5000,
                "prefetch": 10000,
                "max_wait_time": 0.2,
            },
            daemon=True,
        )
        thread.start()
        arrived = complete.wait(timeout)
    thread.join(timeout=30)
    if not arrived:
        counts = {pid: len(events) for pid, events in received.items()}
        raise AssertionError(f"read {counts} of {expected} events in {timeout} s")
    return [event for pid in partition_ids for event in received[pid]]


@dataclass
class Verdict:
    """What the read-back shows."""

    written: int
    stored: int
    distinct: int
    missing: list[int]
    duplicated: dict[int, int]
    out_of_order: list[str]
    malformed: list[str]


def judge(written: list[int], stored: list[Stored]) -> Verdict:
    """Check *stored* against *written*: missing, duplicated and out-of-order numbers."""
    counts = Counter(event.n for event in stored)
    missing = sorted(set(written) - counts.keys())
    duplicated = {n: c for n, c in counts.items() if c > 1}
    out_of_order = []
    malformed = []
    last: dict[str, int] = {}
    seen: set[int] = set()
    for event in stored:  # each partition's events in order; a key lives on one partition
        if event.partition_key != event.key:
            malformed.append(f"event {event.n} has partition key {event.partition_key!r}")
        if event.n % 2 and event.property_n != event.n:
            malformed.append(f"event {event.n} has property n={event.property_n!r}")
        if event.n in seen:
            continue  # only first occurrences must be in order
        seen.add(event.n)
        if event.n < last.get(event.key, -1):
            out_of_order.append(f"{event.key}: {event.n} after {last[event.key]}")
        last[event.key] = event.n
    return Verdict(
        written=len(written),
        stored=len(stored),
        distinct=len(counts),
        missing=missing,
        duplicated=duplicated,
        out_of_order=out_of_order,
        malformed=malformed,
    )
