"""``send --journal DIR``: the input position next to the journal, and resuming from it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from anyio_eventhubs._cli import main
from anyio_eventhubs._cli._position import (
    POSITION_FILE,
    InputIdentity,
    PositionFile,
    SavedPosition,
    identify,
    read_saved,
    where_to_resume,
)
from anyio_eventhubs.testing.emulator import EventHubsEmulator

FILE = InputIdentity(device=5, inode=77, regular=True)


def _lines(path: Path, count: int) -> Path:
    path.write_text("".join(json.dumps({"n": n, "key": f"k{n % 5}"}) + "\n" for n in range(count)))
    return path


def _plant(directory: Path, identity: InputIdentity, line: int) -> None:
    """What a killed run leaves: the last line it accepted."""
    directory.mkdir(exist_ok=True)
    positions = PositionFile.open(directory, sync=False)
    positions.start(identity)
    positions.record(line)
    positions.close()


def test_the_position_survives_reopening_and_a_torn_slot_falls_back(tmp_path: Path) -> None:
    positions = PositionFile.open(tmp_path, sync=True)
    assert positions.saved is None
    positions.start(FILE)
    for line in range(1, 6):
        positions.record(line)
    positions.close()
    assert read_saved(tmp_path) == SavedPosition(5, FILE)

    path = tmp_path / POSITION_FILE
    data = bytearray(path.read_bytes())
    newest = 5 % 2 * 48  # slots are written in turn: the 5th write went to slot 1
    data[newest + 10] ^= 0xFF  # a torn write: its CRC no longer matches
    path.write_bytes(bytes(data))
    reopened = PositionFile.open(tmp_path, sync=False)
    assert reopened.saved == SavedPosition(4, FILE)  # an older line: re-read, never skipped
    reopened.record(9)
    reopened.finish()
    assert not path.exists()


def test_only_the_same_file_is_resumed() -> None:
    assert where_to_resume(None, FILE) == (0, None)
    assert where_to_resume(SavedPosition(40, FILE), FILE) == (
        40,
        "resuming after input line 40, where the last run stopped",
    )
    other = InputIdentity(device=5, inode=78, regular=True)
    skip, note = where_to_resume(SavedPosition(40, FILE), other)
    assert skip == 0
    assert note is not None
    assert "not of this input" in note
    stream = InputIdentity()
    skip, note = where_to_resume(SavedPosition(40, stream), stream)
    assert skip == 0
    assert note is not None
    assert "add --skip 40 if it is the same input" in note


def test_durability_needs_a_journal(runner: CliRunner) -> None:
    result = runner.invoke(
        main,
        ["send", "--connection-string", "Endpoint=sb://x/;EntityPath=e", "--durability", "always"],
    )
    assert result.exit_code == 2
    assert "--durability needs --journal DIR" in result.output


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_finished_send_forgets_its_position_so_the_next_starts_afresh(
    runner: CliRunner, emulator: EventHubsEmulator, backend: str, tmp_path: Path
) -> None:
    path = _lines(tmp_path / "in.jsonl", 200)
    journal = tmp_path / "journal"
    command = ["send", str(path), "--connection-string", emulator.connection_string("eh1")]
    command += ["--journal", str(journal), "--durability", "interval", "--backend", backend]
    command += ["--partition-key-field", "key", "--max-wait-time", "0.05"]
    for run in (1, 2):
        result = runner.invoke(main, command)
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith("published 200 of 200 events in ")
        assert emulator.event_count("eh1") == 200 * run
        assert not (journal / POSITION_FILE).exists()
        assert not list(journal.glob("*.seg"))  # nothing outstanding: nothing kept


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_send_resumes_after_the_last_line_a_killed_run_accepted(
    runner: CliRunner, emulator: EventHubsEmulator, backend: str, tmp_path: Path
) -> None:
    path = _lines(tmp_path / "in.jsonl", 300)
    journal = tmp_path / "journal"
    with path.open("rb") as file:
        _plant(journal, identify(file), 120)
    command = ["send", str(path), "--connection-string", emulator.connection_string("eh1")]
    command += ["--journal", str(journal), "--backend", backend, "--max-wait-time", "0.05"]
    result = runner.invoke(main, command)
    assert result.exit_code == 0, result.output
    assert "resuming after input line 120, where the last run stopped" in result.stderr
    stored = sorted(json.loads(event.body)["n"] for event in emulator.all_events("eh1"))
    assert stored == list(range(120, 300))  # lines 121 to 300


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_stream_is_read_from_its_start_with_a_hint(
    runner: CliRunner, emulator: EventHubsEmulator, backend: str, tmp_path: Path
) -> None:
    journal = tmp_path / "journal"
    _plant(journal, InputIdentity(), 7)
    command = ["send", "--connection-string", emulator.connection_string("eh1")]
    command += ["--journal", str(journal), "--backend", backend, "--max-wait-time", "0.05"]
    result = runner.invoke(
        main,
        command,
        input="a\nb\nc\n",
    )
    assert result.exit_code == 0, result.output
    assert "add --skip 7 if it is the same input" in result.stderr
    assert emulator.event_count("eh1") == 3
