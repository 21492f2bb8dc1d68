"""Receivers as the service admits them: owner levels (epochs) and the runtime metric.

What Event Hubs does (sources in ``docs/service-lifetime.md``):

- A receiver whose attach carries the link property ``com.microsoft:epoch`` (a long, the
  SDKs' ``owner_level``) owns its partition in its consumer group. A new receiver with an
  epoch at least as high detaches every current receiver of that partition and group
  with ``amqp:link:stolen``; one with a lower epoch is refused with ``amqp:link:stolen``;
  so is a receiver without an epoch while one with an epoch is attached.
- A receiver that desires the capability ``com.microsoft:enable-receiver-runtime-metric``
  gets it offered back, and every event it receives carries the partition's
  last-enqueued sequence number, offset and time as delivery annotations.

Everything here runs on the server thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._consumer import ConsumerLink, find_selector, start_index
from ._hubs import EventStore

__all__ = [
    "EPOCH",
    "LINK_STOLEN",
    "RUNTIME_METRIC",
    "ReceiverRefused",
    "ReceiverRegistry",
    "attach_receiver",
]

EPOCH = "com.microsoft:epoch"
RUNTIME_METRIC = "com.microsoft:enable-receiver-runtime-metric"
LINK_STOLEN = "amqp:link:stolen"

_GroupKey = tuple[str, str, str]  # (hub, consumer group lowercased, partition id)


class ReceiverRefused(Exception):
    """An attach the service refuses: detach it with ``condition``."""

    def __init__(self, condition: str, description: str) -> None:
        super().__init__(description)
        self.condition = condition
        self.description = description


class ReceiverRegistry:
    """The receivers attached to each partition of each consumer group, across connections."""

    def __init__(self) -> None:
        self._groups: dict[_GroupKey, list[ConsumerLink]] = {}
        #: receivers detached because a higher (or equal) epoch took their partition
        self.stolen = 0

    def receivers(self, key: _GroupKey) -> list[ConsumerLink]:
        return list(self._groups.get(key, ()))

    def admit(self, key: _GroupKey, epoch: int | None) -> None:
        """Make room for a new receiver, as the service does.

        :raises ReceiverRefused: if an epoch receiver keeps the partition.
        """
        current = self._groups.get(key, [])
        top = max((c.epoch for c in current if c.epoch is not None), default=None)
        if epoch is None:
            if top is not None:
                raise ReceiverRefused(
                    LINK_STOLEN,
                    f"At least one receiver for the endpoint is created with epoch of '{top}', "
                    "and so non-epoch receiver is not allowed. Either reconnect with a higher "
                    "epoch, or make sure all epoch receivers are closed or disconnected. "
                    "(emulated)",
                )
            return
        if top is not None and top > epoch:
            raise ReceiverRefused(
                LINK_STOLEN,
                f"Receiver 'nil' with a higher epoch '{top}' already exists. Receiver 'nil' "
                f"with epoch {epoch} cannot be created. Make sure you are creating receiver "
                "with increasing epoch value to ensure connectivity, or ensure all old epoch "
                "receivers are closed or disconnected. (emulated)",
            )
        for old in list(current):
            if old.epoch is None:
                text = (
                    f"At least one receiver for the endpoint is created with epoch of "
                    f"'{epoch}', and so non-epoch receiver is not allowed. Either reconnect "
                    "with a higher epoch, or make sure all epoch receivers are closed or "
                    "disconnected. (emulated)"
                )
            else:
                text = (
                    f"New receiver 'nil' with higher epoch of '{epoch}' is created hence "
                    f"current receiver 'nil' with epoch '{old.epoch}' is getting disconnected. "
                    "If you are recreating the receiver, make sure a higher epoch is used. "
                    "(emulated)"
                )
            self.stolen += 1
            old.detach(LINK_STOLEN, text)

    def add(self, key: _GroupKey, receiver: ConsumerLink) -> None:
        self._groups.setdefault(key, []).append(receiver)

    def remove(self, key: _GroupKey, receiver: ConsumerLink) -> None:
        group = self._groups.get(key)
        if group is not None and receiver in group:
            group.remove(receiver)
            if not group:
                del self._groups[key]


def _epoch(properties: dict[str, Any]) -> int | None:
    value = properties.get(EPOCH)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ReceiverRefused(
            "amqp:invalid-field", f"the link property {EPOCH} must be a long, got {value!r}"
        )
    return value


def attach_receiver(
    store: EventStore,
    registry: ReceiverRegistry,
    link: Any,
    path: list[str],
    capabilities: frozenset[str],
    properties: dict[str, Any],
    on_sent: Callable[[], None],
) -> ConsumerLink | None:
    """Serve a client's receiver on ``<hub>/ConsumerGroups/<group>/Partitions/<id>``.

    Returns ``None`` if there is no such partition (the caller refuses with not-found).

    :raises ReceiverRefused: for a bad selector or epoch, or a partition owned by a
        receiver with a higher epoch.
    """
    hub = store.hub(path[0]) if len(path) == 5 else None
    log = hub.partitions.get(path[4]) if hub is not None else None
    if hub is None or log is None:
        return None
    if path[1].lower() != "consumergroups" or path[3].lower() != "partitions":
        return None
    filter_set = link.remote_source.filter  # a proton Data: position on its map first
    filter_set.rewind()
    try:
        first = start_index(
            log, find_selector(filter_set.get_object() if filter_set.next() else None)
        )
    except ValueError as exc:
        raise ReceiverRefused("amqp:invalid-field", str(exc)) from None
    epoch = _epoch(properties)
    key = (hub.name, path[2].lower(), log.partition_id)
    registry.admit(key, epoch)
    consumer = ConsumerLink(
        link,
        log,
        first,
        on_sent,
        epoch=epoch,
        runtime_metric=RUNTIME_METRIC in capabilities,
        on_close=lambda c: registry.remove(key, c),
    )
    registry.add(key, consumer)
    return consumer
