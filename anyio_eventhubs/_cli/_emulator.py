"""``anyio-eventhubs emulator``: the local Event Hubs emulator, in the foreground."""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING

import anyio
import click

if TYPE_CHECKING:
    from ..testing.emulator import EventHubsEmulator

__all__ = ["emulator", "load_emulator"]

EMULATOR_EXTRA_HINT = (
    "the emulator needs the 'emulator' extra (python-qpid-proton): "
    "pip install 'anyio-eventhubs[emulator]'"
)


def load_emulator() -> type[EventHubsEmulator]:
    """The emulator class, or a clear error if its extra is not installed.

    :raises click.ClickException: if python-qpid-proton is missing.
    """
    try:
        from ..testing.emulator import EventHubsEmulator
    except ImportError as exc:
        raise click.ClickException(f"{EMULATOR_EXTRA_HINT} ({exc})") from None
    return EventHubsEmulator


def _hub(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, int]:
    hubs: dict[str, int] = {}
    for value in values or ("eh1:4",):
        name, _, count = value.partition(":")
        try:
            partitions = int(count) if count else 4
        except ValueError:
            partitions = 0
        if not name or not 1 <= partitions <= 1024 or name in hubs:
            raise click.BadParameter(
                f"expected NAME:PARTITIONS (a new name, 1 to 1024 partitions), got {value!r}",
                ctx,
                param,
            )
        hubs[name] = partitions
    return hubs


async def _wait_for_signal() -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            return


@click.command()
@click.option(
    "--hub",
    "hubs",
    multiple=True,
    callback=_hub,
    metavar="NAME:PARTITIONS",
    help="An Event Hub to serve; repeat for more (default: eh1:4).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=5672,
    show_default=True,
    help="Port to listen on (0: any free port).",
)
@click.option(
    "--max-message-size",
    type=click.IntRange(min=256),
    default=1024 * 1024,
    show_default=True,
    help="The largest batch a hub accepts, in bytes.",
)
@click.option("--key-name", default="emulator", show_default=True, help="Shared access key name.")
@click.option(
    "--key",
    default="emulator-key",
    show_default=True,
    help="Shared access key that SAS tokens are checked against.",
)
def emulator(
    hubs: dict[str, int], host: str, port: int, max_message_size: int, key_name: str, key: str
) -> None:
    """Run the local Event Hubs emulator until Ctrl-C; print its connection strings.

    Standard output gets one connection string per hub (with its EntityPath), in the
    order given; the rest goes to standard error. Events are kept in memory only.

    \b
    Then, in another terminal:
      export EVENTHUB_CONNECTION_STRING='<the line printed for eh1>'
      echo '{"device": "d1"}' | anyio-eventhubs send --partition-key-field device
    """
    emulator_class = load_emulator()
    server = emulator_class(
        hubs, host=host, port=port, max_message_size=max_message_size, key_name=key_name, key=key
    )
    try:
        server.start()
    except OSError as exc:
        raise click.ClickException(
            f"cannot listen on {host}:{port}: {exc.strerror or exc} (try --port 0)"
        ) from None
    try:
        for name in hubs:
            click.echo(server.connection_string(name))
        listing = ", ".join(f"{name} ({count} partitions)" for name, count in hubs.items())
        click.echo(
            f"Event Hubs emulator on {server.host}:{server.port}: {listing}. Ctrl-C to stop.",
            err=True,
        )
        anyio.run(_wait_for_signal)
    finally:
        server.stop()
    click.echo("emulator stopped", err=True)
