"""``python -m anyio_eventhubs._cli``: the same as the ``anyio-eventhubs`` command."""

from __future__ import annotations

from . import main

main(prog_name="anyio-eventhubs")
