"""The real transport: Azure Event Hubs through azure-eventhub's asyncio client.

:func:`azure_transport` checks the connection options (what
``open_streaming_producer(connection_string, eventhub_name, **more)`` passes on) and
returns an :class:`~._transport.AzureTransport`. Modules:

- ``_connection_string``: checking a connection string without echoing its secrets;
- ``_credentials``: which credentials are accepted, and sync token credentials made awaitable;
- ``_bridge``: running the asyncio client from asyncio or from Trio;
- ``_errors``: azure-eventhub's exceptions mapped to ours;
- ``_transport``: opening, sending, closing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import partial
from ssl import SSLContext
from typing import Any
from urllib.parse import urlsplit

from azure.eventhub import EventHubProducerClient as SyncEventHubProducerClient
from azure.eventhub import TransportType
from azure.eventhub import __version__ as azure_eventhub_version
from azure.eventhub.aio import EventHubProducerClient

from .._azure_internals import client_namespace
from .._azure_internals_check import ensure_compatible
from ._connection_string import is_local_emulator, parse_connection_string
from ._credentials import check_credential
from ._transport import AzureConnection, AzureTransport, ClientSource

__all__ = ["DEFAULT_OPEN_TIMEOUT", "AzureConnection", "AzureTransport", "azure_transport"]

_CALLER = "open_streaming_producer()"

_AZURE_EVENTHUB_MINOR = tuple(int(part) for part in azure_eventhub_version.split(".")[:2])

#: seconds, when ``open_timeout`` is not given
DEFAULT_OPEN_TIMEOUT = 60.0


def _proxy_settings(http_proxy: Mapping[str, Any]) -> dict[str, Any]:
    """azure-eventhub's proxy settings, with the scheme that aiohttp needs.

    azure-eventhub hands aiohttp ``"<proxy_hostname>:<proxy_port>"``, which aiohttp
    refuses as a URL without a scheme (``InvalidURL``); a bare host name gets ``http://``.
    """
    settings = dict(http_proxy)
    hostname = str(settings["proxy_hostname"])
    if "://" not in hostname:
        settings["proxy_hostname"] = f"http://{hostname}"
    return settings


def _check_connection_options(options: Mapping[str, object]) -> None:
    """Type-check the network options; the WebSocket extra must be there if they need it."""
    transport_type = options["transport_type"]
    if transport_type is not None and not isinstance(transport_type, TransportType):
        raise TypeError(
            "transport_type must be azure.eventhub.TransportType.Amqp or "
            f".AmqpOverWebsocket, got {type(transport_type).__name__}"
        )
    http_proxy = options["http_proxy"]
    if http_proxy is not None:
        if not isinstance(http_proxy, Mapping):
            raise TypeError(f"http_proxy must be a dict, got {type(http_proxy).__name__}")
        missing = [k for k in ("proxy_hostname", "proxy_port") if not http_proxy.get(k)]
        unknown = sorted(set(http_proxy) - {"proxy_hostname", "proxy_port", "username", "password"})
        if missing or unknown:
            raise ValueError(
                "http_proxy must have proxy_hostname and proxy_port (and optionally username "
                f"and password); missing {missing}, unknown {unknown}"
            )
        if transport_type == TransportType.Amqp:
            raise ValueError(
                "http_proxy= needs transport_type=TransportType.AmqpOverWebsocket "
                "(a proxy carries AMQP over WebSockets only)"
            )
    if (
        options["custom_endpoint_address"] is not None
        and transport_type == TransportType.Amqp
        and _AZURE_EVENTHUB_MINOR < (5, 14)
    ):
        raise ValueError(
            "custom_endpoint_address= with transport_type=TransportType.Amqp needs "
            f"azure-eventhub>=5.14; {azure_eventhub_version} would go over WebSockets instead"
        )
    for name in ("custom_endpoint_address", "connection_verify"):
        value = options[name]
        if value is not None and not isinstance(value, str):
            raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    ssl_context = options["ssl_context"]
    if ssl_context is not None and not isinstance(ssl_context, SSLContext):
        raise TypeError(f"ssl_context must be an ssl.SSLContext, got {type(ssl_context).__name__}")
    if ssl_context is not None and options["connection_verify"] is not None:
        raise ValueError(
            "give connection_verify= or ssl_context=, not both (an ssl_context carries its "
            "own CA certificates: ssl.create_default_context(cafile=...))"
        )
    _check_websockets(transport_type, http_proxy, options["custom_endpoint_address"])


def _user_agent(user_agent: str | None) -> str:
    from .. import __version__  # the package is initialised by now

    ours = f"anyio-eventhubs/{__version__}"
    if user_agent is None:
        return ours
    if not isinstance(user_agent, str):
        raise TypeError(f"user_agent must be a str, got {type(user_agent).__name__}")
    return f"{ours} {user_agent}"


#: the hub names the service allows (letters, digits, ``.``, ``-``, ``_``; 1-256 long)
_HUB_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,255}")


def _check_hub_name(value: str | None) -> str | None:
    """Refuse a connection string or URL as a hub name, without repeating it."""
    if value is not None and not _HUB_NAME.fullmatch(value):
        hint = (
            " (it looks like a connection string: pass that as the first argument)"
            if "=" in value or ";" in value
            else ""
        )
        raise ValueError(
            "eventhub_name must be an Event Hub's name (letters, digits, '.', '-' and '_')" + hint
        )
    return value


def _websocket_extra_missing() -> bool:
    try:
        import aiohttp  # noqa: F401 - what azure-eventhub's async WebSocket transport needs
    except ImportError:
        return True
    return False


def _check_websockets(
    transport_type: object, http_proxy: object = None, custom_endpoint_address: object = None
) -> None:
    """Raise a clear ImportError if AMQP over WebSockets is asked for without its extra.

    azure-eventhub goes over WebSockets for ``TransportType.AmqpOverWebsocket``, for a
    proxy, and for a custom endpoint when no transport type is given.
    """
    wants = (
        transport_type == TransportType.AmqpOverWebsocket
        or http_proxy is not None
        or (custom_endpoint_address is not None and transport_type is None)
    )
    if wants and _websocket_extra_missing():
        raise ImportError(
            "AMQP over WebSockets (transport_type=TransportType.AmqpOverWebsocket, http_proxy=, "
            "or custom_endpoint_address= without transport_type=) needs aiohttp: "
            "pip install 'anyio-eventhubs[websockets]'"
        )


def _check_name(value: object, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{name} must not be empty")
    return value.strip()


def _check_namespace(value: str | None) -> str | None:
    """Refuse a URL or a connection string as a namespace (without repeating it)."""
    if value is None:
        return None
    if any(c in value for c in "/;=@"):
        raise ValueError(
            "fully_qualified_namespace must be a host name such as "
            "'<namespace>.servicebus.windows.net' (with ':<port>' for a local emulator), "
            "not a URL or a connection string"
        )
    try:
        urlsplit(f"//{value}").port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise ValueError(
            "fully_qualified_namespace has a port that is not a number from 0 to 65535"
        ) from None
    return value


def azure_transport(
    connection_string: str | None = None,
    eventhub_name: str | None = None,
    *,
    fully_qualified_namespace: str | None = None,
    credential: object = None,
    client: EventHubProducerClient | None = None,
    open_timeout: float | None = None,
    transport_type: TransportType | None = None,
    http_proxy: Mapping[str, Any] | None = None,
    custom_endpoint_address: str | None = None,
    connection_verify: str | None = None,
    ssl_context: SSLContext | None = None,
    user_agent: str | None = None,
    **unknown: Any,
) -> AzureTransport:
    """Return a transport to an Event Hub through azure-eventhub's asyncio client.

    Give exactly one of:

    - *connection_string* (the hub's name from *eventhub_name* or its ``EntityPath``);
    - *fully_qualified_namespace*, *eventhub_name* and *credential* (an
      ``AzureNamedKeyCredential``, an ``AzureSasCredential``, or a token credential from
      ``azure.identity`` or ``azure.identity.aio``; a sync one's ``get_token`` runs in a
      worker thread). A loopback namespace with a port (``localhost:5672``,
      ``127.0.0.1:5673``) is a local emulator: plain TCP to that port, as
      ``UseDevelopmentEmulator=true`` does in a connection string;
    - *client*, an ``azure.eventhub.aio.EventHubProducerClient`` that the transport uses
      but never closes.

    :param open_timeout: seconds that opening a connection (management call, CBS, links)
        and closing one may take (default 60); the client itself has no such bound.
    :param transport_type: ``TransportType.AmqpOverWebsocket`` to go through port 443.
    :param http_proxy: azure-eventhub's proxy settings (``proxy_hostname``, ...).
    :param custom_endpoint_address: a custom endpoint in front of the service.
    :param connection_verify: a CA bundle file to check the service's certificate with.
    :param ssl_context: an ``ssl.SSLContext`` for the TLS connection.
    :param user_agent: appended to ``anyio-eventhubs/<version>`` in the user agent.
    :raises TypeError: for an unknown keyword argument or an argument of the wrong type.
    :raises ValueError: for a missing, contradictory or malformed option (the message
        never contains a key or a token).
    :raises ~anyio_eventhubs._azure_internals_check.IncompatibleAzureEventHubError: if the
        installed azure-eventhub's internals are not the verified ones (checked once, here).
    """
    if unknown:
        name = sorted(unknown)[0]
        raise TypeError(f"{_CALLER} got an unexpected keyword argument {name!r}")
    ensure_compatible()
    if open_timeout is None:
        open_timeout = DEFAULT_OPEN_TIMEOUT
    if isinstance(open_timeout, bool) or not isinstance(open_timeout, int | float):
        raise TypeError(
            f"open_timeout must be a number of seconds, got {type(open_timeout).__name__}"
        )
    if not 0 < open_timeout < float("inf"):
        raise ValueError(f"open_timeout must be a positive number of seconds, got {open_timeout}")
    eventhub_name = _check_hub_name(_check_name(eventhub_name, "eventhub_name"))
    fully_qualified_namespace = _check_namespace(
        _check_name(fully_qualified_namespace, "fully_qualified_namespace")
    )
    options: dict[str, Any] = {
        "transport_type": transport_type,
        "http_proxy": http_proxy,
        "custom_endpoint_address": custom_endpoint_address,
        "connection_verify": connection_verify,
        "ssl_context": ssl_context,
    }
    _check_connection_options(options)
    given_options = {name: value for name, value in options.items() if value is not None}
    if http_proxy is not None:
        given_options["http_proxy"] = _proxy_settings(http_proxy)
    client_kwargs = {"retry_total": 0, "user_agent": _user_agent(user_agent), **given_options}

    if client is not None:
        others = [
            name
            for name, value in (
                ("connection_string", connection_string),
                ("fully_qualified_namespace", fully_qualified_namespace),
                ("credential", credential),
                ("user_agent", user_agent),
                *options.items(),
            )
            if value is not None
        ]
        if others:
            raise ValueError(f"client= replaces the connection options; do not also give {others}")
        transport_kind = getattr(getattr(client, "_config", None), "transport_type", None)
        _check_websockets(transport_kind, None)
        return _for_client(client, eventhub_name, open_timeout)

    if connection_string is not None:
        if fully_qualified_namespace is not None or credential is not None:
            raise ValueError(
                "give either a connection string or fully_qualified_namespace= with "
                "credential=, not both"
            )
        info = parse_connection_string(connection_string)
        if info.entity_path is not None and eventhub_name not in (None, info.entity_path):
            raise ValueError(
                f"eventhub_name {eventhub_name!r} does not match the connection string's "
                f"EntityPath {info.entity_path!r}"
            )
        hub = eventhub_name or info.entity_path
        if hub is None:
            raise ValueError(
                "no Event Hub name: give eventhub_name or put EntityPath=<hub> in the "
                "connection string"
            )
        if info.emulator:
            client_kwargs["use_tls"] = False
        make = partial(
            EventHubProducerClient.from_connection_string,
            connection_string,
            eventhub_name=hub,
            **client_kwargs,
        )
        source = ClientSource(
            make,
            owned=True,
            fully_qualified_namespace=info.fully_qualified_namespace,
            description="credential=connection string",
        )
        return AzureTransport(source, eventhub_name=hub, open_timeout=open_timeout)

    if fully_qualified_namespace is None or credential is None:
        missing = "fully_qualified_namespace" if fully_qualified_namespace is None else "credential"
        raise ValueError(
            f"{missing}= is missing: give a connection string, or fully_qualified_namespace= "
            "with eventhub_name and credential=, or client="
        )
    if eventhub_name is None:
        raise ValueError("eventhub_name is missing (needed with fully_qualified_namespace=)")
    checked = check_credential(credential)
    if is_local_emulator(fully_qualified_namespace):
        client_kwargs["use_tls"] = False
    make = partial(
        EventHubProducerClient, fully_qualified_namespace, eventhub_name, checked, **client_kwargs
    )
    source = ClientSource(
        make,
        owned=True,
        fully_qualified_namespace=fully_qualified_namespace,
        description=f"credential={type(credential).__name__}",
    )
    return AzureTransport(source, eventhub_name=eventhub_name, open_timeout=open_timeout)


def _for_client(client: object, eventhub_name: str | None, open_timeout: float) -> AzureTransport:
    if isinstance(client, SyncEventHubProducerClient):
        raise TypeError(
            "client must be an azure.eventhub.aio.EventHubProducerClient, not the sync "
            "azure.eventhub.EventHubProducerClient"
        )
    if not isinstance(client, EventHubProducerClient):
        raise TypeError(
            "client must be an azure.eventhub.aio.EventHubProducerClient, got "
            f"{type(client).__name__}"
        )
    if eventhub_name is not None and eventhub_name != client.eventhub_name:
        raise ValueError(
            f"eventhub_name {eventhub_name!r} does not match the client's Event Hub "
            f"{client.eventhub_name!r}"
        )
    source = ClientSource(
        lambda: client,
        owned=False,
        fully_qualified_namespace=client_namespace(client),
        description="client=caller's (not closed by us)",
    )
    return AzureTransport(source, eventhub_name=client.eventhub_name, open_timeout=open_timeout)
