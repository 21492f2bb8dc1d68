"""The emulator's half, without a client: producer ids, sequence checks, attach frames."""

from __future__ import annotations

import struct

import pytest

from anyio_eventhubs._azure._stamp import stamp, stamp_entries
from anyio_eventhubs._events import encode_event
from anyio_eventhubs.testing.emulator import (
    IDEMPOTENT_PRODUCER,
    OUT_OF_ORDER_SEQUENCE,
    PRODUCER_EPOCH,
    PRODUCER_EPOCH_STOLEN,
    PRODUCER_ID,
    PRODUCER_SEQUENCE_NUMBER,
)
from anyio_eventhubs.testing.emulator._codec import Described, Symbol, encode_value
from anyio_eventhubs.testing.emulator._idempotent import (
    RECENT_BATCHES,
    AttachRefused,
    AttachSniffer,
    ProducerRegistry,
    producer_stamp,
)


def _events(producer_id: int, epoch: int, first: int, count: int) -> list[bytes]:
    return [
        stamp(encode_event(b"e", None), stamp_entries(producer_id, epoch, first + i))
        for i in range(count)
    ]


def test_a_new_producer_gets_an_id_and_reports_sequence_number_zero() -> None:
    # azure-eventhub 5.4.0b1's live test: a new producer's first event is numbered with
    # the reply's number, 0; .NET requires a number in the reply
    registry = ProducerRegistry()
    first, last = registry.attach("hub", "0", {})
    second, _ = registry.attach("hub", "0", {})
    assert (first.epoch, last) == (0, 0)
    assert first.producer_id != second.producer_id


def test_transfers_are_stored_in_sequence_and_retries_accepted_once() -> None:
    registry = ProducerRegistry()
    link, _ = registry.attach("hub", "0", {})
    pid = link.producer_id
    verdict = registry.check(link, _events(pid, 0, 0, 3))
    assert (verdict.action, verdict.last) == ("store", 2)
    registry.stored(link, verdict.last)
    assert registry.check(link, _events(pid, 0, 0, 3)).action == "duplicate"
    assert registry.check(link, _events(pid, 0, 3, 2)).action == "store"
    gap = registry.check(link, _events(pid, 0, 4, 1))
    assert (gap.action, gap.condition) == ("reject", OUT_OF_ORDER_SEQUENCE)
    assert "3 was expected" in gap.description
    overlap = registry.check(link, _events(pid, 0, 2, 2))  # half stored, half new
    assert overlap.condition == OUT_OF_ORDER_SEQUENCE


def test_a_batch_must_be_numbered_consecutively_by_its_producer() -> None:
    registry = ProducerRegistry()
    link, _ = registry.attach("hub", "0", {})
    events = _events(link.producer_id, 0, 0, 3)
    skipping = [events[0], events[2]]
    assert registry.check(link, skipping).condition == OUT_OF_ORDER_SEQUENCE
    foreign = _events(link.producer_id + 1, 0, 0, 1)
    assert registry.check(link, foreign).condition == "com.microsoft:argument-error"
    unstamped = [encode_event(b"plain", None)]
    assert registry.check(link, unstamped).condition == "com.microsoft:argument-error"


def test_sequence_numbers_wrap_around() -> None:
    registry = ProducerRegistry()
    link, _ = registry.attach("hub", "0", {PRODUCER_SEQUENCE_NUMBER: 2**31 - 2})
    events = [
        stamp(encode_event(b"e", None), stamp_entries(link.producer_id, 0, s))
        for s in (2**31 - 1, 0, 1)
    ]
    verdict = registry.check(link, events)
    assert (verdict.action, verdict.last) == ("store", 1)
    registry.stored(link, verdict.last)
    assert registry.check(link, events).action == "duplicate"


def test_re_attaching_with_the_producer_id_keeps_its_sequence() -> None:
    registry = ProducerRegistry()
    link, _ = registry.attach("hub", "1", {})
    registry.stored(link, 41)
    again, last = registry.attach(
        "hub",
        "1",
        {PRODUCER_ID: link.producer_id, PRODUCER_EPOCH: 0, PRODUCER_SEQUENCE_NUMBER: None},
    )
    assert (again, last) == (link, 41)
    _, last = registry.attach("hub", "0", {PRODUCER_ID: link.producer_id})
    assert last == 0  # nothing stored by this producer on partition 0


