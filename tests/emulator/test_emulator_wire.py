"""The emulator's byte-level pieces, checked against azure-eventhub's own codec.

No sockets here: frames and messages are built with azure-eventhub 5.15's encoder (the
client the emulator serves) and what the emulator writes is read with its decoder.
"""

from __future__ import annotations

import struct
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from azure.eventhub import EventData, EventDataBatch
from azure.eventhub._pyamqp import _decode, _encode
from azure.eventhub._pyamqp.utils import generate_sas_token
from azure.eventhub._transport._pyamqp_transport import PyamqpTransport
from azure.eventhub._utils import transform_outbound_single_message
from hypothesis import example, given
from hypothesis import strategies as st

from anyio_eventhubs.testing.emulator._cbs import check_sas_token
from anyio_eventhubs.testing.emulator._codec import (
    Described,
    Symbol,
    decode_value,
    encode_value,
    skip_value,
)
from anyio_eventhubs.testing.emulator._consumer import find_selector, start_index
from anyio_eventhubs.testing.emulator._frames import OutgoingFrames, pad_described
from anyio_eventhubs.testing.emulator._hubs import EventStore
from anyio_eventhubs.testing.emulator._messages import (
    annotate_for_consumer,
    decode_message,
    encode_reply,
    parse_request,
    parse_transfer,
)
from anyio_eventhubs.testing.emulator._sasl import AMQP_HEADER, SASL_HEADER, SaslHandshake


def _encoded(message: Any) -> bytes:
    out = bytearray()
    _encode.encode_payload(out, message)
    return bytes(out)


def _frame(body: bytes, frame_type: int = 0) -> bytes:
    return struct.pack(">IBBH", 8 + len(body), 2, frame_type, 0) + body


def _described_list(code: int, *items: bytes) -> bytes:
    body = b"".join(items)
    return bytes((0x00, 0x53, code, 0xC0, len(body) + 1, len(items))) + body


def _azure_reads(frame: bytes) -> tuple[int, list[Any]]:
    frame_type, fields = _decode.decode_frame(memoryview(frame)[8:])
    return frame_type, fields


# --- padding proton's performatives -----------------------------------------------------

_NOT_FOUND_ERROR = _described_list(0x1D, b"\xa3\x0eamqp:not-found")  # condition only


def test_detach_error_is_padded_to_every_field() -> None:
    detach = _described_list(0x16, b"\x43", b"\x41", _NOT_FOUND_ERROR)  # handle, closed, error
    frame_type, fields = _azure_reads(OutgoingFrames().feed(AMQP_HEADER + _frame(detach))[8:])
    assert frame_type == 0x16
    assert fields == [0, True, [b"amqp:not-found", None, None]]


def test_rejected_outcome_carries_condition_description_and_info() -> None:
    rejected = _described_list(0x25, _NOT_FOUND_ERROR)
    # role, first, last, settled, state
    disposition = _described_list(0x15, b"\x41", b"\x43", b"\x40", b"\x41", rejected)
    frame = OutgoingFrames().feed(AMQP_HEADER + _frame(disposition))[8:]
    _, fields = _azure_reads(frame)
    assert len(fields) == 6
    assert fields[4] == {"rejected": [[b"amqp:not-found", None, None]]}


def test_close_without_error_is_no_longer_list0() -> None:
    frames = OutgoingFrames()
    out = frames.feed(AMQP_HEADER + _frame(b"\x00\x53\x18\x45"))
    assert _azure_reads(out[8:]) == (0x18, [None])


def test_transfer_payload_stays_after_eleven_fields() -> None:
    transfer = _described_list(0x14, b"\x43", b"\x43", b"\xa0\x011")  # handle, id, tag
    payload = b"\x00\x53\x77\xa1\x02hi"
    _, fields = _azure_reads(OutgoingFrames().feed(AMQP_HEADER + _frame(transfer + payload))[8:])
    assert fields[:3] == [0, 0, b"1"]
    assert bytes(fields[11]) == payload


