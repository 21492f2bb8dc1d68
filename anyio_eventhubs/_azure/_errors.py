"""Mapping azure-eventhub's exceptions to ours, at the transport's boundary.

:func:`map_exceptions` works like httpcore's: the most specific rule first, always
``raise OurError(...) from exc``. The AMQP error condition decides first (wherever it
sits: the exception, its ``details``, its cause), then the kind of exception. Messages
carry the condition and the service's description, never a key or a token: secrets
are redacted from our message and, in place, from the exceptions it wraps
(:func:`scrub_secrets`).

=======================================================  ==========================
what azure-eventhub reports                              raised here
=======================================================  ==========================
a CBS put-token refused (401), ``amqp:unauthorized-      AuthenticationError
access``, ``azure.eventhub.exceptions.AuthenticationError``,
a credential's ``ClientAuthenticationError`` (no token)
``com.microsoft:server-busy``                            ServerBusyError
``amqp:resource-limit-exceeded``,                        ThrottledError
``com.microsoft:...throttl...``
``com.microsoft:timeout``, ``TimeoutError``, the         OperationTimeoutError
client's ``OperationTimeoutError``
``amqp:internal-error``                                  InternalServerError
``amqp:not-found`` (unknown hub: 404 on                  NotFoundError
``$management``, or a refused attach),
``com.microsoft:entity-not-found``
``com.microsoft:argument-out-of-range`` (unknown          NotFoundError
partition)
``amqp:link:message-size-exceeded``                      MessageTooLargeError
a link or connection going away (detach, forced close,   ConnectError while opening,
socket error, ``unknown-error`` from a send)             ConnectionLostError after
while opening: DNS, refused, TLS, certificate, proxy,    ConnectError, saying which
WebSocket handshake, a peer that is not AMQP             (:mod:`._network`)
=======================================================  ==========================
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from azure.core.exceptions import ClientAuthenticationError
from azure.eventhub import exceptions as azure_errors

from .._azure_internals import amqp_errors
from .._exceptions import (
    AuthenticationError,
    ConnectError,
    ConnectionLostError,
    InternalServerError,
    MessageTooLargeError,
    NotFoundError,
    OperationTimeoutError,
    ServerBusyError,
    ThrottledError,
    TransportError,
)
from ._network import network_hint

__all__ = ["map_exceptions", "redact", "scrub_secrets", "to_transport_error"]

_SERVER_BUSY = "com.microsoft:server-busy"
_TIMEOUT_CONDITIONS = frozenset({"com.microsoft:timeout", "com.microsoft:operation-timeout"})
_NOT_FOUND_CONDITIONS = frozenset(
    {"amqp:not-found", "com.microsoft:entity-not-found", "com.microsoft:argument-out-of-range"}
)
_LOST_CONDITIONS = frozenset(
    {
        "amqp:link:detach-forced",
        "amqp:link:stolen",
        "amqp:connection:forced",
        "amqp:connection:framing-error",
        "amqp:socket-error",
        "amqp:session:errant-link",
        "amqp:session:unattached-handle",
        "amqp:unknown-error",
        "amqp:client-error",
        "com.microsoft:store-lock-lost",
        "com.microsoft:partition-not-owned",
    }
)

_SECRETS = (
    (re.compile(r"SharedAccessSignature\s+\S+", re.IGNORECASE), "SharedAccessSignature <redacted>"),
    (
        re.compile(r"\b(SharedAccessKey|SharedAccessSignature)\s*=\s*[^;\s]+", re.IGNORECASE),
        r"\1=<redacted>",
    ),
    (re.compile(r"\b(sig|skn)=[^&\s;]+", re.IGNORECASE), r"\1=<redacted>"),
    (re.compile(r"\bBearer\s+\S+", re.IGNORECASE), "Bearer <redacted>"),
    (re.compile(r"\beyJ[\w-]+\.[\w-]+\.[\w-]*"), "<redacted JWT>"),
)


def redact(text: str) -> str:
    """Return *text* with anything that looks like a key, SAS token or bearer token hidden."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


