"""The benchmark harness runs end to end in quick mode, so that it cannot rot.

No timing is asserted: only that ``python benchmarks/run.py --quick`` exits 0 and writes
a ``results.json`` with every scenario and every contender (each run inside has already
checked that the emulator stored exactly what the contender published).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent

THROUGHPUT = {
    "aeh-asyncio-bytes",
    "aeh-asyncio-bytes-many",
    "aeh-asyncio-eventdata",
    "aeh-trio-bytes",
    "aeh-trio-bytes-many",
    "aeh-trio-eventdata",
    "azure-buffered-aio",
    "azure-buffered-sync",
    "raw-send-batch-setup",
    "raw-send-batch-warm",
}
QUEUEING = {"aeh-asyncio", "aeh-trio", "azure-buffered-aio", "azure-buffered-sync"}
EXPECTED_CONTENDERS = {
    "throughput": THROUGHPUT,
    "latency": QUEUEING,
    "overhead": {
        "batch-loop",
        "producer-asyncio-bytes",
        "producer-asyncio-eventdata",
        "producer-trio-bytes",
        "producer-trio-eventdata",
        "producer-asyncio-bytes-many",
        "producer-trio-bytes-many",
    },
    "memory": QUEUEING,
    "scaling": {
        "aeh-asyncio-bytes-x1",
        "aeh-asyncio-bytes-x4",
        "aeh-trio-bytes-x1",
        "aeh-trio-bytes-x4",
        "azure-buffered-aio",
        "azure-buffered-sync",
        "raw-send-batch-setup",
    },
}


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_quick_benchmark_run_reports_every_scenario_and_contender(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert proc.returncode == 0, f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"

    results: dict[str, Any] = json.loads((tmp_path / "results.json").read_text())
    assert "error" not in results
    assert set(results["scenarios"]) == set(EXPECTED_CONTENDERS)
    for name, contenders in EXPECTED_CONTENDERS.items():
        scenario = results["scenarios"][name]
        assert set(scenario["contenders"]) == contenders, name
        assert scenario["groups"], name
        for group in scenario["groups"]:
            assert set(group["results"]) == contenders, (name, group["label"])
    assert results["targets"]
    assert all(target["met"] in (True, False) for target in results["targets"])
    assert "targets" in proc.stdout
    assert (tmp_path / "summary.md").exists()
    if importlib.util.find_spec("matplotlib") is not None:
        for plot in ("throughput.png", "latency_cdf.png", "memory_rss.png", "scaling.png"):
            assert (tmp_path / plot).stat().st_size > 0, plot


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_quick_journal_benchmark_runs_every_contender_and_recovery(tmp_path: Path) -> None:
    out = tmp_path / "journal.json"
    script = ROOT / "benchmarks" / "journal_throughput.py"
    proc = subprocess.run(
        [sys.executable, str(script), "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert proc.returncode == 0, f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    results: dict[str, Any] = json.loads(out.read_text())
    assert set(results["throughput"]["events_per_s"]) == {
        f"{durability}-{payload}"
        for durability in ("none", "buffered", "interval", "always")
        for payload in ("bytes", "eventdata")
    } | {"azure-buffered-aio"}
    assert [row["recover"]["recovered"] for row in results["recovery"]] == [2_000, 10_000]
    assert all(target["met"] in (True, False) for target in results["targets"])
    assert "| target | measured | wanted | met |" in proc.stdout


@pytest.mark.slow
@pytest.mark.timeout(200)
@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_quick_lifetime_soak_gives_every_event_one_outcome(backend: str) -> None:
    """Issue #12's soak, short: 10 s tokens, idle gaps, emulator restarts, a new partition."""
    script = ROOT / "benchmarks" / "lifetime_soak.py"
    proc = subprocess.run(
        [sys.executable, str(script), "--quick", "--backend", backend],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    assert "without an outcome     0" in proc.stdout
    assert "\nfailed                 0\n" in proc.stdout
    assert proc.stdout.rstrip().endswith("OK")
