"""The ``$management`` READ operation: event hub and partition properties."""

from __future__ import annotations

from typing import Any

from ._cbs import check_sas_token
from ._hubs import EventStore
from ._messages import Request

__all__ = ["EVENTHUB_TYPE", "PARTITION_TYPE", "read"]

EVENTHUB_TYPE = "com.microsoft:eventhub"
PARTITION_TYPE = "com.microsoft:partition"


def read(
    request: Request, store: EventStore, *, key_name: str, key: str | None
) -> tuple[int, str, Any]:
    """Answer a management request: ``(status code, description, body)``."""
    props = request.application_properties
    operation, entity_type, name = props.get("operation"), props.get("type"), props.get("name")
    if operation != "READ":
        return 400, f"unsupported management operation {operation!r}", None
    token = props.get("security_token")
    if key is not None and isinstance(token, str) and token.startswith("SharedAccessSignature"):
        problem = check_sas_token(token, key_name, key)
        if problem is not None:
            return 401, f"Unauthorized: {problem}", None
    hub = store.hub(name) if isinstance(name, str) else None
    if hub is None:
        return 404, f"The messaging entity '{name}' could not be found.", None
    if entity_type == EVENTHUB_TYPE:
        return 200, "OK", hub.properties()
    if entity_type == PARTITION_TYPE:
        partition = props.get("partition")
        log = hub.partitions.get(partition) if isinstance(partition, str) else None
        if log is None:
            return 404, f"The partition '{partition}' of '{name}' could not be found.", None
        return 200, "OK", log.properties()  # server thread: the only writer
    return 400, f"unsupported management type {entity_type!r}", None
