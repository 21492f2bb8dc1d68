"""What went wrong on the network while opening, said so that a user can act on it.

azure-eventhub reports most failures to connect as ``AMQPConnectionError`` with the
condition ``amqp:socket-error`` and the text of whatever it caught; a peer that is not
Event Hubs gives a bare ``ValueError`` from the frame decoder. :func:`network_hint`
finds the real cause in the exception's chain (a DNS failure, a refused connection, a
certificate, a TLS mismatch, a proxy, a WebSocket handshake, a peer that is not AMQP) and
says what it means and what to check. Pure code: no I/O.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator

__all__ = ["network_hint"]


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """*exc*, its causes and contexts, and the ``inner_error`` of pyamqp's exceptions."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for linked in (
            current.__cause__,
            current.__context__,
            getattr(current, "inner_error", None),
            getattr(current, "error", None),
            getattr(current, "os_error", None),  # aiohttp's ClientConnectorError
        ):
            if isinstance(linked, BaseException):
                pending.append(linked)


def _from_amqp_decoder(exc: BaseException) -> bool:
    """Whether *exc* was raised inside azure-eventhub's AMQP layer (not by our code)."""
    traceback = exc.__traceback__
    last = None
    while traceback is not None:
        last = traceback.tb_frame.f_code.co_filename
        traceback = traceback.tb_next
    return last is not None and "_pyamqp" in last


def _aiohttp_hint(exc: BaseException) -> str | None:
    try:
        import aiohttp
    except ImportError:  # pragma: no cover - only reached over WebSockets, with aiohttp
        return None
    if isinstance(exc, aiohttp.ClientHttpProxyError):
        return (
            f"the HTTP proxy refused the tunnel with {exc.status} {exc.message}: check "
            "http_proxy= (host, port, username and password) and that the proxy allows "
            "CONNECT to the namespace on port 443"
        )
    if isinstance(exc, aiohttp.ClientProxyConnectionError):
        return (
            f"cannot reach the HTTP proxy ({exc.os_error}): check http_proxy= proxy_hostname "
            "and proxy_port"
        )
    if isinstance(exc, aiohttp.ClientResponseError):  # incl. WSServerHandshakeError
        message = " ".join(str(exc.message).split())
        return (
            f"the WebSocket handshake failed ({exc.status} {message}): the endpoint does "
            "not serve AMQP over WebSockets (subprotocol AMQPWSB10) there"
        )
    return None


def network_hint(exc: BaseException) -> str | None:
    """Say what *exc* (raised while opening) means on the network, or ``None``."""
    for error in _chain(exc):
        hint = _aiohttp_hint(error)
        if hint is not None:
            return hint
        if isinstance(error, socket.gaierror):
            return (
                f"the host name could not be resolved (DNS: {error.strerror}): check "
                "fully_qualified_namespace (or the connection string's Endpoint), and the "
                "DNS or proxy settings of this network"
            )
        if isinstance(error, ConnectionRefusedError):
            return (
                "the connection was refused: nothing listens on that host and port (AMQP "
                "uses 5671, AMQP over WebSockets 443), or a firewall rejects it; behind a "
                "firewall, try transport_type=TransportType.AmqpOverWebsocket"
            )
        if isinstance(error, ssl.SSLCertVerificationError):
            return (
                f"the server's TLS certificate failed verification ({error.verify_message}): "
                "pass connection_verify= a CA bundle (PEM) that signs it, or ssl_context="
            )
        if isinstance(error, ssl.SSLError):
            return (
                f"the TLS handshake failed ({error.reason or error}): the peer does not speak "
                "TLS on this port (a plain AMQP port, or custom_endpoint_address pointing at "
                "the wrong port?)"
            )
        if isinstance(error, OSError) and "unexpectedly closed" in str(error):
            return (
                "the peer closed the connection during the AMQP handshake: it is not an "
                "Event Hubs AMQP endpoint, or it expects TLS where the client spoke plain "
                "AMQP (UseDevelopmentEmulator=true, or a loopback namespace, turns TLS off)"
            )
        if isinstance(error, ValueError) and _from_amqp_decoder(error):
            return (
                f"the peer does not speak AMQP ({error}): it is not an Event Hubs endpoint "
                "(an HTTP server, a proxy, or a TLS port reached without TLS?)"
            )
    return None
