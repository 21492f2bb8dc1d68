"""Serving ``EventHubConsumerClient``: where a receiver starts, and credit-based delivery.

A consumer attaches to ``<hub>/ConsumerGroups/<group>/Partitions/<id>`` with a selector
filter such as ``amqp.annotation.x-opt-offset > '-1'`` (also ``x-opt-sequence-number``
and ``x-opt-enqueued-time`` in milliseconds, with ``>`` or ``>=``). Each stored event is
sent pre-settled with the service's annotations while the link has credit; events stored
later are sent as they arrive.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ._hubs import PartitionLog
from ._messages import annotate_for_consumer

__all__ = ["ConsumerLink", "find_selector", "start_index"]

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


class ConsumerLink:
    """One attached receiver: sends events from ``next_index`` while it has credit.

    ``link`` is proton's ``Sender``; ``on_sent`` asks the connection to flush its output
    (events may arrive while another connection is being served).
    """

    def __init__(
        self, link: Any, log: PartitionLog, next_index: int, on_sent: Callable[[], None]
    ) -> None:
        self.link = link
        self.log = log
        self.next_index = next_index
        self._on_sent = on_sent
        self._tags = 0
        log.listeners.append(self.pump)

    def close(self) -> None:
        if self.pump in self.log.listeners:
            self.log.listeners.remove(self.pump)

    def pump(self) -> None:
        """Send stored events while the receiver has credit (server thread)."""
        link, log = self.link, self.log
        sent = False
        while self.next_index < len(log) and link.credit > 0:
            index = self.next_index
            info = log.transfers[index]
            payload = annotate_for_consumer(
                log.raw[index], index, str(log.offsets[index]), info.enqueued_ms, info.partition_key
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