def test_frames_split_across_reads_come_out_whole() -> None:
    frames = OutgoingFrames()
    data = AMQP_HEADER + _frame(b"\x00\x53\x18\x45") + _frame(b"\x00\x53\x17\x45")
    out = b"".join(frames.feed(data[i : i + 3]) for i in range(0, len(data), 3))
    assert out[:8] == AMQP_HEADER
    first_size = struct.unpack(">I", out[8:12])[0]
    assert _azure_reads(out[8 : 8 + first_size]) == (0x18, [None])
    assert _azure_reads(out[8 + first_size :]) == (0x17, [None])


def test_complete_performatives_and_heartbeats_pass_unchanged() -> None:
    end = _described_list(0x17, b"\x40")
    heartbeat = struct.pack(">IBBH", 8, 2, 0, 0)
    data = AMQP_HEADER + _frame(end) + heartbeat
    assert OutgoingFrames().feed(data) == data
    assert pad_described(end, 0) == (end, len(end), False)


# --- SASL -----------------------------------------------------------------------------


def test_sasl_offers_anonymous_and_plain_then_succeeds() -> None:
    init = _described_list(0x41, b"\xa3\x09ANONYMOUS")
    sasl = SaslHandshake()
    reply, rest = sasl.feed(SASL_HEADER + _frame(init, frame_type=1) + AMQP_HEADER)
    assert reply.startswith(SASL_HEADER)
    mechanisms_size = struct.unpack(">I", reply[8:12])[0]
    _, mechanisms = _azure_reads(reply[8 : 8 + mechanisms_size])
    assert mechanisms == [[b"ANONYMOUS", b"PLAIN"]]
    assert _azure_reads(reply[8 + mechanisms_size :]) == (0x44, [0, None])
    assert (sasl.done, sasl.failed, sasl.mechanism, rest) == (True, False, "ANONYMOUS", AMQP_HEADER)


def test_sasl_plain_records_the_user() -> None:
    init = _described_list(0x41, b"\xa3\x05PLAIN", b"\xa0\x0c\x00user\x00secret")
    sasl = SaslHandshake()
    sasl.feed(SASL_HEADER)
    sasl.feed(_frame(init, frame_type=1))
    assert (sasl.done, sasl.mechanism, sasl.user) == (True, "PLAIN", "user")


def test_plain_amqp_skips_sasl_and_tls_is_refused() -> None:
    plain = SaslHandshake()
    assert plain.feed(AMQP_HEADER + b"rest") == (b"", AMQP_HEADER + b"rest")
    tls = SaslHandshake()
    tls.feed(b"AMQP\x02\x01\x00\x00")
    assert tls.failed


# --- messages -------------------------------------------------------------------------


def _event(body: bytes, properties: dict[str, Any] | None = None) -> EventData:
    event = EventData(body)
    props: dict[str | bytes, Any] = {}
    props.update(properties or {})
    event.properties = props
    return event


def _message(event: EventData) -> Any:
    """The pyamqp message azure-eventhub sends for a single event."""
    outgoing = transform_outbound_single_message(
        event, EventData, PyamqpTransport.to_outgoing_amqp_message
    )
    return outgoing._message


def test_a_keyed_batch_splits_into_its_events() -> None:
    batch = EventDataBatch(partition_key="pk")
    batch.add(_event(b"one", {"n": 1}))
    batch.add(_event(b"two"))
    parsed = parse_transfer(_encoded(batch._message))
    assert (parsed.partition_key, parsed.is_batch, len(parsed.events)) == ("pk", True, 2)
    first = decode_message(parsed.events[0])
    assert first.body == b"one"
    assert first.application_properties == {"n": 1}
    assert first.annotations == {"x-opt-partition-key": "pk"}


def test_any_whole_messages_in_the_data_sections_make_a_batch() -> None:
    events = [
        b"\x00\x53\x75\xa0\x01a",  # body only
        b"\x00\x53\x70\x45\x00\x53\x75\xa0\x01b",  # header, body
        b"\x00\x53\x75\xa0\x01c\x00\x53\x78\xc1\x01\x00",  # body, footer
        b"\x00\x53\x77\xa1\x01d",  # an amqp-value body
    ]
    outer = b"".join(b"\x00\x53\x75\xa0" + bytes((len(e),)) + e for e in events)
    assert parse_transfer(outer) == (events, None, True)
    out_of_order = b"\x00\x53\x75\xa0\x01c\x00\x53\x70\x45"
    assert not parse_transfer(b"\x00\x53\x75\xa0\x08" + out_of_order).is_batch


