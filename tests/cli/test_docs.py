"""The docs answer what the command asks, and show every example CI runs."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from anyio_eventhubs._cli import main

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def _options(command: click.Command) -> list[str]:
    return [
        name
        for param in command.params
        if isinstance(param, click.Option)
        for name in param.opts
        if name.startswith("--") and name != "--help"
    ]


@pytest.mark.parametrize("name", ["demo", "emulator", "read", "send"])
def test_the_command_line_page_describes_every_option(name: str) -> None:
    page = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert f"## `{name}`" in page
    command = main.commands[name]
    for option in _options(command):
        assert f"`{option}" in page, f"docs/cli.md does not describe {name} {option}"


def test_every_example_is_shown_in_the_docs() -> None:
    shown = "".join(p.read_text(encoding="utf-8") for p in DOCS.rglob("*.md"))
    for example in sorted((ROOT / "examples").glob("*.py")):
        assert f'--8<-- "examples/{example.name}"' in shown, example.name


def test_every_page_is_in_the_navigation() -> None:
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for page in sorted(DOCS.rglob("*.md")):
        relative = page.relative_to(DOCS).as_posix()
        if relative.startswith("benchmarks/"):  # benchmark results written next to the page
            continue
        assert f": {relative}\n" in nav, f"{relative} is not in mkdocs.yml's nav"
