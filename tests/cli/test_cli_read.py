"""``anyio-eventhubs read``: a hub's events as JSON lines, from a position, until enough."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from azure.eventhub import EventData, EventHubProducerClient
from click.testing import CliRunner

from anyio_eventhubs._cli import main
from anyio_eventhubs._cli._read import event_record, parse_position
from anyio_eventhubs.testing.emulator import EventHubsEmulator


@pytest.fixture
def filled(emulator: EventHubsEmulator) -> EventHubsEmulator:
    """eh1 with 5 keyed events with properties on one partition, and a binary one on 3."""
    with EventHubProducerClient.from_connection_string(emulator.connection_string("eh1")) as p:
        batch = p.create_batch(partition_key="dev-1")
        for n in range(5):
            event = EventData(f"reading {n}")
            event.properties = {"kind": "reading", "n": n}
            batch.add(event)
        p.send_batch(batch)
        binary = p.create_batch(partition_id="3")
        binary.add(EventData(b"\xff\xfe"))
        p.send_batch(binary)
    return emulator


def _read(
    runner: CliRunner, emulator: EventHubsEmulator, *arguments: str
) -> list[dict[str, object]]:
    result = runner.invoke(
        main,
        ["read", "--connection-string", emulator.connection_string("eh1"), *arguments],
    )
    assert result.exit_code == 0, result.output
    assert "reading 127.0.0.1:" in result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_read_prints_every_event_with_its_key_partition_and_properties(
    runner: CliRunner, filled: EventHubsEmulator, backend: str
) -> None:
    records = _read(runner, filled, "--idle-timeout", "0.5", "--backend", backend)
    assert len(records) == 6
    keyed = [r for r in records if r["partition_key"] == "dev-1"]
    assert [r["body"] for r in keyed] == [f"reading {n}" for n in range(5)]
    assert [r["sequence_number"] for r in keyed] == [0, 1, 2, 3, 4]
    assert keyed[2]["properties"] == {"kind": "reading", "n": 2}
    (binary,) = [r for r in records if r["partition"] == "3"]
    assert binary["body_base64"] == "//4="
    assert binary["partition_key"] is None


def test_read_stops_after_count_events(runner: CliRunner, filled: EventHubsEmulator) -> None:
    assert len(_read(runner, filled, "--count", "2", "--idle-timeout", "30")) == 2


def test_read_starts_from_a_sequence_number_an_offset_or_a_time(
    runner: CliRunner, filled: EventHubsEmulator
) -> None:
    keyed = next(e for e in filled.all_events("eh1") if e.partition_key == "dev-1")
    pid = keyed.partition_id
    everything = _read(runner, filled, "--partition-id", pid, "--count", "5")
    third = everything[2]
    for start in (f"sequence:{third['sequence_number']}", f"offset:{third['offset']}"):
        records = _read(runner, filled, "--partition-id", pid, "--from", start, "--count", "3")
        assert [r["body"] for r in records] == ["reading 2", "reading 3", "reading 4"]
    later = _read(runner, filled, "--from", "2999-01-01T00:00:00", "--idle-timeout", "0.5")
    assert later == []  # "latest" is in test_cli_terminal, with --follow


def test_positions_are_parsed_as_azure_eventhub_takes_them() -> None:
    assert parse_position("earliest") == ("-1", False)
    assert parse_position("latest") == ("@latest", False)
    assert parse_position("offset:120") == ("120", True)
    assert parse_position("sequence:7") == (7, True)
    assert parse_position("2026-05-01T12:00:00") == (datetime(2026, 5, 1, 12, tzinfo=UTC), True)
    with pytest.raises(ValueError, match="offset:N, sequence:N"):
        parse_position("yesterday")


def test_a_bad_position_is_a_usage_error(runner: CliRunner, emulator: EventHubsEmulator) -> None:
    result = runner.invoke(
        main,
        ["read", "--connection-string", emulator.connection_string("eh1"), "--from", "soon"],
    )
    assert result.exit_code == 2
    assert "--from" in result.stderr


def test_an_event_record_is_json() -> None:
    event = EventData(b"x")
    record = event_record("0", event)
    assert record["body"] == "x"
    assert json.loads(json.dumps(record, default=str))["partition"] == "0"