def test_a_single_message_is_one_event() -> None:
    payload = _encoded(_message(_event(b"solo")))
    parsed = parse_transfer(payload)
    assert parsed == (  # a tuple comparison keeps the assertion readable
        [payload],
        None,
        False,
    )


def test_a_body_that_merely_looks_like_a_section_is_not_a_batch() -> None:
    payload = _encoded(_message(EventData(b"\x00\x53\x75\xa0\x20not whole")))
    assert not parse_transfer(payload).is_batch


def test_decode_message_reads_properties_and_value_bodies() -> None:
    event = _event(b"x", {"when": datetime(2024, 1, 2, tzinfo=UTC), "raw": b"\x01", "ok": True})
    event.message_id = "id-1"
    event.content_type = "application/json"
    event.correlation_id = "corr"
    decoded = decode_message(_encoded(_message(event)))
    assert decoded.properties == {
        "message_id": "id-1",
        "correlation_id": "corr",
        "content_type": "application/json",
    }
    assert decoded.application_properties["raw"] == b"\x01"
    assert decoded.application_properties["ok"] is True
    value = decode_message(b"\x00\x53\x77\xa1\x03abc")
    assert (value.body_type, value.body_value, value.body) == ("value", "abc", b"")


def test_consumer_annotations_are_spliced_in_as_azure_reads_them() -> None:
    raw = _encoded(_message(_event(b"payload", {"k": "v"})))
    out = annotate_for_consumer(raw, 7, "1234", 1_700_000_000_123, partition_key="batch-key")
    message = _decode.decode_payload(memoryview(out))
    assert message.message_annotations == {
        b"x-opt-partition-key": b"batch-key",
        b"x-opt-sequence-number": 7,
        b"x-opt-offset": b"1234",
        b"x-opt-enqueued-time": 1_700_000_000_123,
    }
    assert message.application_properties == {b"k": b"v"}
    assert message.data == [b"payload"]


def test_an_events_own_partition_key_wins_over_the_batch_key() -> None:
    batch = EventDataBatch(partition_key="own")
    batch.add(EventData(b"e"))
    (raw,) = parse_transfer(_encoded(batch._message)).events
    out = annotate_for_consumer(raw, 0, "0", 0, partition_key="other")
    annotations = _decode.decode_payload(memoryview(out)).message_annotations
    assert annotations is not None
    assert annotations[b"x-opt-partition-key"] == b"own"
    assert decode_message(out).header == {"durable": True}


def test_replies_echo_a_uuid_message_id_as_correlation_id() -> None:
    request_id = uuid.uuid4()
    request = _described_list(0x73, b"\x98" + request_id.bytes)
    request += b"\x00\x53\x74" + encode_value({"operation": "READ"})
    parsed = parse_request(request)
    assert parsed.application_properties == {"operation": "READ"}
    reply = _decode.decode_payload(memoryview(encode_reply(parsed.message_id, {"a": 1}, None)))
    assert reply.properties is not None
    assert reply.properties.correlation_id == request_id
    assert reply.value is None


# --- codec ----------------------------------------------------------------------------

_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary()
    | st.uuids()
    | st.builds(Symbol, st.text(alphabet="abcxyz:-", max_size=300)),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=20,
)


@given(_values)
def test_codec_round_trips_and_skips_exactly(value: object) -> None:
    encoded = encode_value(value) + b"\x40"
    assert decode_value(encoded, 0) == (value, len(encoded) - 1)
    assert skip_value(encoded, 0) == len(encoded) - 1


@given(st.dictionaries(st.text(max_size=20), st.integers(-(2**31), 2**31 - 1) | st.text()))
def test_application_properties_encoded_by_azure_decode_the_same(props: dict[str, Any]) -> None:
    decoded = decode_message(_encoded(_message(_event(b"x", props))))
    assert decoded.application_properties == props


@given(st.binary(max_size=64).map(lambda b: b"\x00\x53\x75\xa0" + bytes((len(b),)) + b))
@example(b"\x00Su\xa0\x04\x00Sp\xb0")  # a binary32 whose length runs past the end
def test_garbage_in_a_transfer_raises_only_what_the_server_catches(payload: bytes) -> None:
    try:
        parse_transfer(payload)
        parse_transfer(payload[:-3] + payload)
    except (ValueError, IndexError):
        pass


