"""``benchmarks/sync_bench.py`` runs end to end in quick mode, so that it cannot rot.

No timing is asserted (the targets are the benchmark's own ratios): only that every
contender's runs complete and publish exactly what they were given (each run checks the
emulator's count), and that the targets are computed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_sync_benchmark_runs_every_contender(tmp_path: Path) -> None:
    out = tmp_path / "sync.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "sync_bench.py"), "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads(out.read_text())
    assert set(results["medians"]) == {
        "aeh-sync-x1",
        "aeh-sync-x8",
        "aeh-sync-trio-x1",
        "azure-buffered-sync-x1",
        "azure-buffered-sync-x8",
        "aeh-asyncio",
    }
    assert [(t["ours"], t["theirs"]) for t in results["targets"]] == [
        ("aeh-sync-x1", "azure-buffered-sync-x1"),
        ("aeh-sync-x8", "azure-buffered-sync-x8"),
    ]
