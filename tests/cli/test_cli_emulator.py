"""``anyio-eventhubs emulator``: the options (the running server is in test_cli_processes)."""

from __future__ import annotations

import socket
import sys

import pytest
from click.testing import CliRunner

from anyio_eventhubs._cli import main


@pytest.mark.parametrize("hub", ["eh1:0", "eh1:x", ":4", "eh1:2000"])
def test_a_malformed_hub_is_a_usage_error(runner: CliRunner, hub: str) -> None:
    result = runner.invoke(main, ["emulator", "--hub", hub])
    assert result.exit_code == 2
    assert "expected NAME:PARTITIONS" in result.stderr


def test_a_hub_named_twice_is_a_usage_error(runner: CliRunner) -> None:
    result = runner.invoke(main, ["emulator", "--hub", "a:1", "--hub", "a:2"])
    assert result.exit_code == 2


def test_a_busy_port_is_reported_with_a_way_out(runner: CliRunner) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = runner.invoke(main, ["emulator", "--port", str(port)])
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "--port 0" in result.stderr


def test_without_the_emulator_extra_the_error_says_what_to_install(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "anyio_eventhubs.testing.emulator", None)
    for command in (["emulator"], ["demo"]):
        result = runner.invoke(main, command)
        assert result.exit_code == 1
        assert "pip install 'anyio-eventhubs[emulator]'" in result.stderr


def test_the_group_lists_its_commands_and_version(runner: CliRunner) -> None:
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("demo", "emulator", "read", "send"):
        assert command in result.output
    version = runner.invoke(main, ["--version"])
    assert version.output.startswith("anyio-eventhubs, version ")
