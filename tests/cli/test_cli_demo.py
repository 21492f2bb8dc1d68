"""``anyio-eventhubs demo``: publish to the embedded emulator, read back, show the counts."""

from __future__ import annotations

import json

import anyio
import pytest
from azure.eventhub import EventData
from click.testing import CliRunner

from anyio_eventhubs import partition_for_key
from anyio_eventhubs._cli import main
from anyio_eventhubs._cli._demo import synthetic_readings
from anyio_eventhubs._cli._readback import Tally


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_the_demo_publishes_reads_back_and_shows_each_partition(
    runner: CliRunner, backend: str
) -> None:
    result = runner.invoke(
        main, ["demo", "--events", "400", "--devices", "6", "--backend", backend]
    )
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "published 400 of 400 events" in out
    assert "read 400 events in" in out
    assert "What the consumer read back, per partition" in out
    assert "Every event came back once" in out
    assert f"open_streaming_producer on {backend}" in out
    for device in range(6):
        assert f"device-{device:02d}" in out


def test_the_readings_number_each_device_from_zero() -> None:
    async def collect() -> list[dict[str, object]]:
        return [
            json.loads(line)
            async for batch in synthetic_readings(1001, 3, batch_size=100)
            for line in batch
        ]

    readings = anyio.run(collect)
    assert len(readings) == 1001
    for device in ("device-00", "device-01", "device-02"):
        seqs = [r["seq"] for r in readings if r["device"] == device]
        assert seqs == list(range(len(seqs)))


def _event(device: str, seq: int) -> EventData:
    return EventData(json.dumps({"device": device, "seq": seq}))


def test_the_tally_checks_placement_order_and_duplicates() -> None:
    pids = ["0", "1", "2"]
    home = partition_for_key("dev-a", pids)
    away = next(p for p in pids if p != home)

    good = Tally(pids, expected=2)
    good.add(home, [_event("dev-a", 0), _event("dev-a", 1)])
    assert good.all_well
    assert good.partitions[home].keys == {"dev-a"}

    misplaced = Tally(pids, expected=1)
    misplaced.add(away, [_event("dev-a", 0)])
    assert misplaced.partitions[away].misplaced == 1
    assert not misplaced.all_well

    unordered = Tally(pids, expected=2)
    unordered.add(home, [_event("dev-a", 1), _event("dev-a", 0)])
    assert unordered.partitions[home].out_of_order == 1
    assert not unordered.all_well

    twice = Tally(pids, expected=1)
    twice.add(home, [_event("dev-a", 0), _event("dev-a", 0)])
    assert twice.duplicates == 1
    assert not twice.all_well

    missing = Tally(pids, expected=3)
    missing.add(home, [_event("dev-a", 0)])
    assert not missing.all_well
