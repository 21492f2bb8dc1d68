"""The blocking producer and its process: interpreter exit, Ctrl-C, fork (in children)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from ._process_child import CLOSE_TIMEOUT

ROOT = Path(__file__).resolve().parents[2]
#: generous slack for a loaded machine: what is asserted is "bounded", not a speed
SLACK = 5.0


def run_child(mode: str, backend: str, *, warnings_as_errors: bool = True) -> dict[str, Any]:
    env = {**os.environ, "PYTHONWARNINGS": "error" if warnings_as_errors else "default"}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "tests.sync._process_child", mode, backend],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=env,
        check=False,
    )
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return {
        "code": result.returncode,
        "lines": lines,
        "stderr": result.stderr,
        "ended_at": time.monotonic(),
        "started_at": started,
    }


def merged(lines: list[dict[str, Any]], key: str) -> list[str]:
    return sorted(item for line in lines for item in line.get(key, []))


def test_an_unclosed_producer_is_closed_at_exit_with_a_warning(backend: str) -> None:
    child = run_child("exit-published", backend, warnings_as_errors=False)
    assert child["code"] == 0, child["stderr"]
    assert merged(child["lines"], "published") == sorted(str(n) for n in range(20))
    assert "RuntimeWarning" in child["stderr"]
    assert "was not closed; closing it at interpreter exit" in child["stderr"]


def test_exit_without_close_does_not_hang_on_a_stuck_hub(backend: str) -> None:
    child = run_child("exit-stuck", backend, warnings_as_errors=True)
    assert child["code"] == 0, child["stderr"]
    # bounded by close_timeout, then every event reported failed: none silently lost
    assert merged(child["lines"], "failed") == sorted(str(n) for n in range(20))
    assert {line["error"] for line in child["lines"] if "error" in line} == {"EventClearedError"}
    # with -W error the warning cannot be shown: it is logged instead
    assert "was not closed before exit" in child["stderr"]
    assert child["ended_at"] - child["started_at"] < CLOSE_TIMEOUT + 30


@pytest.mark.parametrize("where", ["body", "close"])
def test_ctrl_c_stops_the_producer_within_the_close_bound(backend: str, where: str) -> None:
    child = run_child(f"interrupt-{where}", backend)
    assert child["code"] == 0, child["stderr"]
    failed = [line for line in child["lines"] if "failed" in line]
    assert failed == [{"failed": ["stuck"], "error": "EventClearedError"}]
    report = child["lines"][-1]
    assert report["outcome"] == "KeyboardInterrupt"
    assert report["threads"] == []
    assert report["closed"]
    assert CLOSE_TIMEOUT <= report["seconds_after_interrupt"] < CLOSE_TIMEOUT + SLACK


def test_a_forked_child_is_refused_and_neither_process_hangs(backend: str) -> None:
    child = run_child("fork", backend)
    assert child["code"] == 0, child["stderr"]
    (report,) = [line["child"] for line in child["lines"] if "child" in line]
    assert report["closed"]
    assert len(report["refused"]) == 3
    for message in report["refused"]:
        assert "before this process" in message
        assert "Open a producer in this process, after the fork" in message
    assert report["own_published"] == 1  # a producer opened after the fork works
    (parent,) = [line for line in child["lines"] if "parent" in line]
    assert parent["parent"]["child_exit"] == 0
    assert parent["multiprocessing_exit"] == 0
    (stored,) = [line["stored"] for line in child["lines"] if "stored" in line]
    assert stored == ["parent after", "parent before"]
