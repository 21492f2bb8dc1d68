"""W3C trace context in an event's application properties: written, and read back.

Pure code: no I/O, no OpenTelemetry. azure-eventhub writes a producer's trace context as
three application properties, ``Diagnostic-Id`` and ``traceparent`` (the same W3C
``traceparent`` value) and ``tracestate`` when there is one; its consumer reads
``traceparent``, then ``Diagnostic-Id``. :func:`trace_properties` makes the same three;
:func:`read_trace_context` finds them again in an encoded AMQP message, at send time,
so that the send span can link to each event's creation context without the producer
keeping anything per event.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Mapping

from .._codec._skip import skip_value

__all__ = [
    "DIAGNOSTIC_ID",
    "TRACEPARENT",
    "TRACESTATE",
    "carries_trace_context",
    "read_trace_context",
    "trace_properties",
]

DIAGNOSTIC_ID = "Diagnostic-Id"
TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"

_KEYS = (TRACEPARENT, DIAGNOSTIC_ID, TRACEPARENT.encode(), DIAGNOSTIC_ID.encode())
_TRACEPARENT_RE = re.compile(r"[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")
_u32 = struct.Struct(">I")

_APPLICATION_PROPERTIES = 0x74


def trace_properties(trace_id: int, span_id: int, flags: int, tracestate: str) -> dict[str, str]:
    """The application properties azure-eventhub writes for one span context."""
    traceparent = f"00-{trace_id:032x}-{span_id:016x}-{flags:02x}"
    properties = {DIAGNOSTIC_ID: traceparent, TRACEPARENT: traceparent}
    if tracestate:
        properties[TRACESTATE] = tracestate
    return properties


def carries_trace_context(properties: Mapping[str | bytes, object] | None) -> bool:
    """Whether an event's own application properties already name its creation context."""
    return bool(properties) and any(key in properties for key in _KEYS)  # type: ignore[operator]


def _text(buf: bytes, pos: int) -> str | None:
    """The string or symbol at *pos*, or ``None`` for another type."""
    code = buf[pos]
    if code in (0xA1, 0xA3):
        return buf[pos + 2 : pos + 2 + buf[pos + 1]].decode("utf-8", "replace")
    if code in (0xB1, 0xB3):
        size = int(_u32.unpack_from(buf, pos + 1)[0])
        return buf[pos + 5 : pos + 5 + size].decode("utf-8", "replace")
    return None


def _map_entries(buf: bytes, pos: int) -> dict[str, str]:
    code = buf[pos]
    if code == 0xC1:
        start, end = pos + 3, pos + 2 + buf[pos + 1]
    elif code == 0xD1:
        start, end = pos + 9, pos + 5 + int(_u32.unpack_from(buf, pos + 1)[0])
    else:  # null, or not a map
        return {}
    found: dict[str, str] = {}
    while start < end:
        value = skip_value(buf, start)
        after = skip_value(buf, value)
        key = _text(buf, start)
        if key in (TRACEPARENT, DIAGNOSTIC_ID, TRACESTATE):
            text = _text(buf, value)
            if text is not None:
                found[key] = text
        start = after
    return found


def read_trace_context(
    encoded: bytes, cache: dict[bytes, dict[str, str] | None] | None = None
) -> dict[str, str] | None:
    """The W3C trace context carried by one encoded AMQP message, or ``None``.

    Reads ``traceparent`` (else ``Diagnostic-Id``, as azure-eventhub's consumer does)
    and ``tracestate`` from the application properties, walking the sections before
    them without decoding anything else. A malformed message or ``traceparent`` yields
    ``None``.

    :param cache: what earlier messages' application-properties sections read as (the
        events of one span share theirs); filled as it goes.
    :returns: ``{"traceparent": ..., "tracestate": ...}`` (``tracestate`` if present),
        the carrier a W3C propagator extracts from.
    """
    if b"traceparent" not in encoded and b"Diagnostic-Id" not in encoded:
        return None
    pos, size = 0, len(encoded)
    try:
        while pos + 3 <= size and encoded[pos] == 0x00 and encoded[pos + 1] == 0x53:
            code = encoded[pos + 2]
            end = skip_value(encoded, pos + 3)
            if code == _APPLICATION_PROPERTIES:
                break
            if code > _APPLICATION_PROPERTIES:
                return None
            pos = end
        else:
            return None
        section = encoded[pos:end]
        if cache is not None and section in cache:
            return cache[section]
        carrier = _carrier(_map_entries(encoded, pos + 3))
    except (IndexError, ValueError, struct.error):
        return None
    if cache is not None:
        cache[section] = carrier
    return carrier


def _carrier(found: dict[str, str]) -> dict[str, str] | None:
    traceparent = found.get(TRACEPARENT) or found.get(DIAGNOSTIC_ID)
    if traceparent is None or not _TRACEPARENT_RE.fullmatch(traceparent):
        return None
    carrier = {TRACEPARENT: traceparent}
    if TRACESTATE in found:
        carrier[TRACESTATE] = found[TRACESTATE]
    return carrier
