"""One accepted TCP connection: SASL, a proton transport, and the links on it.

Bytes in: the SASL layer (:mod:`._sasl`), then proton. Bytes out: proton's output through
the frame padder (:mod:`._frames`) into :attr:`ServerConnection.out`, which the server
loop writes to the socket. Every method runs on the server thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from proton import Collector, Condition, Connection, Delivery, Event, Terminus, Transport

from ._codec import encode_symbol
from ._consumer import ConsumerLink
from ._faults import NOT_FOUND
from ._frames import OutgoingFrames
from ._hooks import ConnectionInfo, ServerHooks, parse_entity
from ._idempotent import AttachRefused, AttachSniffer
from ._lifetime import UNAUTHORIZED_ACCESS, ConnectionGuard
from ._publish import ProducerLink, attach_producer
from ._receivers import RUNTIME_METRIC, ReceiverRefused, attach_receiver
from ._requests import CBS_NODE as _CBS
from ._requests import MANAGEMENT_NODE as _MANAGEMENT
from ._requests import answer_request
from ._sasl import SaslHandshake

__all__ = ["ConnectionInfo", "ServerConnection", "ServerHooks", "parse_entity"]  # re-exported


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
        rules = hooks.rules
        if rules.idle_timeout is not None:  # enforced by proton, advertised as it is
            self._transport.idle_timeout = rules.idle_timeout
            self._frames.idle_time_out_ms = round(rules.idle_timeout * 1000)
        self._detached: list[str] = []
        self._close_condition: str | None = None
        self.guard = ConnectionGuard(rules, self)

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

    def _sent_on(self, link: Any) -> None:
        self.guard.link_active(link)
        self.hooks.mark_dirty(self)

    def detach_hub_links(self, hub_name: str, condition: str, description: str) -> None:
        """Detach every producer and consumer link of ``hub_name`` on this connection."""
        for role in list(self._roles.values()):
            if (isinstance(role, ProducerLink) and role.hub.name == hub_name) or (
                isinstance(role, ConsumerLink) and role.log.eventhub_name == hub_name
            ):
                self.detach_link(role.link, condition, description)

    # --- GuardHost --------------------------------------------------------------------

    def detach_link(self, link: Any, condition: str, description: str) -> None:
        role = self._roles.pop((link.name, link.is_sender), None)
        if isinstance(role, ConsumerLink):
            role.close()
        self.guard.link_closed(link)
        if link.state & link.LOCAL_ACTIVE:
            link.condition = Condition(condition, description)
            link.close()
            self._detached.append(condition)
            self.store.notify()

    def close_connection(self, condition: str, description: str) -> None:
        """Close with an error; the socket goes once the client answers (or 2 s later)."""
        connection = self._connection
        if connection.state & connection.LOCAL_CLOSED:
            return
        connection.condition = Condition(condition, description)
        connection.close()
        self._close_condition = condition
        self.process()
        self.call_later(2.0, self.abort)

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
            detached=tuple(self._detached),
            close_condition=self._close_condition,
        )

    def release(self) -> None:
        """Forget links that reference shared state (the socket is gone)."""
        if self._close_condition is None:  # e.g. proton closed it for the idle timeout
            condition = self._transport.condition or self._connection.condition
            self._close_condition = None if condition is None else str(condition.name)
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
            self.guard.link_attached(link, address, is_sender=True, entity=False)
            return
        try:
            refusal = self.guard.refusal(address, is_sender=True)
            producer = attach_producer(
                self, link, parse_entity(address), capabilities, properties, refusal
            )
        except AttachRefused as exc:
            self._refuse(link, exc.description, condition=exc.condition)
            return
        if producer is None:
            self._refuse(link, f"The messaging entity '{address}' could not be found.")
            return
        self.guard.link_attached(link, address, is_sender=True, entity=True)
        self._roles[link.name, False] = producer

    def _attach_outgoing(self, link: Any, address: str) -> None:
        capabilities, properties = self._attaches.receivers.pop(link.name, (frozenset(), {}))
        if address in (_CBS, _MANAGEMENT):
            self._replies[address] = link
            link.open()
            self.guard.link_attached(link, address, is_sender=False, entity=False)
            return
        try:
            refusal = self.guard.refusal(address, is_sender=False)
            if refusal is not None:
                raise ReceiverRefused(UNAUTHORIZED_ACCESS, refusal)
            consumer = attach_receiver(
                self.store,
                self.hooks.receivers,
                link,
                parse_entity(address),
                capabilities,
                properties,
                lambda: self._sent_on(link),
            )
        except ReceiverRefused as exc:
            self._refuse(link, exc.description, condition=exc.condition)
            return
        if consumer is None:
            self._refuse(link, f"The messaging entity '{address}' could not be found.")
            return
        if consumer.runtime_metric:  # offered back in our attach (proton has no API for it)
            self._frames.offers[link.name] = encode_symbol(RUNTIME_METRIC)
        link.open()
        self.guard.link_attached(link, address, is_sender=False, entity=True)
        self._roles[link.name, True] = consumer

    def _refuse(self, link: Any, description: str, condition: str = NOT_FOUND) -> None:
        # as the service (and AMQP 1.0, 2.6.3) refuses a link: an attach with a null
        # source and target, then the detach with the error
        link.source.type = Terminus.UNSPECIFIED
        link.target.type = Terminus.UNSPECIFIED
        link.open()
        link.condition = Condition(condition, description)
        link.close()

    def _on_link_remote_close(self, event: Any) -> None:
        link = event.link
        role = self._roles.pop((link.name, link.is_sender), None)
        if isinstance(role, ConsumerLink):
            role.close()
        self.guard.link_closed(link)
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
            self.guard.link_active(link)
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
        reply = answer_request(node, payload, self.hooks, self.guard)
        reply_link = self._replies.get(node)
        if reply is None or reply_link is None:
            return
        self._reply_tags += 1
        delivery = reply_link.delivery(str(self._reply_tags))
        reply_link.send(reply)
        reply_link.advance()
        delivery.settle()
