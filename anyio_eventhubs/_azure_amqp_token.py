"""The hub's token on the producer's one connection (:mod:`._azure_amqp`), kept fresh.

pyamqp's CBS authenticator puts a token again when a tenth of its lifetime is left, and
counts that tenth in whole seconds: a token of less than 10 s has a window of 0 s and
would be renewed only after it expired (its ``handle_token`` then raises
``TokenExpired``). Here a token is put again when a tenth of its lifetime is left, or
2 s, whichever is more, but never earlier than half-way (:func:`refresh_at`).

An ``AzureSasCredential`` gives the same signature until its owner calls ``update()``:
that one is not put again (a warning says what to do), and a token credential that
hands out its cached token again is asked again a second later. When the service refuses
a link for its token (``PartitionLink.open`` calls :func:`put_fresh_token`) the
credential's token is put whatever it is; an ``AzureSasCredential`` whose signature has
expired is then named in the error, with what to do (:func:`with_sas_hint`).

Runs on the client's event loop (through the bridge), as :mod:`._azure_amqp` does.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Any

from azure.core.credentials import AzureSasCredential

from ._azure_amqp import SharedConnection

try:
    from azure.eventhub._pyamqp.constants import CbsAuthState
    from azure.eventhub._pyamqp.error import AuthenticationException, ErrorCondition
except ImportError as exc:  # pragma: no cover - exercised only by a changed client
    IMPORT_ERROR: ImportError | None = exc
else:
    IMPORT_ERROR = None

__all__ = [
    "IMPORT_ERROR",
    "put_fresh_token",
    "refresh_at",
    "refresh_token",
    "sas_credential_expiry",
    "sas_credential_signature",
    "token_lifetime",
    "with_sas_hint",
]

logger = logging.getLogger("anyio_eventhubs")

#: a token is put again when this share of its lifetime is left (pyamqp's rule)
_REFRESH_SHARE = 0.1
#: ... or this many seconds, if more (but never earlier than half-way)
_REFRESH_MARGIN = 2.0
#: seconds between two looks at the token's expiry, at most and at least
_TOKEN_CHECK_MAX, _TOKEN_CHECK_MIN = 60.0, 0.05
#: seconds before looking again when the credential had no newer token to give
_UNCHANGED_RECHECK = 1.0


def refresh_at(expires_on: float, lifetime: float) -> float:
    """When a token that expires at *expires_on* and lived *lifetime* s is put again."""
    lifetime = max(0.0, lifetime)
    return expires_on - max(lifetime * _REFRESH_SHARE, min(_REFRESH_MARGIN, lifetime / 2))


def token_lifetime(shared: SharedConnection) -> float:
    """The lifetime of the token put last on *shared*, as its credential gave it."""
    cbs = shared.management._cbs_authenticator
    return float(cbs._expires_on - cbs._token_put_time)


async def refresh_token(shared: SharedConnection) -> float:
    """Put a fresh token for the hub's audience if the current one is due; return the
    seconds until it is worth looking again.

    :raises AMQPException: if the token was refused or the connection is gone.
    """
    cbs = _cbs(shared)
    if shared.token_lifetime is None:
        shared.token_lifetime = token_lifetime(shared)
    due = refresh_at(cbs._expires_on, shared.token_lifetime) - time.time()
    if due > 0:
        return _clamp(due)
    signature = sas_credential_signature(shared.client)
    if signature is not None and signature == cbs._token:  # not updated by its owner
        if not shared.sas_warned:
            shared.sas_warned = True
            logger.warning(
                "the AzureSasCredential's signature expires at %s and anyio-eventhubs cannot "
                "renew it: call the credential's update() with a new signature",
                _when(cbs._expires_on),
            )
        return _UNCHANGED_RECHECK
    before = cbs._expires_on
    async with shared.token_lock:
        await _put(shared)
    if cbs._expires_on <= before:  # the credential's token is cached: the same again
        return _UNCHANGED_RECHECK
    return _clamp(refresh_at(cbs._expires_on, shared.token_lifetime) - time.time())


async def put_fresh_token(shared: SharedConnection, puts: int) -> None:
    """Put the credential's token for the hub's audience now, unless one was put since
    *shared* had put *puts* tokens.

    For a link the service detached or refused for its token. A token signed with a key
    within the same second as the last is the same string: if that one is refused, the
    token of the next second is put.

    :raises AMQPException: if the token was refused (naming an expired
        ``AzureSasCredential``), or the connection is gone.
    """
    async with shared.token_lock:
        cbs = _cbs(shared)
        if shared.token_puts != puts:
            return
        before = cbs._token
        try:
            try:
                await _put(shared)
            except AuthenticationException:
                if cbs._token != before or sas_credential_signature(shared.client) is not None:
                    raise
                await asyncio.sleep(1.0 - time.time() % 1.0 + 0.01)
                await _put(shared)
        except AuthenticationException as exc:
            raise with_sas_hint(shared.client, exc) from exc


async def _put(shared: SharedConnection) -> None:
    """Put the credential's token and wait for the service's answer (hold the token lock).

    :raises AMQPException: (``TokenAuthFailure``) if it was refused.
    :raises TimeoutError: if no answer came within the client's auth timeout.
    """
    cbs = _cbs(shared)
    await cbs.update_token()
    shared.token_lifetime = token_lifetime(shared)
    while cbs.auth_state == CbsAuthState.IN_PROGRESS:
        await shared.wait_progress()
        await cbs._update_status()  # a put left unanswered times out
    if cbs.auth_state != CbsAuthState.OK:
        await cbs.handle_token()  # raises what the state says
        raise AuthenticationException(  # pragma: no cover - every other state raised
            condition=ErrorCondition.UnauthorizedAccess,
            description=f"the token was not accepted (CBS state {cbs.auth_state})",
        )
    shared.token_puts += 1


def sas_credential_signature(client: Any) -> str | None:
    """The signature of the caller's ``AzureSasCredential``, if that is the credential."""
    wrapper = getattr(client, "_credential", None)
    credential = getattr(wrapper, "_credential", None)
    if not isinstance(credential, AzureSasCredential):
        return None
    return credential.signature


