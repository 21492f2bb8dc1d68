"""The command as real processes: the emulator serving, send publishing to it, Ctrl-C, demo."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator

import pytest
from azure.eventhub import EventHubConsumerClient

from .conftest import CLI


@pytest.fixture
def emulator_process() -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [*CLI, "emulator", "--hub", "orders:2", "--hub", "audit:3", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


def test_send_publishes_to_the_emulator_command(emulator_process: subprocess.Popen[str]) -> None:
    assert emulator_process.stdout is not None
    orders = emulator_process.stdout.readline().strip()  # printed (and flushed) at start
    audit = emulator_process.stdout.readline().strip()
    assert orders.endswith(";EntityPath=orders;UseDevelopmentEmulator=true")
    assert "EntityPath=audit;" in audit

    lines = "".join(f'{{"customer": "c{i % 5}", "n": {i}}}\n' for i in range(1000))
    sent = subprocess.run(
        [*CLI, "send", "--partition-key-field", "customer", "--backend", "trio"],
        input=lines,
        capture_output=True,
        text=True,
        env={**os.environ, "EVENTHUB_CONNECTION_STRING": orders},
        timeout=60,
    )
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.startswith("published 1,000 of 1,000 events in ")

    with EventHubConsumerClient.from_connection_string(orders, consumer_group="$Default") as c:
        stored = sum(
            c.get_partition_properties(pid)["last_enqueued_sequence_number"] + 1
            for pid in ("0", "1")
        )
    assert stored == 1000

    emulator_process.send_signal(signal.SIGINT)
    assert emulator_process.wait(timeout=10) == 0
    assert emulator_process.stderr is not None
    assert "emulator stopped" in emulator_process.stderr.read()


def test_the_demo_runs_as_a_process() -> None:
    demo = subprocess.run(
        [*CLI, "demo", "--events", "300", "--progress", "plain"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert demo.returncode == 0, demo.stderr
    assert "Every event came back once" in demo.stdout
    assert "publishing: connecting to 127.0.0.1:" in demo.stderr  # plain lines off a terminal
    assert "published 300 · failed 0 · unknown 0" in demo.stderr
