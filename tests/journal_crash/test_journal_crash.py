"""The crash test (issue #10): SIGKILL a journaled producer again and again, lose nothing.

A child process publishes numbered, keyed events to the emulator (in a process of its
own) through a journaled producer and writes each number down once ``queue_for_send``
returned. The parent kills it with SIGKILL at random moments (every third kill during
recovery of the previous runs' events) and restarts it on the same journal; a last child
finishes and closes cleanly. Then azure-eventhub's consumer reads everything back:

- every number written down is stored at least once (exactly once with
  ``enable_idempotent_retries=True``);
- each key's events are stored in order (first occurrences);
- partition keys and properties are intact.

The duplicates without idempotence are printed (``pytest -s``): docs/durability.md
quotes them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .harness import emulator_process, judge, read_everything, run_children, written_down

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

KILLS = 26
HUBS = [f"{backend}-{mode}" for backend in ("asyncio", "trio") for mode in ("plain", "idem")]


@pytest.fixture(scope="module")
def hubs() -> Iterator[dict[str, str]]:
    """One emulator process for the module, a hub per backend and mode."""
    with emulator_process(HUBS) as strings:
        yield strings


@pytest.mark.parametrize("idempotent", [False, True], ids=["plain", "idempotent"])
def test_sigkilled_producers_lose_no_accepted_event(
    hubs: dict[str, str], backend_name: str, idempotent: bool, tmp_path: Path
) -> None:
    conn = hubs[f"{backend_name}-{'idem' if idempotent else 'plain'}"]
    run = run_children(conn, tmp_path, backend_name, idempotent=idempotent, kills=KILLS, seed=KILLS)
    written = written_down(tmp_path / "record.txt")
    verdict = judge(written, read_everything(conn))
    print(
        f"\n{backend_name}, {'idempotent' if idempotent else 'not idempotent'}: "
        f"{run.kills} kills ({run.kills_during_recovery} during recovery) in {run.elapsed:.1f} s; "
        f"{verdict.written} events written down, {verdict.stored} stored, "
        f"{verdict.distinct} distinct, {len(verdict.duplicated)} duplicated "
        f"({sum(verdict.duplicated.values()) - len(verdict.duplicated)} extra copies); "
        f"recovered per child: {run.recovered}"
    )
    assert run.kills >= 25
    assert run.kills_during_recovery >= 3, run
    assert sum(run.recovered) > 0, run  # the kills left events for the next child
    assert not run.final["mismatched"], run.final
    assert not verdict.missing, f"{len(verdict.missing)} lost, e.g. {verdict.missing[:10]}"
    assert not verdict.out_of_order, verdict.out_of_order[:10]
    assert not verdict.malformed, verdict.malformed[:10]
    assert verdict.distinct >= verdict.written  # every number once at least...
    if idempotent:  # ...and exactly once
        assert not verdict.duplicated, f"duplicated: {sorted(verdict.duplicated.items())[:20]}"