def _as_text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _amqp_error(exc: BaseException) -> amqp_errors.AMQPException | None:
    """The AMQP-level exception behind *exc*: itself, its ``details``, or its causes."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, amqp_errors.AMQPException):
            return current
        details = getattr(current, "details", None)
        if isinstance(details, amqp_errors.AMQPException):
            return details
        current = current.__cause__ or current.__context__
    return None


def _condition(error: amqp_errors.AMQPException | None) -> str | None:
    if error is None:
        return None
    condition = error.condition
    if isinstance(condition, amqp_errors.ErrorCondition):
        condition = condition.value
    return _as_text(condition)


def _describe(exc: BaseException, error: amqp_errors.AMQPException | None) -> str:
    if error is not None:
        condition = _condition(error) or "amqp:unknown-error"
        if isinstance(error, amqp_errors.TokenAuthFailure):
            text = f"CBS put-token refused with status {error.status_code}"
            if error.status_description:
                text += f": {_as_text(error.status_description)}"
        elif error.description:
            text = f"{condition}: {_as_text(error.description)}"
        else:
            text = condition
    else:
        text = _as_text(getattr(exc, "message", None) or exc) or type(exc).__name__
    return redact(" ".join(text.split()))


def _is_authentication(exc: BaseException, error: amqp_errors.AMQPException | None) -> bool:
    return (
        isinstance(exc, azure_errors.AuthenticationError | ClientAuthenticationError)
        or isinstance(error, amqp_errors.AuthenticationException)
        or _condition(error) == "amqp:unauthorized-access"
    )


def to_transport_error(exc: BaseException, context: str, *, opening: bool) -> TransportError | None:
    """Return the :class:`~anyio_eventhubs.TransportError` for *exc*, or ``None`` to let it be.

    :param context: what was being done, e.g. ``"sending to partition '0' of 'hub'"``.
    :param opening: whether a connection was being opened (a lost connection is then a
        :class:`~anyio_eventhubs.ConnectError`).
    """
    if isinstance(exc, TransportError):
        return exc
    if not isinstance(exc, Exception):
        return None  # cancellation, KeyboardInterrupt, ...
    if opening:
        hint = network_hint(exc)
        if hint is not None:
            return ConnectError(redact(f"{context}: {hint}"))
    error = _amqp_error(exc)
    condition = _condition(error)
    message = redact(f"{context}: {_describe(exc, error)}")
    if _is_authentication(exc, error):
        return AuthenticationError(message)
    if condition == _SERVER_BUSY:
        if "throttl" in message.lower():
            return ThrottledError(message)
        return ServerBusyError(message)
    if condition == "amqp:resource-limit-exceeded" or (
        condition is not None and condition.startswith("com.microsoft:") and "throttl" in condition
    ):
        return ThrottledError(message)
    if condition in _TIMEOUT_CONDITIONS:
        return OperationTimeoutError(message)
    if condition == "amqp:internal-error":
        return InternalServerError(message)
    if condition in _NOT_FOUND_CONDITIONS:
        return NotFoundError(message)
    if condition == "amqp:link:message-size-exceeded":
        return MessageTooLargeError(message)
    lost = ConnectError if opening else ConnectionLostError
    if condition in _LOST_CONDITIONS:
        return lost(message)
    if isinstance(exc, azure_errors.OperationTimeoutError | TimeoutError):
        return OperationTimeoutError(message)
    if isinstance(
        exc,
        azure_errors.ConnectError
        | azure_errors.ConnectionLostError
        | azure_errors.ClientClosedError
        | amqp_errors.AMQPConnectionError
        | amqp_errors.AMQPSessionError
        | amqp_errors.AMQPLinkError
        | OSError,
    ):
        return lost(message)
    if isinstance(exc, azure_errors.EventHubError | amqp_errors.AMQPException):
        # a rejection with a condition we do not know: trying again will not change it
        return TransportError(message, is_transient=False)
    return None


#: attributes of azure-eventhub's and pyamqp's exceptions that carry the service's text
_TEXT_ATTRIBUTES = ("message", "description", "status_description", "info", "inner_error")


def _redacted(value: object) -> object:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bytes):
        text = value.decode("utf-8", "replace")
        cleaned = redact(text)
        return value if cleaned == text else cleaned.encode()
    return value


def scrub_secrets(exc: BaseException) -> None:
    """Redact secrets, in place, from *exc* and the exceptions it was caused by.

    Our messages are redacted as they are made; this covers the exceptions we wrap (the
    ``__cause__`` of ours) and the ones we let through, whose text comes from the client
    or the service (a status description may repeat a token).
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        args = tuple(_redacted(arg) for arg in current.args)
        if args != current.args:
            current.args = args
        for name in _TEXT_ATTRIBUTES:
            value = getattr(current, name, None)
            if isinstance(value, str | bytes):
                cleaned = _redacted(value)
                if cleaned != value:
                    with suppress(AttributeError):  # a read-only attribute stays as it is
                        setattr(current, name, cleaned)
        current = current.__cause__ or current.__context__


@contextmanager
def map_exceptions(context: str, *, opening: bool = False) -> Iterator[None]:
    """Re-raise what azure-eventhub raises in the block as our exceptions.

    Anything unrecognised (a bug, cancellation) passes through unchanged. Secrets are
    redacted from the messages of what leaves, and of what it was caused by.
    """
    try:
        yield
    except Exception as exc:
        scrub_secrets(exc)
        mapped = to_transport_error(exc, context, opening=opening)
        if mapped is None or mapped is exc:
            raise
        try:
            raise mapped from exc
        finally:
            # its traceback holds this frame: a frame that held it back would make a
            # cycle, and keep the failed batch alive until a full collection
            del mapped
