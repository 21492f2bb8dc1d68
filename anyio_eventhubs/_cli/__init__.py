"""The ``anyio-eventhubs`` command: ``send``, ``read``, ``emulator`` and ``demo``.

Built on click; progress is drawn with rich. Each command lives in its own module.
"""

from __future__ import annotations

import click

from .. import __version__
from ._demo import demo
from ._emulator import emulator
from ._read import read
from ._send import send

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="anyio-eventhubs")
def main() -> None:
    """Publish to Azure Event Hubs through anyio-eventhubs' streaming producer.

    \b
    Start here:   anyio-eventhubs demo
    Docs:         the docs/ folder of the project (mkdocs serve)
    """


main.add_command(send)
main.add_command(read)
main.add_command(emulator)
main.add_command(demo)
