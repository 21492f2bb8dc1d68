"""The lifetime options and the stdin commands of ``python -m anyio_eventhubs.testing.emulator``."""

from __future__ import annotations

import subprocess
import sys

import pytest
from azure.eventhub import EventHubProducerClient

from anyio_eventhubs.testing.emulator import EventHubsEmulator
from anyio_eventhubs.testing.emulator.__main__ import _parser, command

_CLI = [sys.executable, "-m", "anyio_eventhubs.testing.emulator"]


def test_a_separate_emulator_adds_partitions_on_a_stdin_command() -> None:
    process = subprocess.Popen(
        [*_CLI, "--hub", "eh1:2", "--commands", "--idle-timeout", "off"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    try:
        connection_string = process.stdout.readline().strip()
        process.stdin.write("add-partitions eh1 2\nadd-partitions nope 1\nfly\n")
        process.stdin.flush()
        assert process.stdout.readline().strip() == "added eh1 2,3"
        assert process.stdout.readline().strip() == "error no event hub 'nope'"
        assert "unknown command 'fly'" in process.stdout.readline()
        with EventHubProducerClient.from_connection_string(connection_string) as client:
            assert client.get_partition_ids() == ["0", "1", "2", "3"]
    finally:
        process.terminate()
        process.communicate(timeout=10)


def test_the_timing_options_reach_the_emulator() -> None:
    args = _parser().parse_args(
        ["--first-token-timeout", "0.5", "--max-token-lifetime", "10", "--idle-timeout", "off"]
    )
    assert (args.first_token_timeout, args.max_token_lifetime, args.idle_timeout) == (0.5, 10, None)
    assert (args.first_link_timeout, args.linkless_timeout) == (60, 300)  # the service's
    assert _parser().parse_args([]).max_token_lifetime is None


@pytest.mark.parametrize("bad", ["0", "-1", "soon", "inf"])
def test_a_timing_option_must_be_seconds_or_off(
    bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        _parser().parse_args(["--linkless-timeout", bad])
    assert "--linkless-timeout" in capsys.readouterr().err


def test_commands_name_what_is_wrong() -> None:
    emulator = EventHubsEmulator({"eh1": 1})
    assert command(emulator, "add-partitions eh1 0") == (
        "error count must be a positive int, got 0"
    )
    assert command(emulator, "add-partitions eh1 x").startswith("error invalid literal")
    assert command(emulator, "add-partitions eh1 3") == "added eh1 1,2,3"
