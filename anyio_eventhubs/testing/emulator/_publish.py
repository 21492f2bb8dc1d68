"""A producer's sender link, seen from the emulator: store or refuse each transfer.

One transfer is one message (format 0) or one batch; a batch sent to the hub itself is
routed as a whole (by the outer ``x-opt-partition-key`` annotation, else round robin),
like the service does. Faults armed on the :class:`FaultInjector` are applied here, and
so are the sequence checks of an idempotent producer (:mod:`._idempotent`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from proton import Condition, Delivery, int32, short, symbol

from ._faults import DETACH_FORCED, MESSAGE_SIZE_EXCEEDED, FaultInjector
from ._hubs import EventStore, Hub
from ._idempotent import (
    IDEMPOTENT_PRODUCER,
    PRODUCER_EPOCH,
    PRODUCER_ID,
    PRODUCER_SEQUENCE_NUMBER,
    AttachRefused,
    IdempotentLink,
)
from ._messages import parse_transfer

__all__ = ["LinkHost", "ProducerLink", "attach_producer"]

_UNAUTHORIZED_ACCESS = "amqp:unauthorized-access"

_CREDIT = 1000


class LinkHost(Protocol):
    """What a link needs from the connection and server it belongs to."""

    connection_id: int
    store: EventStore
    faults: FaultInjector

    def abort(self) -> None:
        """Close the TCP connection at once, without another frame."""

    def call_later(self, delay: float, callback: Callable[[], None]) -> None:
        """Run ``callback`` on the server thread after ``delay`` seconds."""

    def count_transfer(self, events: int) -> None:
        """Account for a stored transfer in the connection's statistics."""


def attach_producer(
    host: LinkHost,
    link: Any,
    path: list[str],
    capabilities: frozenset[str],
    properties: dict[str, Any],
    refusal: str | None,
) -> ProducerLink | None:
    """Serve a client's sender on ``<hub>`` or ``<hub>/Partitions/<id>`` (opens ``link``).

    Returns ``None`` if there is no such entity (the caller refuses with not-found).

    :raises AttachRefused: if ``refusal`` says why the link may not attach (no valid
        token), or for an idempotent producer the service would refuse.
    """
    hub = host.store.hub(path[0]) if path else None
    if hub is None:
        return None
    partition_id = path[2] if len(path) == 3 and path[1].lower() == "partitions" else None
    if (len(path) != 1 and partition_id is None) or (
        partition_id is not None and partition_id not in hub.partitions
    ):
        return None
    if refusal is not None:
        raise AttachRefused(_UNAUTHORIZED_ACCESS, refusal)
    idempotent = None
    if IDEMPOTENT_PRODUCER in capabilities:
        if partition_id is None:
            raise AttachRefused(
                "amqp:not-allowed",
                "An idempotent producer must publish to a partition, not to the event hub.",
            )
        idempotent, last = host.store.producers.attach(hub.name, partition_id, properties)
        link.properties = {
            symbol(PRODUCER_ID): idempotent.producer_id,  # a long
            symbol(PRODUCER_EPOCH): short(idempotent.epoch),
            symbol(PRODUCER_SEQUENCE_NUMBER): int32(last),
        }
    link.max_message_size = hub.max_message_size  # azure sizes its batches by it
    link.open()
    return ProducerLink(host, link, hub, partition_id, idempotent)


class ProducerLink:
    """Receives transfers on ``<hub>`` or ``<hub>/Partitions/<id>``."""

    def __init__(
        self,
        host: LinkHost,
        link: Any,
        hub: Hub,
        partition_id: str | None,
        idempotent: IdempotentLink | None = None,
    ) -> None:
        self.host = host
        self.link = link
        self.hub = hub
        self.partition_id = partition_id
        #: set for an idempotent producer's link (always to a partition)
        self.idempotent = idempotent
        link.flow(_CREDIT)

    def on_delivery(self, delivery: Any) -> None:
        """Handle a DELIVERY event for this link (one per incoming frame)."""
        link = self.link
        if delivery.aborted:
            delivery.settle()
            return
        if delivery.partial:
            # cut a multi-frame transfer short (a routed send may not know its partition yet)
            if self.host.faults.take(self.hub.name, self.partition_id, ("drop_connection",)):
                self.host.abort()
            return
        payload = link.recv(delivery.pending) or b""
        link.advance()
        if link.credit < _CREDIT // 2:
            link.flow(_CREDIT - link.credit)
        self._transfer(delivery, payload)

    def _transfer(self, delivery: Any, payload: bytes) -> None:
        hub, host = self.hub, self.host
        if len(payload) > hub.max_message_size:
            _reject(
                delivery,
                MESSAGE_SIZE_EXCEEDED,
                f"The received message (size: {len(payload)} bytes) exceeds the limit "
                f"({hub.max_message_size} bytes) currently allowed on the link.",
            )
            return
        try:
            parsed = parse_transfer(payload)
        except (ValueError, IndexError) as exc:
            _reject(delivery, "amqp:decode-error", f"cannot decode the message: {exc}")
            return
        partition_id = self.partition_id or hub.route(parsed.partition_key)
        fault = host.faults.take(hub.name, partition_id)
        idempotent = self.idempotent
        if fault is not None and fault.kind == "rewind_sequence":
            if idempotent is not None:
                host.store.producers.rewind(idempotent, fault.amount)
            fault = None
        if fault is not None and fault.kind == "reject":
            _reject(delivery, fault.condition or "amqp:internal-error", fault.description or "")
            return
        if fault is not None and fault.kind == "detach":
            self.link.condition = Condition(fault.condition or DETACH_FORCED, fault.description)
            self.link.close()
            delivery.settle()
            return
        if fault is not None and fault.kind == "drop_connection":
            host.abort()
            return
        verdict = (
            None if idempotent is None else host.store.producers.check(idempotent, parsed.events)
        )
        if verdict is not None and verdict.action == "reject":
            _reject(delivery, verdict.condition, verdict.description)
            return
        if verdict is not None and verdict.action == "duplicate":
            host.store.producers.duplicates += 1  # a retry of what is stored: accepted again
            host.store.notify()
        else:
            host.store.append(
                hub.partitions[partition_id],
                parsed.events,
                connection_id=host.connection_id,
                link_name=self.link.name,
                partition_key=parsed.partition_key,
                in_batch=parsed.is_batch,
            )
            if verdict is not None and idempotent is not None:
                host.store.producers.stored(idempotent, verdict.last)
            host.count_transfer(len(parsed.events))
        if fault is not None and fault.kind == "lose_ack":
            host.abort()
            return
        delay = host.faults.ack_delay
        if delay > 0:
            host.call_later(delay, lambda: _accept(delivery))
        else:
            _accept(delivery)


def _accept(delivery: Any) -> None:
    delivery.update(Delivery.ACCEPTED)
    delivery.settle()


def _reject(delivery: Any, condition: str, description: str) -> None:
    delivery.local.condition = Condition(condition, description)
    delivery.update(Delivery.REJECTED)
    delivery.settle()
