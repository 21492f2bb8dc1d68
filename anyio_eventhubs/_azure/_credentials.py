"""The credentials ``azure_transport`` accepts, made fit for azure-eventhub's asyncio client.

The asyncio client awaits ``credential.get_token(...)`` (``_pyamqp/aio/_cbs_async.py``,
``get_updated_token_async``): a synchronous token credential (``azure.identity``'s, not
``azure.identity.aio``'s) would hand it an ``AccessToken`` where it expects an awaitable,
and calling it on the event loop would block the loop for a network round trip. So a sync
credential is wrapped: each ``get_token`` runs in the default executor of the loop that
runs the client (the caller's loop under asyncio, the bridge's loop under Trio, whose
executor is shut down with it).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from typing import Any

from azure.core.credentials import (
    AccessToken,
    AzureKeyCredential,
    AzureNamedKeyCredential,
    AzureSasCredential,
)

__all__ = ["ThreadedTokenCredential", "check_credential"]


class ThreadedTokenCredential:
    """An asynchronous face on a synchronous token credential.

    ``get_token`` runs the wrapped credential's ``get_token`` in the running loop's default
    executor, so the loop keeps running while a token is fetched.
    """

    def __init__(self, credential: Any) -> None:
        self._credential = credential
        token_type = getattr(credential, "token_type", None)
        if token_type is not None:
            self.token_type = token_type

    def __repr__(self) -> str:
        return f"<ThreadedTokenCredential wrapping {type(self._credential).__name__}>"

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        """Fetch a token in a worker thread; cancelling abandons the wait, not the thread."""
        loop = asyncio.get_running_loop()
        call = functools.partial(self._credential.get_token, *scopes, **kwargs)
        token: AccessToken = await loop.run_in_executor(None, call)
        return token


def check_credential(credential: object) -> object:
    """Return *credential* in a form azure-eventhub's asyncio client can await.

    :raises TypeError: if *credential* is not an ``AzureNamedKeyCredential``, an
        ``AzureSasCredential`` or a token credential (sync or async).
    """
    if isinstance(credential, AzureNamedKeyCredential | AzureSasCredential):
        return credential
    if isinstance(credential, AzureKeyCredential):
        raise TypeError(
            "AzureKeyCredential carries no key name; use "
            "AzureNamedKeyCredential(key_name, key) for a shared access key"
        )
    if isinstance(credential, str | bytes):
        raise TypeError(
            "credential must be a credential object, not a string; for a shared access key "
            "use AzureNamedKeyCredential(key_name, key), or pass a connection string"
        )
    get_token = getattr(credential, "get_token", None)
    if not callable(get_token):
        raise TypeError(
            "credential must be an AzureNamedKeyCredential, an AzureSasCredential or a token "
            "credential with get_token() (azure.identity or azure.identity.aio), got "
            f"{type(credential).__name__}"
        )
    if inspect.iscoroutinefunction(get_token):
        return credential
    return ThreadedTokenCredential(credential)
