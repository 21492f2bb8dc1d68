"""A state machine: appends, outcomes in any order, crashes and recoveries, against a
plain model of which events are still outstanding."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from anyio_eventhubs._journal import JournaledEvent, JournalStore

from .helpers import body_of, crash, open_store, queued

PARTITIONS = ("0", "1", "2")


class JournalMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.path = Path(tempfile.mkdtemp(prefix="journal-machine-"))
        self.store: JournalStore = open_store(self.path, segment_size=4096)
        self.token = 0
        #: per partition, in journal order: (this run's number, token) of each outstanding
        #: event; the number is None for a recovered event not adopted yet
        self.outstanding: dict[str, list[tuple[int | None, int]]] = {p: [] for p in PARTITIONS}
        self.next_seq = dict.fromkeys(PARTITIONS, 0)
        #: recovered events not adopted yet, per partition, in order
        self.pending: dict[str, list[JournaledEvent]] = {p: [] for p in PARTITIONS}

    def teardown(self) -> None:
        self.store.close()
        shutil.rmtree(self.path, ignore_errors=True)

    @rule(pid=st.sampled_from(PARTITIONS), count=st.integers(1, 12), one=st.booleans())
    def append(self, pid: str, count: int, one: bool) -> None:
        events = []
        for _ in range(count):
            seq = self.next_seq[pid]
            self.next_seq[pid] += 1
            self.token += 1
            events.append((pid, queued(f"t{self.token}:".encode().ljust(90, b"."), seq), None))
            self.outstanding[pid].append((seq, self.token))
        if one and count == 1:
            self.store.append_event(pid, events[0][1])
        else:
            self.store.append_events(events)

    def _numbered(self, pid: str) -> list[int]:
        return [i for i, (seq, _) in enumerate(self.outstanding[pid]) if seq is not None]

    @precondition(lambda self: any(self._numbered(p) for p in PARTITIONS))
    @rule(data=st.data())
    def outcome(self, data: st.DataObject) -> None:
        pid = data.draw(st.sampled_from([p for p in PARTITIONS if self._numbered(p)]))
        events = self.outstanding[pid]
        start = data.draw(st.sampled_from(self._numbered(pid)))
        first = events[start][0]
        assert first is not None
        end = start + 1  # a batch: consecutive numbers, all outstanding
        while end < len(events) and events[end][0] == first + end - start:
            end += 1
        end = data.draw(st.integers(start + 1, end))
        self.store.append_outcome(pid, first, first + end - start)
        del events[start:end]

    @precondition(lambda self: any(self.pending.values()))
    @rule(data=st.data())
    def adopt_more(self, data: st.DataObject) -> None:
        """Adopt some recovered events later, after newer ones were appended."""
        pid = data.draw(st.sampled_from([p for p in PARTITIONS if self.pending[p]]))
        count = data.draw(st.integers(1, len(self.pending[pid])))
        for event in self.pending[pid][:count]:
            self._adopt(event)
        del self.pending[pid][:count]

    def _adopt(self, event: JournaledEvent) -> None:
        pid = event.partition_id
        seq = self.next_seq[pid]
        self.next_seq[pid] += 1
        self.store.adopt(pid, seq, event)
        token = int(body_of(event.encoded).split(b":")[0][1:])
        events = self.outstanding[pid]
        index = events.index((None, token))
        events[index] = (seq, token)

    @rule(adopt_now=st.sampled_from([0, 1, 3, 1000]))
    def crash_and_recover(self, adopt_now: int) -> None:
        crash(self.store)
        self.store = open_store(self.path, segment_size=4096)
        assert self.store.torn_tails == []
        recovered: dict[str, list[JournaledEvent]] = {p: [] for p in PARTITIONS}
        for event in self.store.recover():
            recovered[event.partition_id].append(event)
        self.next_seq = dict.fromkeys(PARTITIONS, 0)
        for pid in PARTITIONS:
            tokens = [int(body_of(e.encoded).split(b":")[0][1:]) for e in recovered[pid]]
            assert tokens == [token for _, token in self.outstanding[pid]]
            self.outstanding[pid] = [(None, token) for token in tokens]
            for event in recovered[pid][:adopt_now]:  # the rest later, or never
                self._adopt(event)
            self.pending[pid] = recovered[pid][adopt_now:]

    @precondition(lambda self: not any(self.outstanding.values()))
    @rule()
    def close_and_reopen(self) -> None:
        self.pending = {p: [] for p in PARTITIONS}
        self.store.close()
        assert not list(self.path.glob("*.seg"))
        self.store = open_store(self.path, segment_size=4096)
        self.next_seq = dict.fromkeys(PARTITIONS, 0)

    @invariant()
    def only_segments_with_outstanding_events_are_kept(self) -> None:
        store = self.store
        active = store._writer.active
        files = sorted(self.path.glob("*.seg"))
        assert files == sorted(s.path for s in store._segments)
        for segment in store._segments:
            if segment is not active:
                assert not segment.resolved(store._outcomes.resolved), segment
        assert store.empty == (not any(self.outstanding.values()))


TestJournalMachine = JournalMachine.TestCase
TestJournalMachine.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
