"""One AMQP connection per producer: the structured side of :mod:`.._azure_amqp`.

:class:`OneConnection` opens the connection through the bridge (CBS with the hub's
token, ``$management`` for the partition ids), and runs its two background jobs in the
transport's task group: the pump that reads every frame (under Trio it runs on the
bridge's loop, as every call into the client does) and the token refresher. When a send
finds the connection lost, :meth:`OneConnection.ensure_open` opens a new one and starts
its jobs; each partition's link attaches again on it at its next send.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, NoReturn

import anyio
from anyio.abc import TaskGroup

from .._azure_amqp import (
    SharedConnection,
    close_shared_connection,
    open_shared_connection,
    pump,
    read_partition_ids_shared,
    reusable_ssl_context,
)
from .._azure_amqp_link import PartitionLink
from .._azure_amqp_token import refresh_token, token_lifetime, with_sas_hint
from .._azure_internals import close_amqp_client
from ._bridge import Bridge
from ._errors import map_exceptions, redact

try:
    from azure.eventhub._pyamqp.error import AuthenticationException
except ImportError:  # pragma: no cover - exercised only by a changed client
    AuthenticationException = Exception  # type: ignore[assignment,misc]

__all__ = ["OneConnection", "open_jobs"]

logger = logging.getLogger("anyio_eventhubs")

#: seconds that closing what a failed reopen left may take
_CLOSE_TIMEOUT = 5.0
#: seconds before trying again to renew a token that could not be renewed
_TOKEN_RETRY = 5.0


class OneConnection:
    """The producer's one connection, opened again when it is lost.

    :param opened: management clients that :func:`_close` must close if an open was cut
        short (the connection's owner is there until it is open).
    """

    def __init__(
        self, bridge: Bridge, client: Any, task_group: TaskGroup, context: str, opened: list[Any]
    ) -> None:
        self._bridge = bridge
        self._client = client
        self._task_group = task_group
        self._context = context
        self._opened = opened
        self._lock = anyio.Lock()
        #: the connection that links attach on (read by :class:`PartitionLink`)
        self.current: SharedConnection | None = None
        #: how many connections this producer opened
        self.opens = 0
        #: the scopes of the connections' jobs, shielded: the sends, not the pump, must
        #: see a cancellation first (a send woken by a dead pump would be retried)
        self._jobs: set[anyio.CancelScope] = set()
        #: one TLS context for all its connections (see reusable_ssl_context)
        self._ssl_context: ssl.SSLContext | None = None

    def __repr__(self) -> str:
        return f"<OneConnection current={self.current!r} opens={self.opens}>"

    def link(self, producer: Any) -> PartitionLink:
        """A partition's link on this connection (for azure's unopened *producer*)."""
        assert self.current is not None
        return PartitionLink(self, producer, self.current.auth)

    async def open(self) -> list[str]:
        """Open the connection and start its jobs; return the hub's partition ids.

        :raises ~anyio_eventhubs.TransportError: (a subclass) as for any open.
        """
        with map_exceptions(self._context, opening=True):
            return await self._open()

    async def _open(self) -> list[str]:
        if self._ssl_context is None:
            self._ssl_context = reusable_ssl_context(self._client)
        try:
            shared, ids = await self._bridge.run(
                open_shared_connection,
                self._client,
                self._opened,
                self._ssl_context,
            )
        except AuthenticationException as exc:  # an expired AzureSasCredential says so
            raise with_sas_hint(self._client, exc) from exc
        self._opened.remove(shared.management)
        shared.token_lifetime = token_lifetime(shared)
        self.current = shared
        self.opens += 1
        self._task_group.start_soon(self._serve, shared)
        return ids

    async def ensure_open(self, context: str) -> None:
        """Open a new connection if the current one is lost (one caller does, others wait).

        :raises ~anyio_eventhubs.TransportError: (a subclass) if it cannot be opened.
        """
        if self.current is not None and not self.current.dead:
            return
        async with self._lock:
            old = self.current
            if old is not None and not old.dead:
                return
            if old is not None:
                with anyio.CancelScope(shield=True):
                    await self._quietly(old)
            logger.debug("%s: the connection was lost; opening a new one", context)
            before = list(self._opened)
            try:
                with map_exceptions(f"{context} (opening the connection again)"):
                    await self._open()
                assert self.current is not None
                self.current.after_token_refusal = old is not None and old.closed_for_token
            except BaseException:
                # not left for the producer's close: a credential refused again and again
                # would pile up sockets until then
                leftovers = [client for client in self._opened if client not in before]
                with anyio.CancelScope(shield=True), anyio.move_on_after(_CLOSE_TIMEOUT):
                    for client in leftovers:
                        self._opened.remove(client)
                        await self._quietly_close_client(client)
                raise

    async def read_partition_ids(self, context: str) -> list[str]:
        """Read the hub's partition ids again on the connection (opened again if lost)."""
        await self.ensure_open(context)
        assert self.current is not None
        return await self._bridge.run(read_partition_ids_shared, self.current)

    async def aclose(self) -> None:
        """Close the current connection; its jobs then end (:meth:`stop` makes sure)."""
        shared = self.current
        if shared is not None:
            await self._quietly(shared)

    def stop(self) -> None:
        """Cancel the jobs of every connection (the last step of closing)."""
        for scope in self._jobs:
            scope.cancel()

    async def _quietly_close_client(self, client: Any) -> None:
        try:
            await self._bridge.run(close_amqp_client, client)
        except Exception as exc:
            logger.debug("ignored while closing: %s: %s", type(exc).__name__, redact(str(exc)))

    async def _quietly(self, shared: SharedConnection) -> None:
        try:
            await self._bridge.run(close_shared_connection, shared)
        except Exception as exc:
            logger.debug("ignored while closing: %s: %s", type(exc).__name__, redact(str(exc)))

    async def _serve(self, shared: SharedConnection) -> None:
        """Read the connection's frames, and keep its token fresh, until it ends."""
        with anyio.CancelScope(shield=True) as scope:
            self._jobs.add(scope)
            try:
                async with anyio.create_task_group() as task_group:
                    task_group.start_soon(self._keep_token_fresh, shared)
                    await self._bridge.run(pump, shared)
                    task_group.cancel_scope.cancel()
            finally:
                self._jobs.discard(scope)
        if shared.error is not None and not shared.closing:
            logger.info(
                "%s: the connection was lost (%s); the next send opens a new one",
                self._context,
                redact(f"{type(shared.error).__name__}: {shared.error}"),
            )

    async def _keep_token_fresh(self, shared: SharedConnection) -> None:
        """Put the hub's token again before it expires, for as long as the connection lives."""
        while not shared.dead:
            try:
                delay = await self._bridge.run(refresh_token, shared)
            except Exception as exc:
                if not shared.dead:  # else the loop ends
                    hinted = with_sas_hint(self._client, exc)
                    logger.warning(
                        "%s: could not renew the token on the connection (%s); trying again "
                        "in %g s; its links are detached if the current token expires first",
                        self._context,
                        redact(f"{type(hinted).__name__}: {hinted}"),
                        _TOKEN_RETRY,
                    )
                delay = _TOKEN_RETRY
            await anyio.sleep(delay)


@asynccontextmanager
async def open_jobs() -> AsyncIterator[TaskGroup]:
    """A task group for the connections' jobs, cancelled on exit.

    The jobs never raise, so what leaves is the body's exception, as it was (not in a group).
    """
    try:
        async with anyio.create_task_group() as task_group:
            try:
                yield task_group
            finally:
                task_group.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        _raise_sole(group)


def _raise_sole(group: BaseExceptionGroup) -> NoReturn:
    """Raise the one exception of *group* as it was (or *group*, if it holds several)."""
    if len(group.exceptions) != 1:
        raise group
    exc = group.exceptions[0]
    context = exc.__context__
    try:
        raise exc
    finally:
        exc.__context__ = context  # not the group
        del exc
