"""AMQP messages as the emulator sees them: raw bytes, split and decoded on demand.

- :func:`parse_transfer` splits what a producer sent into encoded events. proton's Python
  API cannot read a transfer's ``message-format``, so a batch (format ``0x80013700``) is
  recognised by shape: its body is data sections that are each a complete encoded
  message. Only the outer message annotations are decoded (for the partition key).
- :func:`annotate_for_consumer` adds the annotations the service stamps on a stored event
  (sequence number, offset, enqueued time) by splicing bytes, without decoding the event.
- :func:`decode_message` fully decodes an event when a test reads it back.
- :func:`parse_request` and :func:`encode_reply` serve the ``$cbs`` and ``$management``
  request/response links.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from ._codec import (
    Encoded,
    decode_value,
    encode_long,
    encode_map_entries,
    encode_string,
    encode_symbol,
    encode_timestamp_ms,
    encode_value,
    skip_value,
)

__all__ = [
    "PARTITION_KEY",
    "DecodedMessage",
    "ParsedTransfer",
    "Request",
    "annotate_for_consumer",
    "decode_message",
    "encode_reply",
    "parse_request",
    "parse_transfer",
]

PARTITION_KEY = "x-opt-partition-key"
SEQUENCE_NUMBER = "x-opt-sequence-number"
OFFSET = "x-opt-offset"
ENQUEUED_TIME = "x-opt-enqueued-time"
_SERVICE_ANNOTATIONS = frozenset({PARTITION_KEY, SEQUENCE_NUMBER, OFFSET, ENQUEUED_TIME})
_PROPERTY_NAMES = (
    "message_id",
    "user_id",
    "to",
    "subject",
    "reply_to",
    "correlation_id",
    "content_type",
    "content_encoding",
    "absolute_expiry_time",
    "creation_time",
    "group_id",
    "group_sequence",
    "reply_to_group_id",
)
_HEADER, _DELIVERY_ANNOTATIONS, _ANNOTATIONS, _PROPERTIES, _APP_PROPERTIES = range(0x70, 0x75)
_DATA, _SEQUENCE, _VALUE, _FOOTER = range(0x75, 0x79)


_DATA8 = b"\x00\x53\x75\xa0"


def _section(buf: bytes, pos: int) -> int:
    """The section code at ``pos`` (``00 53 code``), or -1 if there is none."""
    if buf[pos] != 0x00 or buf[pos + 1] != 0x53:
        return -1
    code = buf[pos + 2]
    return code if _HEADER <= code <= _FOOTER else -1


class ParsedTransfer(NamedTuple):
    events: list[bytes]
    """One encoded message per event (the whole payload for a single message)."""
    partition_key: str | None
    """The ``x-opt-partition-key`` annotation of the outer message."""
    is_batch: bool


def parse_transfer(payload: bytes) -> ParsedTransfer:
    """Split a producer's transfer into events and read the outer partition key.

    :raises ValueError: if the payload is not an AMQP message.
    """
    key = None
    pos, size = 0, len(payload)
    while pos < size:
        code = _section(payload, pos)
        if code < 0:
            raise ValueError(f"not an AMQP message section at byte {pos}")
        if code >= _DATA:
            break
        end = skip_value(payload, pos + 3)
        if code == _ANNOTATIONS:
            value = _find_annotation(payload, pos + 3, PARTITION_KEY)
            key = value if isinstance(value, str) else None
        pos = end
    events = _split_batch(payload, pos)
    if events is None:
        return ParsedTransfer([payload], key, False)
    return ParsedTransfer(events, key, True)


def _split_batch(buf: bytes, pos: int) -> list[bytes] | None:
    events: list[bytes] = []
    size = len(buf)
    while pos < size:
        if buf[pos] != 0x00 or buf[pos + 1] != 0x53:
            return None
        code, constructor = buf[pos + 2], buf[pos + 3]
        if code == _FOOTER and events:
            break
        if code != _DATA:
            return None
        if constructor == 0xA0:
            start = pos + 5
            end = start + buf[pos + 4]
        elif constructor == 0xB0:
            start = pos + 8
            end = start + int.from_bytes(buf[pos + 4 : start], "big")
        else:
            return None
        if not _is_message(buf, start, end):
            return None
        events.append(buf[start:end])
        pos = end
    return events or None


def _is_message(buf: bytes, pos: int, end: int) -> bool:
    """Whether ``buf[pos:end]`` is a whole sequence of message sections, in order."""
    if end - pos < 4 or end > len(buf):
        return False
    if end - pos >= 5 and pos + 5 + buf[pos + 4] == end and buf.startswith(_DATA8, pos):
        return True  # the common case: nothing but a small body
    last = 0
    try:
        while pos < end:
            code = _section(buf, pos)
            if code < last or (code == last and code not in (_DATA, _SEQUENCE)):
                return False  # includes code == -1
            last = code
            pos = skip_value(buf, pos + 3)
    except (ValueError, IndexError):
        return False
    return pos == end


def _map_entries(buf: bytes, pos: int) -> list[tuple[object, bytes]]:
    """The (decoded key, raw ``key + value`` bytes) pairs of the map at ``pos``."""
    constructor = buf[pos]
    if constructor == 0xC1:
        count, pos = buf[pos + 2], pos + 3
    elif constructor == 0xD1:
        count, pos = int.from_bytes(buf[pos + 5 : pos + 9], "big"), pos + 9
    else:
        return []
    entries = []
    for _ in range(count // 2):
        key, value_pos = decode_value(buf, pos)
        end = skip_value(buf, value_pos)
        entries.append((key, buf[pos:end]))
        pos = end
    return entries


def _find_annotation(buf: bytes, pos: int, name: str) -> object:
    for key, raw in _map_entries(buf, pos):
        if key == name:
            return decode_value(raw, skip_value(raw, 0))[0]
    return None


def annotate_for_consumer(
    raw: bytes,
    sequence_number: int,
    offset: str,
    enqueued_ms: int,
    partition_key: str | None,
    delivery_annotations: bytes = b"",
) -> bytes:
    """Return ``raw`` with the annotations a consumer expects from the service.

    The producer's delivery annotations are replaced by ``delivery_annotations`` (an
    encoded section, or nothing); existing message annotations are kept (the
    service's own keys are replaced); ``partition_key`` is added when the event does not
    carry one (a keyed batch whose events were not stamped individually).
    """
    pos, size = 0, len(raw)
    head = b""
    entries: list[bytes] = []
    own_key = False
    while pos < size:
        code = _section(raw, pos)
        if code < 0 or code > _ANNOTATIONS:
            break
        end = skip_value(raw, pos + 3)
        if code == _HEADER:
            head = raw[pos:end]
        elif code == _ANNOTATIONS:
            for key, entry in _map_entries(raw, pos + 3):
                own_key = own_key or key == PARTITION_KEY
                if key not in _SERVICE_ANNOTATIONS or key == PARTITION_KEY:
                    entries.append(entry)
        pos = end
    if partition_key is not None and not own_key:
        entries.append(encode_symbol(PARTITION_KEY) + encode_string(partition_key))
    entries.append(encode_symbol(SEQUENCE_NUMBER) + encode_long(sequence_number))
    entries.append(encode_symbol(OFFSET) + encode_string(offset))
    entries.append(encode_symbol(ENQUEUED_TIME) + encode_timestamp_ms(enqueued_ms))
    annotations = b"\x00\x53\x72" + encode_map_entries(2 * len(entries), b"".join(entries))
    return head + delivery_annotations + annotations + raw[pos:]


class DecodedMessage(NamedTuple):
    header: dict[str, Any]
    delivery_annotations: dict[Any, Any]
    annotations: dict[Any, Any]
    properties: dict[str, Any]
    application_properties: dict[Any, Any]
    body: bytes
    """The data sections, concatenated (``b""`` for a value or sequence body)."""
    body_type: str
    """``"data"``, ``"value"``, ``"sequence"`` or ``"empty"``."""
    body_value: Any
    """The amqp-value, or the list of amqp-sequence sections; ``None`` for data."""


_HEADER_NAMES = ("durable", "priority", "ttl", "first_acquirer", "delivery_count")


def _named(names: tuple[str, ...], value: object) -> dict[str, Any]:
    fields = value if isinstance(value, list) else []
    return {n: v for n, v in zip(names, fields, strict=False) if v is not None}


def decode_message(raw: bytes) -> DecodedMessage:
    """Decode every section of an encoded message.

    :raises ValueError: if ``raw`` is not an AMQP message.
    """
    sections: dict[int, Any] = {}
    data: list[bytes] = []
    sequence: list[Any] = []
    pos = 0
    while pos < len(raw):
        code = _section(raw, pos)
        if code < 0:
            raise ValueError(f"not an AMQP message section at byte {pos}")
        value, pos = decode_value(raw, pos + 3)
        if code == _DATA:
            data.append(value)
        elif code == _SEQUENCE:
            sequence.append(value)
        else:
            sections[code] = value
    if data:
        body_type, body_value = "data", None
    elif sequence:
        body_type, body_value = "sequence", sequence
    elif _VALUE in sections:
        body_type, body_value = "value", sections[_VALUE]
    else:
        body_type, body_value = "empty", None
    return DecodedMessage(
        header=_named(_HEADER_NAMES, sections.get(_HEADER)),
        delivery_annotations=dict(sections.get(_DELIVERY_ANNOTATIONS) or {}),
        annotations=dict(sections.get(_ANNOTATIONS) or {}),
        properties=_named(_PROPERTY_NAMES, sections.get(_PROPERTIES)),
        application_properties=dict(sections.get(_APP_PROPERTIES) or {}),
        body=b"".join(data),
        body_type=body_type,
        body_value=body_value,
    )


class Request(NamedTuple):
    message_id: Encoded | None
    """The encoded message-id, to echo as correlation-id with its type intact."""
    reply_to: str | None
    application_properties: dict[Any, Any]
    body: Any


def _message_id(raw: bytes) -> Encoded | None:
    pos = 0
    while pos < len(raw):
        code = _section(raw, pos)
        if code < 0 or code > _PROPERTIES:
            return None
        if code == _PROPERTIES:
            list_pos = pos + 3
            if raw[list_pos] == 0xC0:
                count, first = raw[list_pos + 2], list_pos + 3
            elif raw[list_pos] == 0xD0:
                count, first = int.from_bytes(raw[list_pos + 5 : list_pos + 9], "big"), list_pos + 9
            else:
                return None
            return Encoded(raw[first : skip_value(raw, first)]) if count else None
        pos = skip_value(raw, pos + 3)
    return None


def parse_request(raw: bytes) -> Request:
    """Read a ``$cbs``/``$management`` request.

    :raises ValueError: if ``raw`` is not an AMQP message.
    """
    decoded = decode_message(raw)
    reply_to = decoded.properties.get("reply_to")
    return Request(
        message_id=_message_id(raw),
        reply_to=reply_to if isinstance(reply_to, str) else None,
        application_properties=decoded.application_properties,
        body=decoded.body_value if decoded.body_type == "value" else decoded.body,
    )


def encode_reply(
    correlation_id: Encoded | None, application_properties: Mapping[str, object], body: object
) -> bytes:
    """Encode a response: correlation-id, application properties, an amqp-value body.

    The body section is left out when ``body`` is ``None``.
    """
    properties = [None, None, None, None, None, correlation_id]
    encoded = (
        b"\x00\x53\x73"
        + encode_value(properties)
        + b"\x00\x53\x74"
        + encode_value(dict(application_properties))
    )
    return encoded if body is None else encoded + b"\x00\x53\x77" + encode_value(body)
