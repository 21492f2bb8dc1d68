"""The trace-context properties, written as azure-eventhub writes them and read back."""

from __future__ import annotations

from azure.eventhub import EventData
from hypothesis import given
from hypothesis import strategies as st

from anyio_eventhubs._encoding import encode_body, encode_body_with_properties
from anyio_eventhubs._telemetry._context import (
    carries_trace_context,
    read_trace_context,
    trace_properties,
)

from ..azure_reference import decode_event, encode_event_data

TRACEPARENT = "00-" + "0af7651916cd43dd8448eb211c80319c" + "-" + "b7ad6b7169203331" + "-01"

ids = st.integers(min_value=1, max_value=2**64 - 1)
texts = st.text(min_size=1, max_size=300)
keys = st.one_of(st.none(), st.text(min_size=1, max_size=300))


def test_the_properties_are_the_three_azure_eventhub_writes() -> None:
    assert trace_properties(0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, 1, "") == {
        "Diagnostic-Id": TRACEPARENT,
        "traceparent": TRACEPARENT,
    }
    assert trace_properties(1, 2, 0, "a=b")["tracestate"] == "a=b"


@given(body=st.binary(max_size=600), key=keys, state=st.sampled_from(["", "a=b", "x" * 300]))
def test_a_stamped_body_encodes_as_azure_eventhub_encodes_the_same_event(
    body: bytes, key: str | None, state: str
) -> None:
    stamp = trace_properties(7, 9, 1, state)
    event = EventData(body)
    event.properties = {k.encode(): v for k, v in stamp.items()}
    assert encode_body_with_properties(body, key, stamp) == encode_event_data(event, key)


@given(body=st.binary(max_size=600), key=keys, trace_id=ids, span_id=ids, state=st.text())
def test_the_context_reads_back_from_what_we_encode(
    body: bytes, key: str | None, trace_id: int, span_id: int, state: str
) -> None:
    stamp = trace_properties(trace_id, span_id, 1, state)
    carrier = read_trace_context(encode_body_with_properties(body, key, stamp))
    assert carrier == {k: v for k, v in stamp.items() if k != "Diagnostic-Id"}
    decoded = decode_event(encode_body_with_properties(body, key, stamp))
    assert decoded.properties[b"traceparent"] == stamp["traceparent"].encode()


@given(other=st.dictionaries(texts, st.one_of(texts, st.integers(-(2**31), 2**31 - 1))))
def test_the_context_reads_back_from_a_rich_event(other: dict[str | bytes, object]) -> None:
    event = EventData(b"body")
    event.properties = other
    event.message_id = "id-1"
    encoded = encode_event_data(event, "key", trace_properties(1, 2, 1, "k=v"))
    assert read_trace_context(encoded) == {
        "traceparent": "00-" + "0" * 31 + "1-" + "0" * 15 + "2-01",
        "tracestate": "k=v",
    }


def test_diagnostic_id_alone_is_read_as_azure_eventhub_reads_it() -> None:
    encoded = encode_body_with_properties(b"x", None, {"Diagnostic-Id": TRACEPARENT})
    assert read_trace_context(encoded) == {"traceparent": TRACEPARENT}


def test_no_or_malformed_context_reads_as_none() -> None:
    assert read_trace_context(encode_body(b"x")) is None
    assert read_trace_context(encode_body(b"x", "key")) is None
    assert read_trace_context(encode_body_with_properties(b"x", None, {"a": "b"})) is None
    bad = encode_body_with_properties(b"x", None, {"traceparent": "not a traceparent"})
    assert read_trace_context(bad) is None
    assert read_trace_context(b"") is None
    assert read_trace_context(b"\x00\x53\x74\xc1\xff") is None  # truncated


def test_an_event_names_its_own_context_by_either_property_and_key_type() -> None:
    assert carries_trace_context({"traceparent": TRACEPARENT})
    assert carries_trace_context({b"traceparent": TRACEPARENT})
    assert carries_trace_context({b"Diagnostic-Id": TRACEPARENT})
    assert not carries_trace_context({"tracestate": "a=b"})
    assert not carries_trace_context(None)


def test_messages_of_one_span_read_their_shared_section_once() -> None:
    stamp = trace_properties(1, 2, 1, "")
    cache: dict[bytes, dict[str, str] | None] = {}
    first = read_trace_context(encode_body_with_properties(b"a", "k", stamp), cache)
    second = read_trace_context(encode_body_with_properties(b"b" * 400, None, stamp), cache)
    assert first == second == {"traceparent": stamp["traceparent"]}
    assert list(cache.values()) == [first]


def test_a_body_that_mentions_traceparent_is_not_read_as_context() -> None:
    assert (
        read_trace_context(encode_body(b"traceparent 00-" + b"1" * 32 + b"-" + b"2" * 16)) is None
    )
