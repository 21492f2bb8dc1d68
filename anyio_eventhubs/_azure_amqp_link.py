"""A partition's sender link on the producer's one connection (:mod:`._azure_amqp`).

:class:`PartitionLink` attaches the link on the current connection (again after a reset,
a detach by the service, or a new connection) and sends one batch at a time on it. The
``*_partition`` functions and :func:`send_once` take either it or azure-eventhub's own
partition producer (for a caller's ``client=``), for the transport and idempotent
publishing alike.

A batch leaves a :class:`PartitionLink` as the payload :func:`~._codec.encode_batch`
builds from the events' encoded bytes (:func:`transfer` writes it as pyamqp's
``SenderLink._outgoing_transfer`` writes a message it encodes itself), so no event is
encoded twice; azure's partition producer gets an ``EventDataBatch`` filled with them.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Sequence
from functools import partial
from typing import Any

from azure.eventhub import EventDataBatch

from ._azure_amqp import SharedConnection, close_shared_connection
from ._azure_amqp_token import put_fresh_token, with_sas_hint
from ._azure_internals import (
    LinkOptions,
    _remote_properties,
    close_partition_producer,
    fill_batch,
    open_partition_producer,
    reset_partition_producer,
    send_batch_once,
)
from ._codec import BATCH_MESSAGE_FORMAT, encode_batch

try:
    from azure.eventhub._pyamqp.aio._sender_async import PendingDelivery
    from azure.eventhub._pyamqp.constants import (
        MESSAGE_DELIVERY_DONE_STATES,
        LinkDeliverySettleReason,
        LinkState,
        MessageDeliveryState,
        SessionTransferState,
    )
    from azure.eventhub._pyamqp.error import (
        AMQPConnectionError,
        AMQPException,
        AuthenticationException,
        ErrorCondition,
        MessageException,
    )
    from azure.eventhub._pyamqp.message import _MessageDelivery
    from azure.eventhub._pyamqp.types import TYPE, VALUE, AMQPTypes
except ImportError as exc:  # pragma: no cover - exercised only by a changed client
    IMPORT_ERROR: ImportError | None = exc
else:
    IMPORT_ERROR = None

__all__ = [
    "IMPORT_ERROR",
    "PartitionLink",
    "close_partition",
    "open_partition",
    "reset_partition",
    "send_once",
    "transfer",
]

_pack_tag = struct.Struct(">I").pack


class PartitionLink:
    """One partition's sender link on the shared connection.

    Attached on first use, and again when it was reset, detached by the service, or
    the connection was reopened (*holder*'s ``current`` is then another connection).

    :param producer: azure-eventhub's partition producer, never opened: the link's
        target and attach settings come from the handler it would have used.
    """

    def __init__(self, holder: Any, producer: Any, auth: Any) -> None:
        self._holder = holder
        producer._create_handler(auth)
        self._handler, producer._handler = producer._handler, None
        self._shared: SharedConnection | None = None
        self._session: Any = None
        self._link: Any = None
        self._max_message_size = 0

    def __repr__(self) -> str:
        state = "none" if self._link is None else str(self._link.state)
        return f"<PartitionLink target={self._handler.target!r} link={state}>"

    def _attached(self) -> bool:
        link = self._link
        return (
            link is not None
            and self._shared is self._holder.current
            and not self._shared.dead
            and link._error is None
            and link.state == LinkState.ATTACHED
        )

    async def open(self, options: LinkOptions | None = None) -> int:
        """Attach the link if it is not attached; return its maximum message size.

        For the token: a link the service detached for its token (``RenewToken``, the
        token expired, perhaps earlier than its holder was told) is attached again after
        a fresh token was put; a link it refuses for its token
        (``amqp:unauthorized-access``) too, once. If the fresh token or the attach after
        it is refused, the connection is closed so that the next attempt opens a new
        one (``AMQPConnectionError``: transient), once; after that, or for an expired
        ``AzureSasCredential``, the refusal is raised.
        """
        if self._attached():
            return self._max_message_size
        shared: SharedConnection = self._holder.current
        fresh = self._shared is shared and _for_token(getattr(self._link, "_error", None))
        puts = shared.token_puts
        while True:
            try:
                if fresh:
                    await put_fresh_token(shared, puts)
                return await self._attach(options)
            except AMQPException as exc:
                if not _for_token(exc):
                    raise
                if not fresh:  # refused with the token as it was: put a fresh one
                    fresh, puts = True, shared.token_puts
                    continue
                error = with_sas_hint(shared.client, exc)
                if error is not exc or shared.after_token_refusal:
                    raise error from exc
                cause = exc
                break
        shared.closed_for_token = True
        await close_shared_connection(shared)
        shared.stopped()
        raise AMQPConnectionError(
            ErrorCondition.ConnectionCloseForced,
            description="a fresh token, or a link after it, was refused "
            f"({cause.description!r}); the next attempt opens a new connection",
        ) from cause

    async def _attach(self, options: LinkOptions | None) -> int:
        await self.reset()
        shared: SharedConnection = self._holder.current
        if shared.dead:
            raise shared.failure()
        handler = self._handler
        properties = dict(handler._link_properties or {})
        capabilities = None
        if options is not None:
            for name, (kind, value) in options.properties().items():
                typed = None if value is None else {TYPE: getattr(AMQPTypes, kind), VALUE: value}
                properties[name.encode("ascii")] = typed
            capabilities = [c.encode("ascii") for c in options.desired_capabilities]
        session = shared.connection.create_session(
            incoming_window=handler._incoming_window, outgoing_window=handler._outgoing_window
        )
        self._shared, self._session = shared, session
        await session.begin()
        link = session.create_sender_link(
            target_address=handler.target,
            link_credit=handler._link_credit,
            send_settle_mode=handler._send_settle_mode,
            rcv_settle_mode=handler._receive_settle_mode,
            max_message_size=handler._max_message_size,
            properties=properties,
            desired_capabilities=capabilities,
        )
        self._link = link
        await link.attach()
        while link.get_state() != LinkState.ATTACHED:  # raises the refusal's error
            await shared.wait_progress()
        if options is not None:
            options.remote_properties = _remote_properties(link)
            options.attaches += 1
        shared.after_token_refusal = False
        transport = shared.client._amqp_transport
        self._max_message_size = int(
            link.remote_max_message_size or transport.MAX_MESSAGE_LENGTH_BYTES
        )
        return self._max_message_size

    async def send(self, payload: bytes, options: LinkOptions | None = None) -> None:
        """Transfer *payload* (an encoded batch message) once and wait for the outcome.

        :raises AMQPException: (a subclass) for a refusal, a lost link or connection.
        """
        await self.open(options)
        shared, link = self._shared, self._link
        if shared is None or link is None:
            raise RuntimeError("PartitionLink.send() found no link after opening it")
        outcome = _MessageDelivery(  # type: ignore[no-untyped-call]
            None, MessageDeliveryState.WaitingForSendAck
        )
        settled = asyncio.Event()
        delivery = PendingDelivery(  # type: ignore[no-untyped-call]
            message=None,
            on_delivery_settled=partial(self._settled, outcome, settled),
            settled=False,
            network_trace_params=link.network_trace_params,
        )
        # In the link's list before it is written, so the pump can settle it as soon as
        # it is numbered; marked sent, so the pump never transfers it itself.
        delivery.sent, delivery.frame = True, {"delivery_id": None}
        shared.waiters.add(settled)
        try:
            while True:
                link._check_if_closed()
                link._pending_deliveries.append(delivery)
                await transfer(link, delivery, payload)
                if delivery.transfer_state == SessionTransferState.OKAY:
                    break
                # the service's session window is closed: not written; wait for a flow
                link._pending_deliveries.remove(delivery)
                delivery.sent, delivery.frame = True, {"delivery_id": None}
                await shared.wait_progress()
            while outcome.state not in MESSAGE_DELIVERY_DONE_STATES:
                if shared.dead:
                    raise shared.failure()
                await settled.wait()
        finally:
            shared.waiters.discard(settled)
            if delivery in link._pending_deliveries:
                link._pending_deliveries.remove(delivery)
        if outcome.state == MessageDeliveryState.Ok:
            return
        if outcome.reason == LinkDeliverySettleReason.NOT_DELIVERED and link._error is not None:
            raise link._error  # the link was detached: say why
        if isinstance(outcome.error, Exception):
            raise outcome.error
        raise MessageException(condition=ErrorCondition.UnknownError, description="Send failed.")

    async def _settled(self, outcome: Any, settled: asyncio.Event, reason: Any, state: Any) -> None:
        """The pump settled the delivery: record the outcome as pyamqp's client does."""
        await self._handler._on_send_complete_async(outcome, reason, state)
        settled.set()

    async def reset(self) -> None:
        """Detach the link and end its session; the next send attaches a fresh one."""
        shared, session, link = self._shared, self._session, self._link
        self._shared = self._session = self._link = None
        if shared is None or shared.dead or session is None:
            return
        if link is not None:
            await link.detach(close=True)
        await session.end()


def _for_token(error: object) -> bool:
    """Whether *error* is the service's refusal of a token, or of a link for its token."""
    if isinstance(error, AuthenticationException):
        return True  # a put-token refused
    if not isinstance(error, AMQPException):
        return False
    condition = error.condition
    if isinstance(condition, ErrorCondition):
        condition = condition.value
    if condition == ErrorCondition.UnauthorizedAccess.value:
        return True
    description = error.description
    if isinstance(description, bytes):
        description = description.decode("utf-8", "replace")
    return condition == ErrorCondition.LinkDetachForced.value and any(
        words in (description or "") for words in ("RenewToken", "Unauthorized access")
    )


async def transfer(link: Any, delivery: Any, payload: bytes) -> None:
    """``SenderLink._outgoing_transfer`` for a batch whose *payload* is already encoded.

    The same transfer frame, which the session splits by the peer's maximum frame size,
    and the same link bookkeeping when the session wrote it; *delivery* is unsettled.
    """
    count = link.delivery_count + 1
    delivery.frame = {
        "handle": link.handle,
        "delivery_tag": _pack_tag(abs(count)),
        "message_format": BATCH_MESSAGE_FORMAT,
        "settled": delivery.settled,
        "more": False,
        "rcv_settle_mode": None,
        "state": None,
        "resume": None,
        "aborted": None,
        "batchable": None,
        "payload": payload,
    }
    await link._session._outgoing_transfer(
        delivery, link.network_trace_params if link.network_trace else None
    )
    if delivery.transfer_state == SessionTransferState.OKAY:
        link.delivery_count = count
        link.current_link_credit -= 1
        delivery.sent = True


# -- the partition producer's calls, for either kind of partition ---------------------------


async def open_partition(producer: Any, link: LinkOptions | None = None) -> int:
    """:func:`~anyio_eventhubs._azure_internals.open_partition_producer`, or a shared link's."""
    if isinstance(producer, PartitionLink):
        return await producer.open(link)
    return await open_partition_producer(producer, link)


async def send_once(
    producer: Any, messages: Sequence[bytes], size_in_bytes: int, link: LinkOptions | None = None
) -> None:
    """Send one batch of encoded *messages* (adding up to *size_in_bytes*) once.

    On a shared link as one payload of their bytes; on azure's partition producer as an
    ``EventDataBatch`` (:func:`~anyio_eventhubs._azure_internals.send_batch_once`).
    """
    if isinstance(producer, PartitionLink):
        await producer.send(encode_batch(messages), link)
        return
    batch = EventDataBatch()
    fill_batch(batch, list(messages), size_in_bytes)
    await send_batch_once(producer, batch, link)


async def reset_partition(producer: Any) -> None:
    """Close a partition's link (and, for azure's producer, its connection)."""
    if isinstance(producer, PartitionLink):
        await producer.reset()
        return
    await reset_partition_producer(producer)


async def close_partition(producer: Any) -> None:
    """Close a partition's link for good."""
    if isinstance(producer, PartitionLink):
        await producer.reset()
        return
    await close_partition_producer(producer)