def sas_credential_expiry(client: Any) -> int | None:
    """When the caller's ``AzureSasCredential`` expires (``se=``), if that is the credential."""
    signature = sas_credential_signature(client)
    for field in (signature or "").split("&"):
        name, _, value = field.partition("=")
        if name == "se" and value.isdigit():
            return int(value)
    return None


def with_sas_hint(client: Any, exc: BaseException) -> BaseException:
    """*exc*, or an ``AuthenticationException`` that names the expired ``AzureSasCredential``
    and says what to do, if that is why the service refused."""
    expiry = sas_credential_expiry(client)
    if expiry is None or expiry > time.time():
        return exc
    detail = getattr(exc, "status_description", None) or getattr(exc, "description", None)
    if isinstance(detail, bytes):
        detail = detail.decode("utf-8", "replace")
    return AuthenticationException(
        condition=ErrorCondition.UnauthorizedAccess,
        description=(
            f"the AzureSasCredential's signature expired at {_when(expiry)}, and "
            "anyio-eventhubs cannot renew it: call the credential's update() with a new "
            "signature, or use a credential it can renew (a connection string, an "
            "AzureNamedKeyCredential or a token credential)"
            + (f" (the service said: {detail})" if detail else "")
        ),
    )


def _cbs(shared: SharedConnection) -> Any:
    """The connection's CBS authenticator.

    :raises AMQPException: if the connection is gone (or going: closed by another link).
    """
    cbs = shared.management._cbs_authenticator
    if shared.dead or shared.closing or cbs is None:
        raise shared.failure()
    return cbs


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _clamp(seconds: float) -> float:
    return float(min(_TOKEN_CHECK_MAX, max(_TOKEN_CHECK_MIN, seconds)))
