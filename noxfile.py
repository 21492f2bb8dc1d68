"""Sessions: tests (both backends), slow property tests, lint, typecheck, live Azure tests."""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.sessions = ["tests", "slow", "lint", "typecheck", "docs", "azure_versions(oldest)"]
nox.options.default_venv_backend = "venv"


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite under asyncio and Trio, without the slow property tests."""
    session.install("-e", ".[dev]")
    session.run("pytest", "-m", "not slow", *session.posargs)


@nox.session
def slow(session: nox.Session) -> None:
    """The slow tests: many more hypothesis steps, and the benchmarks' quick mode.

    In two worker processes (pytest-xdist): most of these wait on child processes (the
    crash test's producers, the benchmarks' emulator and contenders), so two at a time
    take about 6 minutes instead of 10 on two cores.
    """
    session.install("-e", ".[dev,bench]")
    session.run("pytest", "-m", "slow", "-n", "2", *session.posargs)


@nox.session
def live(session: nox.Session) -> None:
    """Tests against a live Azure Event Hub (needs EVENTHUB_CONNECTION_STRING)."""
    session.install("-e", ".[dev]")
    session.run("pytest", "-m", "live", *session.posargs)


#: the oldest release and the newest minor version of pyproject's azure-eventhub range
AZURE_EVENTHUB_VERSIONS = {
    "oldest": "azure-eventhub==5.12.1",
    "newest": "azure-eventhub>=5.15,<5.16",
}


@nox.session
@nox.parametrize(
    "azure_eventhub", list(AZURE_EVENTHUB_VERSIONS.values()), ids=list(AZURE_EVENTHUB_VERSIONS)
)
def azure_versions(session: nox.Session, azure_eventhub: str) -> None:
    """The azure, idempotent and example suites on the oldest or the newest azure-eventhub.

    CI runs ``azure_versions(oldest)``; the newest is what the ``tests`` and ``slow``
    sessions install, and they run these suites on it.
    """
    session.install("-e", ".[dev]", azure_eventhub)
    session.run(
        "python", "-c", "import azure.eventhub as a; print('azure-eventhub', a.__version__)"
    )
    session.run(
        "pytest",
        "-p",
        "no:cacheprovider",
        "-m",
        "not live",
        "tests/azure",
        "tests/idempotent",
        "tests/codec",
        "tests/cli/test_examples.py",
        # these drive the emulator's idempotent rules with azure-eventhub's bare client as
        # a probe: what that client raises differs between versions, and the rules are
        # the emulator's, not something the producer needs from azure-eventhub
        "--ignore=tests/idempotent/test_idempotent_resume.py",
        *session.posargs,
    )


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff>=0.8")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", "anyio_eventhubs", "tests", "examples", "benchmarks")


@nox.session
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[dev]")
    session.run("mypy")


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks against azure-eventhub; ``nox -s bench -- --quick`` for the CI mode."""
    session.install("-e", ".[bench]")
    session.run("python", "benchmarks/run.py", *session.posargs)


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site, warnings as errors (mkdocs.yml has strict: true)."""
    session.install("-e", ".[docs]")
    site = Path(session.create_tmp()) / "site"
    session.run(
        "mkdocs", "build", "--strict", "--site-dir", str(site), env={"NO_MKDOCS_2_WARNING": "1"}
    )
