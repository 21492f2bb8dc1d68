"""The segments-against-SQLite benchmark still runs (a tiny workload)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

_SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "journal_store.py"


def test_journal_benchmark_runs_and_reports_every_phase(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(_SCRIPT), "-n", "800", "--group", "4", "--repeats", "1",
         "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=50,
        check=True,
    )  # fmt: skip
    rows = [line for line in result.stdout.splitlines() if line.startswith("| none |")]
    assert [row.split("|")[2].strip() for row in rows] == ["append", "recover", "outcomes"]
    assert list(tmp_path.iterdir()) == []  # it cleans up after itself
