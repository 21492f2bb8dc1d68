"""The OpenTelemetry overhead benchmark runs end to end in quick mode (no timing asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_otel_overhead_benchmark_runs_every_contender(tmp_path: Path) -> None:
    out = tmp_path / "otel.json"
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "otel_overhead.py"),
            "--quick",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    groups = json.loads(out.read_text())["groups"]
    assert sorted(groups) == ["asyncio-bytes", "asyncio-eventdata", "trio-bytes", "trio-eventdata"]
    for results in groups.values():
        assert sorted(results) == ["absent", "no-provider", "off", "on"]
        assert results["absent"]["ratio_median"] == 1.0