def test_a_higher_epoch_steals_the_producer() -> None:
    registry = ProducerRegistry()
    old, _ = registry.attach("hub", "0", {})
    new, _ = registry.attach("hub", "0", {PRODUCER_ID: old.producer_id, PRODUCER_EPOCH: 1})
    assert new.epoch == 1
    stolen = registry.check(old, _events(old.producer_id, 0, 0, 1))
    assert stolen.condition == PRODUCER_EPOCH_STOLEN
    with pytest.raises(AttachRefused) as refused:
        registry.attach("hub", "0", {PRODUCER_ID: old.producer_id, PRODUCER_EPOCH: 0})
    assert refused.value.condition == PRODUCER_EPOCH_STOLEN


def _claim(producer_id: int, epoch: int | None, sequence: int | None) -> dict[str, object]:
    return {PRODUCER_ID: producer_id, PRODUCER_EPOCH: epoch, PRODUCER_SEQUENCE_NUMBER: sequence}


def test_a_stale_claim_is_echoed_but_not_adopted() -> None:
    # the .NET, JavaScript and azure-eventhub 5.4.0b1 live tests: a lower number claimed on
    # re-attach at the same epoch is attached, and the next batch after it is refused
    registry = ProducerRegistry()
    link, _ = registry.attach("hub", "0", {})
    pid = link.producer_id
    for first, count in ((1, 5), (6, 3)):
        verdict = registry.check(link, _events(pid, 0, first, count))
        registry.stored(link, verdict.last)
    again, reported = registry.attach("hub", "0", _claim(pid, 0, 5))
    assert (again, reported) == (link, 5)  # echoed
    continuing = registry.check(again, _events(pid, 0, 6, 1))  # after the claim, not a re-send
    assert (continuing.action, continuing.condition) == ("reject", OUT_OF_ORDER_SEQUENCE)
    assert "9 was expected" in continuing.description
    assert registry.check(again, _events(pid, 0, 6, 3)).action == "duplicate"  # a re-send
    assert registry.check(again, _events(pid, 0, 9, 1)).action == "store"  # the record's next
    _, reported = registry.attach("hub", "0", _claim(pid, 0, None))
    assert reported == 8  # without a claim: the service's own number


def test_a_claim_ahead_of_the_record_is_echoed_and_its_gap_refused() -> None:
    registry = ProducerRegistry()
    link, _ = registry.attach("hub", "0", {})
    registry.stored(link, registry.check(link, _events(link.producer_id, 0, 1, 2)).last)
    _, reported = registry.attach("hub", "0", _claim(link.producer_id, 0, 10))
    assert reported == 10
    gap = registry.check(link, _events(link.producer_id, 0, 11, 1))
    assert (gap.condition, "3 was expected" in gap.description) == (OUT_OF_ORDER_SEQUENCE, True)


def test_only_an_exact_re_send_of_a_recent_batch_is_a_duplicate() -> None:
    registry = ProducerRegistry()
    link, _ = registry.attach("hub", "0", {})
    pid = link.producer_id
    for n in range(RECENT_BATCHES + 1):  # batches of two: 1-2, 3-4, ...
        registry.stored(link, registry.check(link, _events(pid, 0, 1 + 2 * n, 2)).last)
    assert registry.check(link, _events(pid, 0, 3, 2)).action == "duplicate"  # 5th latest
    oldest = registry.check(link, _events(pid, 0, 1, 2))  # 6th latest: forgotten
    assert oldest.condition == OUT_OF_ORDER_SEQUENCE
    part = registry.check(link, _events(pid, 0, 4, 1))  # half of a stored batch
    assert part.condition == OUT_OF_ORDER_SEQUENCE


def test_a_new_producer_or_epoch_may_start_at_the_reported_number_or_the_next() -> None:
    # azure-eventhub 5.4.0b1 numbers its first event with the reported number, .NET and
    # JavaScript with the one after it; the service took both
    for first in (0, 1):
        registry = ProducerRegistry()
        link, reported = registry.attach("hub", "0", {})
        assert (reported, registry.check(link, _events(link.producer_id, 0, first, 1)).action) == (
            0,
            "store",
        )
    registry = ProducerRegistry()
    link, _ = registry.attach("hub", "0", {})
    assert registry.check(link, _events(link.producer_id, 0, 2, 1)).condition == (
        OUT_OF_ORDER_SEQUENCE
    )
    registry.stored(link, registry.check(link, _events(link.producer_id, 0, 1, 3)).last)
    # a higher epoch starts a fresh sequence, at its claim if it makes one
    bumped, reported = registry.attach("hub", "0", _claim(link.producer_id, 1, None))
    assert (bumped.epoch, reported) == (1, 0)
    assert registry.check(bumped, _events(link.producer_id, 1, 0, 2)).action == "store"
    claimed, reported = registry.attach("hub", "0", _claim(link.producer_id, 2, 40))
    assert (claimed.epoch, reported) == (2, 40)
    assert registry.check(claimed, _events(link.producer_id, 2, 41, 1)).action == "store"


