"""``anyio-eventhubs send`` through click's runner, against the emulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from azure.identity import DefaultAzureCredential
from click.testing import CliRunner

from anyio_eventhubs import partition_for_key
from anyio_eventhubs._cli import main
from anyio_eventhubs._cli._connection import Connection
from anyio_eventhubs.testing.emulator import NOT_FOUND, EventHubsEmulator


def _jsonl(count: int, devices: int = 7) -> str:
    return "".join(
        json.dumps({"device": f"dev-{i % devices}", "n": i}) + "\n" for i in range(count)
    )


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_send_publishes_each_line_of_stdin(
    runner: CliRunner, emulator: EventHubsEmulator, backend: str
) -> None:
    result = runner.invoke(
        main,
        ["send", "--connection-string", emulator.connection_string("eh1"), "--backend", backend],
        input=_jsonl(500),
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("published 500 of 500 events in ")
    assert emulator.event_count("eh1") == 500
    assert {emulator.event_count("eh1", pid) for pid in "0123"} == {125}  # round robin


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_send_routes_by_a_json_field_as_the_service_would(
    runner: CliRunner, emulator: EventHubsEmulator, backend: str, tmp_path: Path
) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(_jsonl(300))
    result = runner.invoke(
        main,
        [
            "send",
            str(path),
            "--connection-string",
            emulator.connection_string("eh1"),
            "--partition-key-field",
            "device",
            "--max-wait-time",
            "0.05",
            "--max-queued-events",
            "10",
            "--backend",
            backend,
        ],
    )
    assert result.exit_code == 0, result.output
    stored = emulator.all_events("eh1")
    assert len(stored) == 300
    partition_ids = ["0", "1", "2", "3"]
    for event in stored:
        device = json.loads(event.body)["device"]
        assert event.partition_key == device
        assert event.partition_id == partition_for_key(device, partition_ids)


def test_the_connection_comes_from_the_environment(
    runner: CliRunner, emulator: EventHubsEmulator
) -> None:
    without_entity_path = emulator.connection_string()
    result = runner.invoke(
        main,
        ["send", "--partition-id", "3"],
        input="a\nb\n",
        env={"EVENTHUB_CONNECTION_STRING": without_entity_path, "EVENTHUB_NAME": "eh1"},
    )
    assert result.exit_code == 0, result.output
    assert [e.body for e in emulator.published_events("eh1", "3")] == [b"a", b"b"]


def test_skipped_lines_fail_the_exit_status(runner: CliRunner, emulator: EventHubsEmulator) -> None:
    result = runner.invoke(
        main,
        [
            "send",
            "--connection-string",
            emulator.connection_string("eh1"),
            "--partition-key-field",
            "device",
        ],
        input='{"device": "a"}\nnot json\n',
    )
    assert result.exit_code == 1
    assert "line 2: not JSON" in result.stderr
    assert "1 input line skipped (not valid events)" in result.stdout
    assert emulator.event_count("eh1") == 1


def test_events_the_service_refuses_fail_the_exit_status(
    runner: CliRunner, emulator: EventHubsEmulator
) -> None:
    emulator.faults.reject_next(1, condition=NOT_FOUND, description="gone")
    result = runner.invoke(
        main,
        ["send", "--connection-string", emulator.connection_string("eh1"), "--partition-id", "0"],
        input="a\nb\n",
    )
    assert result.exit_code == 1, result.output
    assert "2 events failed (not stored):" in result.stdout
    assert "  2 x NotFoundError" in result.stdout
    assert "(--failed-out FILE keeps the lines that were not published)" in result.stdout


def test_no_connection_is_a_usage_error_that_points_to_the_emulator(runner: CliRunner) -> None:
    result = runner.invoke(main, ["send"], input="a\n")
    assert result.exit_code == 2
    assert "EVENTHUB_CONNECTION_STRING" in result.stderr
    assert "anyio-eventhubs emulator" in result.stderr


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--partition-id", "1", "--partition-key-field", "k"], "not both"),
        (["--namespace", "ns.servicebus.windows.net"], "--namespace needs --eventhub-name"),
        (["--partition-id", "9"], "no partition '9'; its partitions are 0, 1, 2, 3"),
        (["--max-queued-events", "0"], "--max-queued-events"),
        (["--max-retries", "-1"], "--max-retries"),
        (["--try-timeout", "0"], "--try-timeout"),
        (["--open-timeout", "0"], "--open-timeout"),
        (["--skip", "-1"], "--skip"),
    ],
)
def test_bad_options_are_usage_errors(
    runner: CliRunner, emulator: EventHubsEmulator, arguments: list[str], message: str
) -> None:
    result = runner.invoke(
        main,
        ["send", *arguments],
        input="a\n",
        env={"EVENTHUB_CONNECTION_STRING": emulator.connection_string("eh1")},
    )
    assert result.exit_code == 2, result.output
    assert message in result.stderr


def test_a_connection_string_and_a_namespace_are_exclusive(runner: CliRunner) -> None:
    result = runner.invoke(
        main,
        ["send", "--connection-string", "Endpoint=sb://x/;", "--namespace", "x", "--hub", "h"],
        input="a\n",
    )
    assert result.exit_code == 2
    assert "not both" in result.stderr


def test_a_malformed_connection_string_is_a_usage_error_without_its_secret(
    runner: CliRunner,
) -> None:
    result = runner.invoke(
        main,
        ["send", "--connection-string", "SharedAccessKey=s3cret;EntityPath=eh1"],
        input="a\n",
    )
    assert result.exit_code == 2
    assert "s3cret" not in result.output


def test_an_unknown_hub_fails_with_the_service_error(
    runner: CliRunner, emulator: EventHubsEmulator
) -> None:
    result = runner.invoke(
        main,
        ["send", "--connection-string", emulator.connection_string("nope")],
        input="a\n",
    )
    assert result.exit_code == 1
    assert "Error: NotFoundError" in result.stderr


def test_a_namespace_connects_with_azure_identitys_default_credential() -> None:
    connection = Connection(None, "eh1", "ns.servicebus.windows.net")
    assert "ns.servicebus.windows.net" in repr(connection)
    with connection.producer_arguments() as arguments:
        assert arguments["fully_qualified_namespace"] == "ns.servicebus.windows.net"
        assert arguments["eventhub_name"] == "eh1"
        assert isinstance(arguments["credential"], DefaultAzureCredential)


def test_a_connection_string_is_never_in_the_repr() -> None:
    connection = Connection("Endpoint=sb://x/;SharedAccessKey=s3cret", None, None)
    assert "s3cret" not in repr(connection)


def test_help_describes_every_option(runner: CliRunner) -> None:
    result = runner.invoke(main, ["send", "--help"])
    assert result.exit_code == 0
    for option in (
        "--connection-string",
        "--eventhub-name",
        "--namespace",
        "--partition-id",
        "--partition-key-field",
        "--max-wait-time",
        "--max-queued-events",
        "--max-retries",
        "--try-timeout",
        "--open-timeout",
        "--failed-out",
        "--skip",
        "--backend",
        "--progress",
    ):
        assert option in result.output


@pytest.mark.parametrize(
    ("fault", "verdict", "exit_code"),
    [("reject", "failed", 1), ("lose_ack", "unknown", 3)],
)
def test_failed_out_keeps_the_lines_not_published_and_sending_it_publishes_them(
    runner: CliRunner,
    emulator: EventHubsEmulator,
    tmp_path: Path,
    fault: str,
    verdict: str,
    exit_code: int,
) -> None:
    if fault == "reject":
        emulator.faults.reject_next(1, condition=NOT_FOUND, description="gone")
    else:
        emulator.faults.lose_next_ack()  # stored, but the acknowledgement never comes
    failed = tmp_path / "failed.jsonl"
    connection = ["--connection-string", emulator.connection_string("eh1"), "--partition-id", "0"]
    lines = ['{"n": 1}', "", "caf\u00e9", '{"n": 4}']
    result = runner.invoke(
        main,
        ["send", *connection, "--max-retries", "0", "--failed-out", str(failed)],
        input="\n".join(lines) + "\n",
    )
    assert result.exit_code == exit_code, result.output
    envelopes = [json.loads(line) for line in failed.read_text("utf-8").splitlines()]
    assert [(e["anyio-eventhubs-failed"], e["line"], e["data"]) for e in envelopes] == [
        (verdict, 1, '{"n": 1}'),
        (verdict, 3, "caf\u00e9"),
        (verdict, 4, '{"n": 4}'),
    ]
    assert f"3 lines not published written to {failed}" in result.stdout
    stored_before = emulator.event_count("eh1")

    again = runner.invoke(main, ["send", *connection, str(failed)])
    assert again.exit_code == 0, again.output
    bodies = [e.body for e in emulator.published_events("eh1", "0")][stored_before:]
    assert bodies == [b'{"n": 1}', "caf\u00e9".encode(), b'{"n": 4}']


def test_failed_out_cannot_be_the_input(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("a\n")
    result = runner.invoke(
        main,
        ["send", str(path), "--failed-out", str(path), "--connection-string", "Endpoint=sb://x/"],
    )
    assert result.exit_code == 2
    assert "--failed-out must not be the input file" in result.stderr
    assert path.read_text() == "a\n"
