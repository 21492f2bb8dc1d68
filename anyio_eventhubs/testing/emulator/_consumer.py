"""Serving ``EventHubConsumerClient``: where a receiver starts, and credit-based delivery.

A consumer attaches to ``<hub>/ConsumerGroups/<group>/Partitions/<id>`` with a selector
filter such as ``amqp.annotation.x-opt-offset > '-1'`` (also ``x-opt-sequence-number``
and ``x-opt-enqueued-time`` in milliseconds, with ``>`` or ``>=``). Each stored event is
sent pre-settled with the service's annotations while the link has credit; events stored
later are sent as they arrive. A receiver that asked for the runtime metric gets the
partition's last-enqueued information as delivery annotations on every event.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from proton import Condition

from ._codec import encode_long, encode_map_entries, encode_string, encode_symbol
from ._codec import encode_timestamp_ms as _timestamp
from ._hubs import PartitionLog
from ._messages import annotate_for_consumer

__all__ = ["ConsumerLink", "find_selector", "runtime_info", "start_index"]

_SELECTOR = re.compile(
    r"^\s*amqp\.annotation\.(x-opt-offset|x-opt-sequence-number|x-opt-enqueued-time)"
    r"\s*(>=|>|=)\s*'([^']*)'\s*$",
    re.IGNORECASE,
)


def find_selector(filter_set: object) -> str | None:
    """The selector expression in a source's filter set (proton's decoded map), if any."""
    if not isinstance(filter_set, dict):
        return None
    for entry in filter_set.values():
        value = getattr(entry, "value", entry)  # a described filter, or a bare value
        if isinstance(value, str) and "amqp.annotation." in value:
            return value
    return None


def start_index(log: PartitionLog, selector: str | None) -> int:
    """Index (= sequence number) of the first event a receiver gets.

    :raises ValueError: if the selector is not one the service understands.
    """
    if selector is None:
        return 0
    match = _SELECTOR.match(selector)
    if match is None:
        raise ValueError(f"unsupported selector filter {selector!r}")
    name, operator, value = match.group(1).lower(), match.group(2), match.group(3)
    inclusive = operator != ">"
    if name == "x-opt-offset":
        if value == "-1":
            return 0
        if value == "@latest":
            return len(log)
        return log.index_of_offset(int(value), inclusive)
    if name == "x-opt-sequence-number":
        return max(0, int(value) + (0 if inclusive else 1))
    return log.index_of_time(int(value), inclusive)


def runtime_info(log: PartitionLog, now_ms: int) -> bytes:
    """The delivery annotations of the receiver runtime metric (server thread).

    Names and types as the service sends them and azure-eventhub reads them
    (``azure/eventhub/_utils.py``, ``get_last_enqueued_event_properties``).
    """
    count = len(log)
    entries = [
        encode_symbol("last_enqueued_sequence_number") + encode_long(count - 1),
        encode_symbol("last_enqueued_offset")
        + encode_string(str(log.offsets[-1]) if count else "-1"),
        encode_symbol("last_enqueued_time_utc")
        + _timestamp(log.transfers[-1].enqueued_ms if count else 0),
        encode_symbol("runtime_info_retrieval_time_utc") + _timestamp(now_ms),
    ]
    return b"\x00\x53\x71" + encode_map_entries(2 * len(entries), b"".join(entries))


class ConsumerLink:
    """One attached receiver: sends events from ``next_index`` while it has credit.

    ``link`` is proton's ``Sender``; ``on_sent`` asks the connection to flush its output
    (events may arrive while another connection is being served). ``epoch`` is the
    receiver's owner level (``None`` without one); ``on_close`` runs once when the link
    ends, however it ends.
    """

    def __init__(
        self,
        link: Any,
        log: PartitionLog,
        next_index: int,
        on_sent: Callable[[], None],
        *,
        epoch: int | None = None,
        runtime_metric: bool = False,
        on_close: Callable[[ConsumerLink], None] | None = None,
    ) -> None:
        self.link = link
        self.log = log
        self.next_index = next_index
        self.epoch = epoch
        self.runtime_metric = runtime_metric
        self._on_sent = on_sent
        self._on_close = on_close
        self._tags = 0
        self.closed = False
        log.listeners.append(self.pump)

    def close(self) -> None:
        if self.pump in self.log.listeners:
            self.log.listeners.remove(self.pump)
        if not self.closed:
            self.closed = True
            if self._on_close is not None:
                self._on_close(self)

    def detach(self, condition: str, description: str) -> None:
        """End the link from the service's side with an error (server thread)."""
        self.close()
        self.link.condition = Condition(condition, description)
        self.link.close()
        self._on_sent()

    def pump(self) -> None:
        """Send stored events while the receiver has credit (server thread)."""
        link, log = self.link, self.log
        sent = False
        while self.next_index < len(log) and link.credit > 0:
            index = self.next_index
            info = log.transfers[index]
            payload = annotate_for_consumer(
                log.raw[index],
                index,
                str(log.offsets[index]),
                info.enqueued_ms,
                info.partition_key,
                runtime_info(log, time.time_ns() // 1_000_000) if self.runtime_metric else b"",
            )
            self._tags += 1
            delivery = link.delivery(str(self._tags))
            link.send(payload)
            link.advance()
            delivery.settle()
            self.next_index = index + 1
            sent = True
        if sent:
            self._on_sent()
