"""One accepted TCP connection: SASL, a proton transport, and the links on it.

Bytes in: the SASL layer (:mod:`._sasl`), then proton. Bytes out: proton's output through
the frame padder (:mod:`._frames`) into :attr:`ServerConnection.out`, which the server
loop writes to the socket. Every method runs on the server thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from proton import (
    Collector,
    Condition,
    Connection,
    Delivery,
    Event,
    Transport,
    int32,
    short,
    symbol,
)

from ._cbs import put_token
from ._codec import Encoded, encode_int
from ._consumer import ConsumerLink, find_selector, start_index
from ._faults import NOT_FOUND, FaultInjector
from ._frames import OutgoingFrames
from ._hubs import EventStore
from ._idempotent import (
    IDEMPOTENT_PRODUCER,
    PRODUCER_EPOCH,
    PRODUCER_ID,
    PRODUCER_SEQUENCE_NUMBER,
    AttachRefused,
    AttachSniffer,
)
from ._management import read
from ._messages import encode_reply, parse_request
from ._publish import ProducerLink
from ._sasl import SaslHandshake

__all__ = ["ConnectionInfo", "ServerConnection", "ServerHooks", "parse_entity"]

_CBS, _MANAGEMENT = "$cbs", "$management"


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


class ServerHooks(Protocol):
    """What a connection needs from the server that owns it."""

    store: EventStore
    faults: FaultInjector
    key_name: str
    key: str | None

    def call_later(self, delay: float, callback: Callable[[], None]) -> None: ...

    def mark_dirty(self, connection: ServerConnection) -> None: ...


def parse_entity(address: str | None) -> list[str]:
    """The path segments of a link address (``amqps://host/eh1/Partitions/0`` -> 3)."""
    if not address:
        return []
    if "://" in address:
        address = address.split("://", 1)[1].partition("/")[2]
    return [part for part in address.split("/") if part]


class _RequestLink:
    """The client's sender on ``$cbs`` or ``$management``; replies go on our sender."""

    def __init__(self, node: str) -> None:
        self.node = node


class ServerConnection:
    """The protocol state of one connection (see the module doc)."""

    def __init__(self, hooks: ServerHooks, connection_id: int, peer: tuple[str, int]) -> None:
        self.hooks = hooks
        self.store = hooks.store
        self.faults = hooks.faults
        self.connection_id = connection_id
        self.peer = peer
        self.out = bytearray()
        self.aborted = False
        self.closed = False
        self._eof = False
        self.next_tick = 0.0
        self._sasl = SaslHandshake()
        self._frames = OutgoingFrames()
        self._attaches = AttachSniffer()  # the desired capabilities proton does not expose
        self._transport = Transport(Transport.SERVER)
        self._connection = Connection()
        self._collector = Collector()
        self._connection.collect(self._collector)
        self._transport.bind(self._connection)
        self._replies: dict[str, Any] = {}
        self._roles: dict[tuple[str, bool], Any] = {}  # (name, is_sender) -> role
        self._links: list[str] = []
        self._transfers = 0
        self._reply_tags = 0
        self._container_id: str | None = None  # copied: info() runs on other threads
        self._user_agent: str | None = None
        self._events = 0
        self._handlers: dict[Any, Callable[[Any], None]] = {
            Event.CONNECTION_REMOTE_OPEN: self._on_connection_remote_open,
            Event.SESSION_REMOTE_OPEN: lambda e: e.session.open(),
            Event.LINK_REMOTE_OPEN: self._on_link_remote_open,
            Event.LINK_REMOTE_CLOSE: self._on_link_remote_close,
            Event.LINK_REMOTE_DETACH: self._on_link_remote_close,
            Event.LINK_FLOW: self._on_link_flow,
            Event.DELIVERY: self._on_delivery,
            Event.SESSION_REMOTE_CLOSE: lambda e: e.session.close(),
            Event.CONNECTION_REMOTE_CLOSE: lambda e: e.connection.close(),
        }

    # --- LinkHost ---------------------------------------------------------------------

    def abort(self) -> None:
        self.aborted = True

    def call_later(self, delay: float, callback: Callable[[], None]) -> None:
        def run() -> None:
            if not self.closed:
                callback()
                self.hooks.mark_dirty(self)

        self.hooks.call_later(delay, run)

    def count_transfer(self, events: int) -> None:
        self._transfers += 1
        self._events += events

    # --- bytes in, bytes out ----------------------------------------------------------

    @property
    def finished(self) -> bool:
        """True when the socket should be closed (after writing :attr:`out`)."""
        return self.aborted or self._eof or self._sasl.failed or self._transport.closed

    def receive(self, data: bytes) -> None:
        if not self._sasl.done:
            reply, data = self._sasl.feed(data)
            self.out += reply
        self._attaches.feed(data)
        view = memoryview(data)
        while view and not self.aborted:
            capacity = self._transport.capacity()
            if capacity <= 0:
                self.aborted = True  # proton refuses input: the transport has failed
                break
            self._transport.push(bytes(view[:capacity]))
            view = view[capacity:]
            self.process()

    def end_of_input(self) -> None:
        """The client closed its end: let proton wind down, then close (see finished)."""
        self._eof = True
        self._transport.close_tail()
        self.process()

    def tick(self, now: float) -> None:
        self.next_tick = self._transport.tick(now)

    def process(self) -> None:
        """Handle proton's events, then move its output into :attr:`out`."""
        collector = self._collector
        while not self.aborted:
            event = collector.peek()
            if event is None:
                break
            handler = self._handlers.get(event.type)
            if handler is not None:
                handler(event)
            collector.pop()
        self.pull_output()

    def pull_output(self) -> None:
        """Move what proton has to send (padded) into :attr:`out`."""
        if self.aborted:
            return
        transport = self._transport
        while True:
            pending = transport.pending()
            if pending <= 0:
                break
            self.out += self._frames.feed(transport.peek(pending) or b"")
            transport.pop(pending)
        if not self.next_tick:
            self.next_tick = transport.tick(time.monotonic())

    def info(self) -> ConnectionInfo:
        return ConnectionInfo(
            connection_id=self.connection_id,
            peer=self.peer,
            open=not self.closed,
            container_id=self._container_id,
            sasl_mechanism=self._sasl.mechanism,
            links=tuple(self._links),
            transfers=self._transfers,
            events=self._events,
            user_agent=self._user_agent,
        )

    def release(self) -> None:
        """Forget links that reference shared state (the socket is gone)."""
        self.closed = True
        for role in self._roles.values():
            if isinstance(role, ConsumerLink):
                role.close()
        self._roles.clear()

    # --- proton events ----------------------------------------------------------------

    def _on_connection_remote_open(self, event: Any) -> None:
        connection = event.connection
        self._container_id = connection.remote_container
        agent = (connection.remote_properties or {}).get("user-agent")
        self._user_agent = None if agent is None else str(agent)
        connection.container = "anyio-eventhubs-emulator"
        connection.open()

    def _on_link_remote_open(self, event: Any) -> None:
        link = event.link
        link.source.copy(link.remote_source)
        link.target.copy(link.remote_target)
        if link.is_receiver:  # the client sends
            address = link.remote_target.address
            self._links.append(address or "")
            self._attach_incoming(link, address or "")
        else:
            address = link.remote_source.address
            self._links.append(address or "")
            self._attach_outgoing(link, address or "")

    def _attach_incoming(self, link: Any, address: str) -> None:
        capabilities, properties = self._attaches.links.pop(link.name, (frozenset(), {}))
        if address in (_CBS, _MANAGEMENT):
            self._roles[link.name, False] = _RequestLink(address)
            link.open()
            link.flow(100)
            return
        path = parse_entity(address)
        hub = self.store.hub(path[0]) if path else None
        if hub is None:
            self._refuse(link, f"The messaging entity '{address}' could not be found.")
            return
        partition_id = None
        if len(path) == 3 and path[1].lower() == "partitions":
            partition_id = path[2]
        if (len(path) != 1 and partition_id is None) or (
            partition_id is not None and partition_id not in hub.partitions
        ):
            self._refuse(link, f"The messaging entity '{address}' could not be found.")
            return
        idempotent = None
        if IDEMPOTENT_PRODUCER in capabilities:
            if partition_id is None:
                self._refuse(
                    link,
                    "An idempotent producer must publish to a partition, not to the event hub.",
                    condition="amqp:not-allowed",
                )
                return
            try:
                idempotent, last = self.store.producers.attach(hub.name, partition_id, properties)
            except AttachRefused as exc:
                self._refuse(link, exc.description, condition=exc.condition)
                return
            link.properties = {
                symbol(PRODUCER_ID): idempotent.producer_id,  # a long
                symbol(PRODUCER_EPOCH): short(idempotent.epoch),
                symbol(PRODUCER_SEQUENCE_NUMBER): int32(last),
            }
        link.max_message_size = hub.max_message_size  # azure sizes its batches by it
        link.open()
        self._roles[link.name, False] = ProducerLink(self, link, hub, partition_id, idempotent)

    def _attach_outgoing(self, link: Any, address: str) -> None:
        if address in (_CBS, _MANAGEMENT):
            self._replies[address] = link
            link.open()
            return
        path = parse_entity(address)
        # <hub>/ConsumerGroups/<group>/Partitions/<id>
        hub = self.store.hub(path[0]) if len(path) == 5 else None
        log = hub.partitions.get(path[4]) if hub is not None else None
        if log is None or path[1].lower() != "consumergroups" or path[3].lower() != "partitions":
            self._refuse(link, f"The messaging entity '{address}' could not be found.")
            return
        filter_set = link.remote_source.filter  # a proton Data: position on its map first
        filter_set.rewind()
        try:
            first = start_index(
                log, find_selector(filter_set.get_object() if filter_set.next() else None)
            )
        except ValueError as exc:
            self._refuse(link, str(exc), condition="amqp:invalid-field")
            return
        link.open()
        consumer = ConsumerLink(link, log, first, lambda: self.hooks.mark_dirty(self))
        self._roles[link.name, True] = consumer

    def _refuse(self, link: Any, description: str, condition: str = NOT_FOUND) -> None:
        link.open()
        link.condition = Condition(condition, description)
        link.close()

    def _on_link_remote_close(self, event: Any) -> None:
        link = event.link
        role = self._roles.pop((link.name, link.is_sender), None)
        if isinstance(role, ConsumerLink):
            role.close()
        if link.state & link.LOCAL_ACTIVE:
            link.close()

    def _on_link_flow(self, event: Any) -> None:
        role = self._roles.get((event.link.name, True))
        if isinstance(role, ConsumerLink):
            role.pump()

    def _on_delivery(self, event: Any) -> None:
        delivery = event.delivery
        link = delivery.link
        if link.is_sender:  # a consumer's or a reply's disposition
            if delivery.settled:
                delivery.settle()
            return
        role = self._roles.get((link.name, False))
        if isinstance(role, ProducerLink):
            role.on_delivery(delivery)
        elif isinstance(role, _RequestLink):
            if delivery.partial:
                return
            payload = link.recv(delivery.pending) or b""
            link.advance()
            delivery.update(Delivery.ACCEPTED)
            delivery.settle()
            if link.credit < 10:  # rarely: each flow frame costs azure-eventhub a 50 ms poll
                link.flow(100)
            self._answer(role.node, payload)
        else:
            delivery.settle()

    def _answer(self, node: str, payload: bytes) -> None:
        try:
            request = parse_request(payload)
        except (ValueError, IndexError):
            return
        hooks = self.hooks
        body = None
        if node == _CBS:
            status, description = put_token(
                request, key_name=hooks.key_name, key=hooks.key, faults=self.faults
            )
        else:
            status, description, body = read(
                request, self.store, key_name=hooks.key_name, key=hooks.key
            )
        reply_link = self._replies.get(node)
        if reply_link is None:
            return
        code = Encoded(encode_int(status))
        properties = {
            "status-code": code,
            "status-description": description,
            "statusCode": code,
            "statusDescription": description,
        }
        self._reply_tags += 1
        delivery = reply_link.delivery(str(self._reply_tags))
        reply_link.send(encode_reply(request.message_id, properties, body))
        reply_link.advance()
        delivery.settle()
