"""Three outcomes per line, and the ``--failed-out`` envelopes that send reads back."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anyio_eventhubs import (
    ConnectionLostError,
    EventClearedError,
    PublishFailedEventArgs,
    PublishSucceededEventArgs,
    ServerBusyError,
)
from anyio_eventhubs._cli._outcomes import Counters, FailedOut, Line, plural, unwrap


def _failed(events: list[bytes], error: BaseException, *, maybe: bool) -> PublishFailedEventArgs:
    return PublishFailedEventArgs(events, "1", error, may_have_been_published=maybe)


def test_a_failure_that_may_have_been_stored_is_of_unknown_outcome() -> None:
    counters = Counters()
    counters.on_published(PublishSucceededEventArgs([b"a", b"b"], "0"))
    counters.on_failed(_failed([b"c"], ServerBusyError("busy"), maybe=False))
    counters.on_failed(_failed([b"d", b"e"], ConnectionLostError("lost"), maybe=True))
    cleared = EventClearedError(may_have_been_published=True)
    counters.on_failed(_failed([b"f"], cleared, maybe=True))
    dropped = EventClearedError(may_have_been_published=False)
    counters.on_failed(_failed([b"g"], dropped, maybe=False))
    assert (counters.published, counters.failed, counters.unknown) == (2, 2, 3)
    assert counters.not_published == 5
    assert counters.errors["failed"]["ServerBusyError: busy"] == 1
    assert counters.errors["unknown"]["ConnectionLostError: lost"] == 2


def test_a_refusal_after_an_attempt_that_may_have_stored_is_still_unknown() -> None:
    counters = Counters()  # the report's flag wins over the last error's class
    counters.on_failed(_failed([b"x"], ServerBusyError("busy"), maybe=True))
    assert (counters.failed, counters.unknown) == (0, 1)


def test_failed_out_gets_each_line_not_published_with_its_number_and_verdict() -> None:
    out = io.BytesIO()
    counters = Counters(failed_out=FailedOut(out))
    lines = [Line(b"same"), Line(b"same"), Line(b"\xff binary"), Line(b"ok")]
    for number, line in enumerate(lines, start=1):
        counters.track(line, number)
    counters.on_published(PublishSucceededEventArgs([lines[3]], "0"))
    counters.on_failed(_failed([lines[1], lines[0]], ConnectionLostError("lost"), maybe=True))
    counters.on_failed(_failed([lines[2]], ServerBusyError("busy"), maybe=False))
    counters.on_invalid(7, b"not json", "not JSON")
    envelopes = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(e["anyio-eventhubs-failed"], e["line"]) for e in envelopes] == [
        ("unknown", 1),
        ("unknown", 2),
        ("failed", 3),
        ("skipped", 7),
    ]
    assert envelopes[0]["reason"] == "ConnectionLostError: lost"
    assert envelopes[0]["data"] == "same"
    assert "data" not in envelopes[2]
    assert [unwrap(line) for line in out.getvalue().splitlines()] == [
        b"same",
        b"same",
        b"\xff binary",
        b"not json",
    ]
    assert counters.failed_out is not None
    assert counters.failed_out.written == 4
    assert not counters._numbers  # nothing kept once every line has its outcome


@given(st.binary().filter(lambda b: b"\n" not in b))
def test_an_envelope_gives_back_the_line_as_it_was_read(data: bytes) -> None:
    out = io.BytesIO()
    FailedOut(out).write([(1, data)], "failed", "why")
    (line,) = out.getvalue().splitlines()
    assert unwrap(line) == data


def test_jq_compacted_envelopes_are_still_envelopes() -> None:
    assert unwrap(b'{"anyio-eventhubs-failed":"failed","line":1,"data":"x"}') == b"x"
    assert unwrap(b'{"other": 1}') == b'{"other": 1}'
    with pytest.raises(ValueError, match="malformed --failed-out envelope"):
        unwrap(b'{"anyio-eventhubs-failed": "failed", "line": 1}')


def test_counts_have_the_right_grammar() -> None:
    assert plural(1, "event") == "1 event"
    assert plural(0, "event") == "0 events"
    assert plural(1500, "input line") == "1,500 input lines"