def test_codec_reads_timestamps_arrays_and_described_values() -> None:
    assert decode_value(b"\x83" + struct.pack(">q", 1000), 0)[0] == datetime(
        1970, 1, 1, 0, 0, 1, tzinfo=UTC
    )
    array = b"\xe0\x06\x02\xa3\x01a\x01b"  # array8 of two symbols
    assert decode_value(array, 0) == (["a", "b"], len(array))
    described = b"\x00\xa3\x03x:y\xa1\x01z"
    assert decode_value(described, 0)[0] == Described("x:y", "z")


# --- selectors ------------------------------------------------------------------------


@pytest.fixture
def partition() -> Any:
    store = EventStore()
    store.add_hub("h", 1, 1024)
    log = store.partition("h", "0")
    store.append(
        log,
        [b"a" * 10, b"b" * 20],
        connection_id=1,
        link_name="l",
        partition_key=None,
        in_batch=True,
    )
    store.append(
        log, [b"c" * 5], connection_id=1, link_name="l", partition_key=None, in_batch=False
    )
    return log


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        (None, 0),
        ("amqp.annotation.x-opt-offset > '-1'", 0),
        ("amqp.annotation.x-opt-offset > '@latest'", 3),
        ("amqp.annotation.x-opt-offset > '10'", 2),
        ("amqp.annotation.x-opt-offset >= '10'", 1),
        ("amqp.annotation.x-opt-sequence-number > '0'", 1),
        ("amqp.annotation.x-opt-sequence-number >= '2'", 2),
        ("amqp.annotation.x-opt-sequence-number > '5'", 6),
        ("amqp.annotation.x-opt-enqueued-time > '0'", 0),
    ],
)
def test_start_index_follows_the_selector(
    partition: Any, selector: str | None, expected: int
) -> None:
    assert [int(o) for o in partition.offsets] == [0, 10, 30]
    assert start_index(partition, selector) == expected


def test_start_by_enqueued_time_skips_older_events(partition: Any) -> None:
    last_ms = partition.transfers[-1].enqueued_ms
    assert start_index(partition, f"amqp.annotation.x-opt-enqueued-time > '{last_ms}'") == 3
    assert start_index(partition, f"amqp.annotation.x-opt-enqueued-time >= '{last_ms}'") <= 2


def test_unknown_selectors_are_refused(partition: Any) -> None:
    with pytest.raises(ValueError, match="unsupported selector"):
        start_index(partition, "amqp.annotation.x-opt-whatever > '1'")
    assert find_selector({"f": Described("apache.org:selector-filter:string", "x")}) is None
    assert find_selector({"f": Described(0x4F, "amqp.annotation.x-opt-offset > '1'")}) == (
        "amqp.annotation.x-opt-offset > '1'"
    )


# --- SAS tokens -----------------------------------------------------------------------


def test_sas_tokens_made_by_azure_eventhub_verify() -> None:
    token = generate_sas_token(  # type: ignore[no-untyped-call]
        "sb://127.0.0.1:5673/eh1", "emulator", "secret", time.time() + 60
    )
    assert check_sas_token(token, "emulator", "secret") is None


@pytest.mark.parametrize(
    ("key_name", "key", "expiry", "problem"),
    [
        ("emulator", "wrong", 60, "signature"),
        ("other", "secret", 60, "key name"),
        ("emulator", "secret", -60, "expired"),
    ],
)
def test_bad_sas_tokens_say_why(key_name: str, key: str, expiry: int, problem: str) -> None:
    token = generate_sas_token(  # type: ignore[no-untyped-call]
        "sb://h/eh1", "emulator", "secret", time.time() + expiry
    )
    reason = check_sas_token(token, key_name, key)
    assert reason is not None
    assert problem in reason


def test_tokens_that_are_not_sas_are_refused() -> None:
    assert check_sas_token("Bearer abc", "n", "k") == "not a SharedAccessSignature token"
    assert "lacks" in (check_sas_token("SharedAccessSignature sr=x", "n", "k") or "")
