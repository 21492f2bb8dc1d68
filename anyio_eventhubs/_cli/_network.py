"""The network options of ``send`` and ``read``: WebSockets, a proxy, an endpoint, certificates.

They are passed as they are to ``open_streaming_producer`` (``send``) and to
azure-eventhub's ``EventHubConsumerClient`` (``read``), which take the same keywords.
Each option's callback converts its value and keeps it in the click context, so the
commands' signatures do not grow with them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import click
from azure.eventhub import TransportType

__all__ = ["network_arguments", "network_options", "parse_proxy"]

F = TypeVar("F", bound=Callable[..., Any])

_KEY = "anyio_eventhubs.network"


def parse_proxy(text: str) -> dict[str, str | int]:
    """``[http://][USER:PASSWORD@]HOST:PORT`` as azure-eventhub's ``http_proxy`` mapping.

    :raises ValueError: without a host or a port.
    """
    parts = urlsplit(text if "://" in text else f"http://{text}")
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None:
        raise ValueError("expected [http://][USER:PASSWORD@]HOST:PORT")
    proxy: dict[str, str | int] = {"proxy_hostname": parts.hostname, "proxy_port": port}
    if parts.username is not None:
        proxy["username"] = parts.username
        proxy["password"] = parts.password or ""
    return proxy


def _keep(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    if value is None:
        return
    name = str(param.name)
    if name == "transport_type":
        value = TransportType.AmqpOverWebsocket if value == "websocket" else TransportType.Amqp
    elif name == "http_proxy":
        try:
            value = parse_proxy(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc), ctx, param) from None  # never echo a password
    ctx.meta.setdefault(_KEY, {})[name] = value


def network_arguments(ctx: click.Context) -> dict[str, Any]:
    """The network options given on the command line, as keyword arguments."""
    return dict(ctx.meta.get(_KEY, {}))


def network_options(func: F) -> F:
    """Add ``--transport-type``, ``--http-proxy``, ``--custom-endpoint-address``,
    ``--connection-verify`` and ``--user-agent`` to a command."""
    options = [
        click.option(
            "--transport-type",
            type=click.Choice(["amqp", "websocket"]),
            callback=_keep,
            expose_value=False,
            help="AMQP over TLS on port 5671 (default), or over WebSockets on port 443 "
            "(needs the websockets extra).",
        ),
        click.option(
            "--http-proxy",
            metavar="[USER:PASSWORD@]HOST:PORT",
            callback=_keep,
            expose_value=False,
            help="An HTTP proxy, for --transport-type websocket.",
        ),
        click.option(
            "--custom-endpoint-address",
            metavar="URL",
            callback=_keep,
            expose_value=False,
            help="Connect to this address (sb://HOST[:PORT], https:// over WebSockets) "
            "instead of the namespace's own, e.g. a gateway.",
        ),
        click.option(
            "--connection-verify",
            type=click.Path(exists=True, dir_okay=False),
            callback=_keep,
            expose_value=False,
            metavar="CA_BUNDLE",
            help="A CA bundle (PEM) to verify the service's certificate with.",
        ),
        click.option(
            "--user-agent",
            callback=_keep,
            expose_value=False,
            help="Added to the user agent the service sees.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func
