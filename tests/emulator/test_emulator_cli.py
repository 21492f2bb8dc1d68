"""The emulator as a separate process, and the black-hole listener."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest
from azure.eventhub import EventData, EventHubConsumerClient, EventHubProducerClient

from anyio_eventhubs.testing.emulator import black_hole_listener

_CLI = [sys.executable, "-m", "anyio_eventhubs.testing.emulator"]


@pytest.fixture
def cli() -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [*_CLI, "--hub", "cli1:2", "--hub", "cli2", "--max-message-size", "65536"],
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


def test_the_cli_prints_connection_strings_and_serves_until_sigterm(
    cli: subprocess.Popen[str],
) -> None:
    assert cli.stdout is not None
    first = cli.stdout.readline().strip()  # flushed at once: this does not wait for exit
    second = cli.stdout.readline().strip()
    assert first.startswith("Endpoint=sb://127.0.0.1:")
    assert first.endswith(";EntityPath=cli1;UseDevelopmentEmulator=true")
    assert "EntityPath=cli2;" in second

    with EventHubProducerClient.from_connection_string(first, retry_total=0) as client:
        assert client.get_partition_ids() == ["0", "1"]
        client.send_event(EventData("over the process boundary"), partition_id="1")
        assert client.create_batch().max_size_in_bytes == 65536
    with EventHubConsumerClient.from_connection_string(first, consumer_group="$default") as c:
        assert c.get_partition_properties("1")["last_enqueued_sequence_number"] == 0

    cli.send_signal(signal.SIGTERM)
    assert cli.wait(timeout=10) == 0


def test_the_cli_rejects_a_malformed_hub() -> None:
    result = subprocess.run(
        [*_CLI, "--hub", "eh:zero"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "expected NAME[:PARTITIONS]" in result.stderr


def test_the_black_hole_accepts_and_never_answers() -> None:
    with (
        black_hole_listener() as (host, port),
        socket.create_connection((host, port), timeout=5) as sock,
    ):
        sock.sendall(b"AMQP\x03\x01\x00\x00")
        sock.settimeout(0.2)
        with pytest.raises(TimeoutError):
            sock.recv(8)
    with pytest.raises(ConnectionRefusedError):  # closed on exit
        socket.create_connection((host, port), timeout=1).close()
