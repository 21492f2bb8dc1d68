"""Every program in examples/ runs to completion; the README shows the quickstarts as they are."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

#: each example, and a line its output must contain
EXPECTED_OUTPUT = {
    "quickstart_asyncio.py": "1000 events published",
    "quickstart_trio.py": "300 events published",
    "starlette_lifespan.py": "200 readings published",
    "trio_service.py": "0 failed",
    "testing_in_memory.py": "10 passed",
    "testing_emulator.py": "6 passed",
    "testing_hypothesis.py": "3 passed",
    "observability_console.py": '"name": "send orders"',
    "sync_flask.py": "200 readings published",
    "sync_celery.py": "150 orders published",
}


def test_every_example_is_run_here() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED_OUTPUT)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTED_OUTPUT))
def test_the_example_runs_to_completion(name: str) -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert EXPECTED_OUTPUT[name] in result.stdout
    assert "Warning" not in result.stderr, result.stderr


def _python_blocks(markdown: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", markdown, flags=re.DOTALL)


@pytest.mark.parametrize("name", ["quickstart_asyncio.py", "quickstart_trio.py"])
def test_the_readme_shows_the_quickstart_as_it_runs(name: str) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert (EXAMPLES / name).read_text(encoding="utf-8") in _python_blocks(readme)


def test_the_readme_starts_with_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"```console\n(.*?)\n```", readme, flags=re.DOTALL)
    assert commands[:2] == [
        "pip install -e '.[emulator]' && anyio-eventhubs demo",
        "pip install -e '.[dev]' && nox",
    ]
