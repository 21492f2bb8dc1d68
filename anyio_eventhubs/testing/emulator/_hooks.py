"""What a connection shares with the server that owns it, and what tests see of it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ._faults import FaultInjector
from ._hubs import EventStore
from ._lifetime import ServiceRules

if TYPE_CHECKING:
    from ._connection import ServerConnection
    from ._receivers import ReceiverRegistry

__all__ = ["ConnectionInfo", "ServerHooks", "parse_entity"]


@dataclass(frozen=True)
class ConnectionInfo:
    """A snapshot of one accepted connection."""

    connection_id: int
    peer: tuple[str, int]
    open: bool
    """Whether the TCP connection is still open."""
    container_id: str | None
    sasl_mechanism: str | None
    links: tuple[str, ...]
    """Addresses of the links attached so far (targets of senders, sources of receivers)."""
    transfers: int
    """Transfers stored from this connection."""
    events: int
    """Events stored from this connection."""
    user_agent: str | None = None
    """The ``user-agent`` property of the client's AMQP open frame."""
    detached: tuple[str, ...] = ()
    """The error conditions of the links the emulator's lifetime rules detached, in order
    (``amqp:link:detach-forced`` for an expired token)."""
    close_condition: str | None = None
    """The error condition the emulator closed the connection with (its lifetime rules:
    no token, no link, idle), if it did."""


class ServerHooks(Protocol):
    """What a connection needs from the server that owns it."""

    store: EventStore
    faults: FaultInjector
    rules: ServiceRules
    receivers: ReceiverRegistry
    key_name: str
    key: str | None
    tokens_first_put: dict[str, float]
    """token -> when it was first accepted (only with ``max_token_lifetime``)"""

    def call_later(self, delay: float, callback: Callable[[], None]) -> None: ...

    def mark_dirty(self, connection: ServerConnection) -> None: ...


def parse_entity(address: str | None) -> list[str]:
    """The path segments of a link address (``amqps://host/eh1/Partitions/0`` -> 3)."""
    if not address:
        return []
    if "://" in address:
        address = address.split("://", 1)[1].partition("/")[2]
    return [part for part in address.split("/") if part]
