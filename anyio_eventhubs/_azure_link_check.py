"""The checks of azure-eventhub's aio sender link, run by ``_azure_internals_check``.

Each probes the link against a fake session, without I/O: that :class:`LinkOptions`
reach the attach frame and the reply's properties are read back, and that our
:func:`~._azure_amqp_link.transfer` of a batch's pre-encoded payload writes the same
frame, and keeps the link's count and credit, as pyamqp's own transfer of that batch.
"""

from __future__ import annotations

import inspect
from collections.abc import Coroutine
from typing import Any

from azure.eventhub import EventDataBatch

from ._azure_amqp_link import transfer
from ._azure_internals import LinkOptions, _remote_properties, _use_link_options
from ._codec import BATCH_MESSAGE_FORMAT, encode_batch

try:
    from azure.eventhub._pyamqp._encode import encode_frame, encode_payload
    from azure.eventhub._pyamqp.aio._client_async import AMQPClientAsync, SendClientAsync
    from azure.eventhub._pyamqp.aio._link_async import Link as AmqpLinkAsync
    from azure.eventhub._pyamqp.aio._sender_async import PendingDelivery
    from azure.eventhub._pyamqp.aio._sender_async import SenderLink as AmqpSenderLinkAsync
    from azure.eventhub._pyamqp.aio._session_async import Session as AmqpSessionAsync
    from azure.eventhub._pyamqp.constants import SessionTransferState
except ImportError as exc:  # pragma: no cover - exercised only by a changed client
    IMPORT_ERROR: ImportError | None = exc
else:
    IMPORT_ERROR = None

__all__ = ["IMPORT_ERROR", "check_link_options", "check_transfer"]


def _run_now(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine that never waits (the probes below), without an event loop."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("the probe coroutine waited for something")


class _ProbeSession:
    """Stands in for a pyamqp aio ``Session``: records the frames a link sends."""

    def __init__(self) -> None:
        self.frames: list[Any] = []

    def create_sender_link(self, target_address: str, **kwargs: Any) -> Any:
        sender_link: Any = AmqpSenderLinkAsync
        return sender_link(
            self, 0, target_address, network_trace=False, network_trace_params={}, **kwargs
        )

    async def _outgoing_attach(self, frame: Any) -> None:
        self.frames.append(frame)

    async def _outgoing_transfer(self, delivery: Any, network_trace_params: Any) -> None:
        self.frames.append(dict(delivery.frame))
        delivery.transfer_state = SessionTransferState.OKAY


def check_transfer(reference: EventDataBatch, encoded: list[bytes]) -> list[str]:
    """Our :func:`~._azure_amqp_link.transfer` of *encoded*, against pyamqp's transfer of
    *reference* (the same events added by ``batch.add``), on a fake session (no I/O)."""
    session = _ProbeSession()
    theirs, ours = (session.create_sender_link("probe") for _ in range(2))
    new: Any = PendingDelivery
    their_delivery, our_delivery = new(message=reference._message, settled=False), new()
    our_delivery.settled = False
    pyamqp_transfer: Any = AmqpSenderLinkAsync._outgoing_transfer
    _run_now(pyamqp_transfer(theirs, their_delivery))
    _run_now(transfer(ours, our_delivery, encode_batch(encoded)))
    their_frame, our_frame = session.frames
    problems = []
    if {**their_frame, "payload": bytes(their_frame["payload"])} != our_frame:
        problems.append("a batch's transfer frame differs from pyamqp's (payload or fields)")
    if reference._message._code != BATCH_MESSAGE_FORMAT:
        problems.append(f"a batch's message format is no longer 0x{BATCH_MESSAGE_FORMAT:x}")
    out = bytearray()
    encode_payload(out, reference._message)
    if bytes(out) != bytes(their_frame["payload"]):
        problems.append("pyamqp's sender no longer sends encode_payload's bytes")
    if (ours.delivery_count, ours.current_link_credit, our_delivery.sent) != (
        theirs.delivery_count,
        theirs.current_link_credit,
        their_delivery.sent,
    ):
        problems.append("a sender link's delivery count or credit is kept differently")
    return problems


def check_link_options() -> list[str]:
    """Attach a probe link with :class:`LinkOptions` against a fake session (no I/O).

    Checks that the options reach the attach frame (desired capabilities, typed
    properties, nulls) and that an attach reply's properties are read back.
    """
    problems = []
    if "_client_ready_async" not in AMQPClientAsync.client_ready_async.__code__.co_names:
        problems.append("AMQPClientAsync.client_ready_async no longer calls _client_ready_async")
    if "_session" not in AMQPClientAsync.open_async.__code__.co_names:
        problems.append("AMQPClientAsync.open_async no longer sets _session")
    parameters = inspect.signature(AmqpSessionAsync.create_sender_link).parameters
    if "target_address" not in parameters or not any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    ):
        problems.append("the aio Session.create_sender_link signature changed")
    send_client: Any = SendClientAsync
    handler = send_client("probe.localhost", "amqps://probe.localhost/probe/Partitions/0")
    handler._session = session = _ProbeSession()
    link = LinkOptions(
        ["com.microsoft:probe"],
        lambda: {
            "com.microsoft:probe-long": ("long", 7),
            "com.microsoft:probe-null": ("int", None),
        },
    )
    _use_link_options(handler, link)
    _run_now(handler._client_ready_async())
    frame = session.frames[0]
    _, body = encode_frame(frame)
    if frame.desired_capabilities != [b"com.microsoft:probe"] or b"com.microsoft:probe" not in (
        body or b""
    ):
        problems.append("a sender link no longer sends the desired capabilities it is given")
    long_key = b"\xa3\x18com.microsoft:probe-long"
    encoded = bytes(body or b"")
    if (
        long_key + b"\x55\x07" not in encoded  # smalllong
        and long_key + b"\x81" + (7).to_bytes(8, "big") not in encoded
    ) or b"\xa3\x18com.microsoft:probe-null\x40" not in encoded:
        problems.append("a sender link no longer encodes typed attach properties as given")
    reply: list[Any] = [None] * 14
    reply[5], reply[6] = ["probe"], ["probe"]
    reply[13] = {b"com.microsoft:probe-long": 8}
    _run_now(AmqpLinkAsync._incoming_attach(handler._link, reply))
    if _remote_properties(handler._link) != {"com.microsoft:probe-long": 8}:
        problems.append("an attach reply's properties are no longer kept as remote_properties")
    if not _run_now(handler._client_ready_async()):
        problems.append("an attached sender link is not reported ready")
    return problems
