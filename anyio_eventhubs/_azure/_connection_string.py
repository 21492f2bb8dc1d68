"""Checking an Event Hubs connection string before azure-eventhub sees it.

azure-eventhub's own parser accepts some malformed strings and reports others vaguely.
This one names what is wrong and never repeats a value: a connection string holds a key
or a SAS token, and error messages end up in logs.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

__all__ = ["ConnectionStringInfo", "is_local_emulator", "parse_connection_string"]

#: what a setting's name looks like (a stray key or token has digits or symbols, or is longer)
_SETTING_NAME = re.compile(r"[A-Za-z]{1,32}")

_KNOWN = {
    "endpoint",
    "sharedaccesskeyname",
    "sharedaccesskey",
    "sharedaccesssignature",
    "entitypath",
    "usedevelopmentemulator",
}


@dataclass(frozen=True)
class ConnectionStringInfo:
    """What the producer needs to know from a connection string (no secret).

    :ivar fully_qualified_namespace: the endpoint's host (and port, if any).
    :ivar entity_path: the ``EntityPath`` (the Event Hub's name), if given.
    :ivar emulator: ``UseDevelopmentEmulator=true``: plain TCP to the given port.
    """

    fully_qualified_namespace: str
    entity_path: str | None
    emulator: bool = field(default=False)


def parse_connection_string(connection_string: str) -> ConnectionStringInfo:
    """Check *connection_string*'s shape and return its non-secret parts.

    :raises TypeError: if it is not a ``str``.
    :raises ValueError: naming the missing, repeated or malformed setting (never its value).
    """
    if not isinstance(connection_string, str):
        raise TypeError(f"connection_string must be a str, got {type(connection_string).__name__}")
    settings: dict[str, str] = {}
    for number, part in enumerate(connection_string.strip().split(";"), start=1):
        if not part.strip():
            continue
        name, equals, value = part.partition("=")
        name = name.strip()
        if not equals or not name:
            raise ValueError(
                f"malformed connection string: part {number} is not of the form Name=Value"
            )
        key = name.lower()
        if key not in _KNOWN:
            # name it only if it looks like a setting's name, not like a stray key
            shown = repr(name) if _SETTING_NAME.fullmatch(name) else f"in part {number}"
            raise ValueError(f"malformed connection string: unknown setting {shown}")
        if key in settings:
            raise ValueError(f"malformed connection string: {name} is given twice")
        settings[key] = value.strip()
    if not settings:
        raise ValueError("the connection string is empty")
    endpoint = settings.get("endpoint")
    if not endpoint:
        raise ValueError("malformed connection string: Endpoint=sb://<namespace>/ is missing")
    parsed = urlsplit(endpoint)
    if parsed.scheme.lower() != "sb" or not parsed.hostname:
        raise ValueError(
            "malformed connection string: Endpoint must look like sb://<namespace host>/"
        )
    if "@" in parsed.netloc:
        raise ValueError(
            "malformed connection string: Endpoint must not carry a user name or password "
            "(sb://user:password@host); the key goes in SharedAccessKey"
        )
    try:
        parsed.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ValueError(
            "malformed connection string: the port of Endpoint is not a number from 0 to 65535"
        ) from None
    has_name = bool(settings.get("sharedaccesskeyname"))
    has_key = bool(settings.get("sharedaccesskey"))
    has_signature = bool(settings.get("sharedaccesssignature"))
    if has_signature and (has_key or has_name):
        raise ValueError(
            "malformed connection string: give SharedAccessSignature or "
            "SharedAccessKeyName with SharedAccessKey, not both"
        )
    if not has_signature and not (has_name and has_key):
        missing = "SharedAccessKey" if has_name else "SharedAccessKeyName"
        if not has_name and not has_key:
            missing = "SharedAccessKeyName and SharedAccessKey (or SharedAccessSignature)"
        raise ValueError(f"malformed connection string: {missing} is missing")
    emulator_flag = settings.get("usedevelopmentemulator")
    if emulator_flag is not None and emulator_flag.lower() not in ("true", "false"):
        raise ValueError(
            "malformed connection string: UseDevelopmentEmulator must be true or false"
        )
    return ConnectionStringInfo(
        fully_qualified_namespace=parsed.netloc,
        entity_path=settings.get("entitypath") or None,
        emulator=emulator_flag is not None and emulator_flag.lower() == "true",
    )


def is_local_emulator(fully_qualified_namespace: str) -> bool:
    """Whether *fully_qualified_namespace* is a loopback host with a port (an emulator).

    The service never lives on a loopback address; a local emulator does, without TLS.
    """
    try:
        parsed = urlsplit(f"//{fully_qualified_namespace}")
        port = parsed.port
    except ValueError:
        return False
    host = parsed.hostname
    if host is None or port is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
