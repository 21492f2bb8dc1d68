"""Encode an ``EventData`` or an ``AmqpAnnotatedMessage`` as one AMQP 1.0 message.

The bytes are exactly those azure-eventhub sends for the same event (its
``to_outgoing_amqp_message``, ``set_message_partition_key`` and ``encode_payload``), and
a value azure refuses is refused with the same exception class. The encoder reads only
public attributes of the message (``header``, ``properties``, ``application_properties``,
``annotations``, ``delivery_annotations``, ``footer``, ``body`` and ``body_type``;
:func:`plain_body` also reads the ``_data_body`` list that azure's encoder sends), and
the event is never changed (azure adds the partition key to the event's own annotations
while it encodes).

Sections come in azure's order: header, message annotations, properties, application
properties, the body (``data``, ``sequence`` or ``value``), footer, and delivery
annotations last.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from azure.eventhub.amqp import AmqpMessageBodyType

from ._scalars import Out, encode_boolean
from ._values import encode_typed, encode_value

__all__ = [
    "DURABLE_HEADER",
    "PARTITION_KEY_ANNOTATION",
    "encode_annotated_message",
    "encode_event_data",
    "plain_body",
]

#: the annotation azure stamps a partition key under (a symbol)
PARTITION_KEY_ANNOTATION = b"x-opt-partition-key"
#: the header azure puts on a keyed message, in place of the message's own
DURABLE_HEADER = b"\x00\x53\x70\xc0\x07\x05\x56\x01\x40\x40\x40\x40"

_HEADER = b"\x00\x53\x70"
_DELIVERY_ANNOTATIONS = b"\x00\x53\x71"
_ANNOTATIONS = b"\x00\x53\x72"
_PROPERTIES = b"\x00\x53\x73"
_APPLICATION_PROPERTIES = b"\x00\x53\x74"
_DATA = b"\x00\x53\x75"
_SEQUENCE = b"\x00\x53\x76"
_VALUE = b"\x00\x53\x77"
_FOOTER = b"\x00\x53\x78"
#: the body type of an event made with a body (a public enum of azure-eventhub)
_DATA_BODY = AmqpMessageBodyType.DATA


def _described_list(out: Out, code: bytes, fields: Out, count: int) -> None:
    out += code
    size = len(fields)
    if count <= 255 and size < 255:
        out.append(0xC0)
        out.append(size + 1)
        out.append(count)
    else:
        out += b"\xd0" + (size + 4).to_bytes(4, "big") + count.to_bytes(4, "big")
    out += fields


def _map(out: Out, code: bytes, body: Out, pairs: int) -> None:
    out += code
    size = len(body)
    count = 2 * pairs
    if count <= 255 and size < 255:
        out.append(0xC1)
        out.append(size + 1)
        out.append(count)
    else:
        out += b"\xd1" + (size + 4).to_bytes(4, "big") + count.to_bytes(4, "big")
    out += body


def _field(out: Out, type_name: str | None, value: Any) -> None:
    if value is None:
        out += b"\x40"
    else:
        encode_typed(out, type_name, value)


_HEADER_FIELDS = ("durable", "priority", "time_to_live", "first_acquirer", "delivery_count")
_PROPERTIES_FIELDS = (
    "message_id", "user_id", "to", "subject", "reply_to", "correlation_id", "content_type",
    "content_encoding", "creation_time", "absolute_expiry_time", "group_id", "group_sequence",
    "reply_to_group_id",
)  # fmt: skip
#: the attributes of a header and of properties that ``EventData()`` makes: all unset
_NO_HEADER = dict.fromkeys(_HEADER_FIELDS)
_NO_PROPERTIES = dict.fromkeys(_PROPERTIES_FIELDS)


def _is_set(section: Any, fields: tuple[str, ...]) -> bool:
    """Whether azure sends *section*: it is truthy and one of its values is not ``None``.

    azure asks ``section.values()`` (a list made afresh on every call); reading the known
    fields first is the same answer, faster, unless something else was stored on it.
    """
    if section is None:
        return False
    attributes = vars(section)
    for name in fields:
        if attributes.get(name) is not None:
            return True
    if len(attributes) == len(fields):
        return False  # the known fields, all None, and nothing else
    if not section:
        return False
    values = section.values()
    return bool(values.count(None) != len(values))


def _header(out: Out, header: Any) -> None:
    if not _is_set(header, _HEADER_FIELDS):
        return
    fields = bytearray()
    durable = header.durable
    if durable is None:
        fields += b"\x40"
    else:
        encode_boolean(fields, durable)  # a bool never falls back to a map
    _field(fields, "UBYTE", header.priority)
    _field(fields, "UINT", header.time_to_live)
    first_acquirer = header.first_acquirer
    if first_acquirer is None:
        fields += b"\x40"
    else:
        encode_boolean(fields, first_acquirer)
    _field(fields, "UINT", header.delivery_count)
    _described_list(out, _HEADER, fields, 5)


def _message_id_type(value: Any) -> str | None:
    """The AMQP type a message or correlation id is encoded as (``None``: null).

    :raises TypeError: as azure's ``encode_message_id`` does, for any other type.
    """
    if value is None:
        return None
    if isinstance(value, int):
        return "ULONG"
    if isinstance(value, bytes):
        return "BINARY"
    if isinstance(value, str):
        return "STRING"
    if isinstance(value, uuid.UUID):
        return "UUID"
    raise TypeError("Unsupported Message ID type.")


def _properties(out: Out, properties: Any) -> None:
    # as azure's to_outgoing_amqp_message: a falsy time is no time, a true one an int
    creation_time = properties.creation_time
    creation_time = int(creation_time) if creation_time else None
    expiry_time = properties.absolute_expiry_time
    expiry_time = int(expiry_time) if expiry_time else None
    # azure types both ids before it encodes any field: a wrong type is a TypeError even
    # where an earlier field's value is out of range
    message_id_type = _message_id_type(properties.message_id)
    correlation_id_type = _message_id_type(properties.correlation_id)
    fields = bytearray()
    _field(fields, message_id_type, properties.message_id)
    _field(fields, "BINARY", properties.user_id)
    _field(fields, "STRING", properties.to)
    _field(fields, "STRING", properties.subject)
    _field(fields, "STRING", properties.reply_to)
    _field(fields, correlation_id_type, properties.correlation_id)
    _field(fields, "SYMBOL", properties.content_type)
    _field(fields, "SYMBOL", properties.content_encoding)
    _field(fields, "TIMESTAMP", expiry_time)
    _field(fields, "TIMESTAMP", creation_time)
    _field(fields, "STRING", properties.group_id)
    _field(fields, "UINT", properties.group_sequence)
    _field(fields, "STRING", properties.reply_to_group_id)
    _described_list(out, _PROPERTIES, fields, 13)


def _annotations(out: Out, code: bytes, annotations: Mapping[Any, Any]) -> None:
    body = bytearray()
    for key, data in annotations.items():
        encode_typed(body, "ULONG" if isinstance(key, int) else "SYMBOL", key)
        if isinstance(data, dict) and "TYPE" in data and "VALUE" in data:
            encode_typed(body, data["TYPE"], data["VALUE"])
        else:
            encode_typed(body, None, data)
    _map(out, code, body, len(annotations))


def _application_properties(out: Out, properties: Mapping[Any, Any]) -> None:
    body = bytearray()
    for key, data in properties.items():
        encode_typed(body, "STRING", key)
        encode_value(body, data)
    _map(out, _APPLICATION_PROPERTIES, body, len(properties))


def _body(out: Out, message: Any) -> None:
    kind = getattr(message.body_type, "value", None)
    if kind == "data":
        for section in message.body:
            out += _DATA
            encode_typed(out, "BINARY", section)
    elif kind == "sequence":
        try:
            sections = list(message.body)
        except TypeError:  # azure keeps no sequence when it was given something else
            return
        for section in sections:
            out += _SEQUENCE
            encode_typed(out, None, section)
    elif kind == "value":
        value = message.body
        if value:  # azure sends no body at all for a false value (0, "", [] ...)
            out += _VALUE
            encode_typed(out, None, value)


def encode_annotated_message(
    message: Any,
    partition_key: str | bytes | None = None,
    extra_properties: Mapping[str, Any] | None = None,
) -> bytes:
    """Encode an ``AmqpAnnotatedMessage`` as azure-eventhub sends it.

    :param partition_key: stamped as the ``x-opt-partition-key`` annotation, with a
        durable header replacing the message's own, as azure does (an empty key is no
        key).
    :param extra_properties: added to the application properties (trace context),
        without changing *message*.
    :raises TypeError: for a value AMQP cannot carry (as azure raises it).
    :raises ValueError: for a value out of its AMQP type's range (as azure raises it).
    """
    out = bytearray()
    annotations = message.annotations
    properties = message.properties
    properties_set = _is_set(properties, _PROPERTIES_FIELDS)
    if properties_set:
        # azure converts the times before it encodes anything (the errors come first)
        for time in (properties.creation_time, properties.absolute_expiry_time):
            if time:
                int(time)
    if partition_key:
        if isinstance(partition_key, bytes):
            partition_key = partition_key.decode("utf-8")
        if annotations:
            annotations = {**annotations, PARTITION_KEY_ANNOTATION: partition_key}
        else:
            annotations = {PARTITION_KEY_ANNOTATION: partition_key}
        out += DURABLE_HEADER
    else:
        _header(out, message.header)
    if annotations:
        _annotations(out, _ANNOTATIONS, annotations)
    if properties_set:
        _properties(out, properties)
    application_properties = message.application_properties
    if extra_properties:
        application_properties = {**(application_properties or {}), **extra_properties}
    if application_properties:
        _application_properties(out, application_properties)
    _body(out, message)
    footer = message.footer
    if footer:
        _annotations(out, _FOOTER, footer)
    delivery_annotations = message.delivery_annotations
    if delivery_annotations:
        _annotations(out, _DELIVERY_ANNOTATIONS, delivery_annotations)
    return bytes(out)


def encode_event_data(
    event: Any,
    partition_key: str | bytes | None = None,
    extra_properties: Mapping[str, Any] | None = None,
) -> bytes:
    """Encode an ``EventData`` as azure-eventhub sends it (see :func:`encode_annotated_message`)."""
    return encode_annotated_message(event.raw_amqp_message, partition_key, extra_properties)


def plain_body(event: Any) -> bytes | None:
    """Return the body of *event* (an ``EventData`` or ``AmqpAnnotatedMessage``) if it
    has nothing else, else ``None``.

    "Nothing else": one ``data`` section and no header field, property, application
    property, annotation, delivery annotation or footer. Such an event encodes exactly
    like its body alone, so a caller can take a faster path for it.

    Most events are of that shape, so this is the common path: the header and the
    properties are each compared in one step with what ``EventData()`` gives them (every
    field ``None``, nothing else stored), and only another shape is looked at field by
    field. The body is read from the message's ``_data_body`` list, the one private
    attribute the codec reads, because it is what azure's own encoder sends
    (``to_outgoing_amqp_message``) and the public ``body`` is a generator over it, which
    costs more than the rest of this function; without such a list, ``body`` is read.
    """
    message = getattr(event, "raw_amqp_message", event)
    body_type = message.body_type
    if body_type is not _DATA_BODY and getattr(body_type, "value", None) != "data":
        return None
    if (
        message.application_properties
        or message.annotations
        or message.delivery_annotations
        or message.footer
    ):
        return None
    header = message.header
    if header is not None and vars(header) != _NO_HEADER and _is_set(header, _HEADER_FIELDS):
        return None
    properties = message.properties
    if (
        properties is not None
        and vars(properties) != _NO_PROPERTIES
        and _is_set(properties, _PROPERTIES_FIELDS)
    ):
        return None
    sections = getattr(message, "_data_body", None)
    if type(sections) is list:  # azure's list of data sections, which its encoder sends
        if len(sections) != 1:
            return None
        section = sections[0]
    else:  # an azure-eventhub that keeps them otherwise: its public generator
        try:
            (section,) = message.body
        except ValueError:
            return None
    return section if isinstance(section, bytes) else None