def test_attaches_the_service_refuses() -> None:
    registry = ProducerRegistry()
    link, _ = registry.attach("hub", "0", {PRODUCER_EPOCH: 1})  # partial: the id is assigned
    assert link.epoch == 1
    with pytest.raises(AttachRefused) as unassigned:  # azure-eventhub 5.4.0b1's live test
        registry.attach("hub", "0", _claim(link.producer_id + 100, 100, 100))
    assert unassigned.value.condition == "amqp:not-allowed"
    with pytest.raises(AttachRefused) as elsewhere:  # assigned on another event hub
        registry.attach("other", "0", _claim(link.producer_id, 1, None))
    assert elsewhere.value.condition == "amqp:not-allowed"
    with pytest.raises(AttachRefused) as negative:  # the JavaScript live test: owner level -1
        registry.attach("hub", "0", {PRODUCER_EPOCH: -1})
    assert negative.value.condition == "com.microsoft:argument-out-of-range"
    with pytest.raises(AttachRefused) as lower:
        registry.attach("hub", "0", _claim(link.producer_id, 0, None))
    assert lower.value.condition == PRODUCER_EPOCH_STOLEN


def test_rewinding_makes_the_next_transfer_out_of_order() -> None:
    registry = ProducerRegistry()
    link, _ = registry.attach("hub", "0", {})
    registry.stored(link, 4)
    registry.rewind(link, 2)
    assert registry.check(link, _events(link.producer_id, 0, 5, 1)).action == "reject"
    assert registry.snapshot() == {("hub", "0", link.producer_id): (0, 2)}


def test_producer_stamp_reads_only_the_annotations() -> None:
    assert producer_stamp(encode_event(b"plain", "key")) == (None, None, None)
    assert producer_stamp(_events(7, 2, 9, 1)[0]) == (7, 2, 9)


def _attach_frame(name: str, role: bool, capabilities: object, properties: object) -> bytes:
    fields = [name, 0, role, None, None, None, None, None, None, None, None, None]
    fields += [capabilities, properties]
    body = b"\x00\x53\x12" + encode_value(fields)
    return struct.pack(">I", 8 + len(body)) + b"\x02\x00\x00\x00" + body


def test_the_sniffer_reads_attach_frames_cut_anywhere() -> None:
    capabilities = [Symbol(IDEMPOTENT_PRODUCER), Symbol("com.microsoft:georeplication")]
    properties = {Symbol(PRODUCER_ID): 5}
    transfer = b"\x00\x53\x14" + encode_value([0, 0]) + b"z" * 5000
    stream = (
        b"AMQP\x00\x01\x00\x00"
        + struct.pack(">I", 8) + b"\x02\x00\x00\x00"  # a heartbeat
        + _attach_frame("sender", False, capabilities, properties)
        + struct.pack(">I", 8 + len(transfer)) + b"\x02\x00\x00\x00" + transfer
        + _attach_frame("receiver", True, None, None)
        + _attach_frame("single", False, Symbol(IDEMPOTENT_PRODUCER), None)
    )  # fmt: skip
    for step in (1, 7, len(stream)):
        sniffer = AttachSniffer()
        for i in range(0, len(stream), step):
            sniffer.feed(stream[i : i + step])
        assert sniffer.links == {
            "sender": (frozenset(map(str, capabilities)), {PRODUCER_ID: 5}),
            "single": (frozenset({IDEMPOTENT_PRODUCER}), {}),
        }


def test_the_sniffer_ignores_what_is_not_an_attach() -> None:
    sniffer = AttachSniffer()
    not_attach = b"\x00\x53\x10" + encode_value(Described(1, None))  # an open, oddly shaped
    sniffer.feed(b"AMQP\x00\x01\x00\x00" + struct.pack(">I", 8 + len(not_attach)))
    sniffer.feed(b"\x02\x00\x00\x00" + not_attach)
    assert sniffer.links == {}
