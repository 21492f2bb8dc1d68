"""Bad states are clear errors: a held lock, a foreign or newer journal, a full disk,
a permission error. Nothing half-written is left behind."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from anyio_eventhubs import EventHubsError
from anyio_eventhubs._journal import (
    JournalError,
    JournalLockedError,
    JournalMismatchError,
    JournalStore,
    JournalVersionError,
    JournalWriteError,
)
from anyio_eventhubs._journal import _format as fmt
from anyio_eventhubs._journal._segments import Segment

from .helpers import HUB, NS, crash, numbered, open_store, segments

_ROOT = Path(__file__).resolve().parents[2]


def _child(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        cwd=_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def test_a_journal_held_by_another_process_is_refused(tmp_path: Path) -> None:
    child = _child(
        """
        import sys
        from anyio_eventhubs._journal import JournalStore
        store = JournalStore.open(sys.argv[1], namespace="ns", eventhub_name="hub")
        print("locked", flush=True)
        sys.stdin.read()
        store.close()
        """,
        str(tmp_path),
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == "locked\n"
        with pytest.raises(JournalLockedError, match=f"process {child.pid}") as caught:
            JournalStore.open(tmp_path, namespace="ns", eventhub_name="hub")
        assert isinstance(caught.value, EventHubsError)
        assert caught.value.path == tmp_path
    finally:
        child.communicate("")
    assert child.returncode == 0
    JournalStore.open(tmp_path, namespace="ns", eventhub_name="hub").close()  # released


def test_a_second_store_in_the_same_process_is_refused(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    with pytest.raises(JournalLockedError):
        open_store(tmp_path)
    store.close()


def test_a_journal_of_a_newer_format_version_is_refused(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.append_events(numbered("0", range(3)))
    crash(store)
    (seg,) = segments(tmp_path)
    raw = bytearray(seg.read_bytes())
    raw[8:10] = (fmt.FORMAT_VERSION + 1).to_bytes(2, "little")
    seg.write_bytes(bytes(raw))
    newer = f"format version {fmt.FORMAT_VERSION + 1}; this version of anyio-eventhubs reads"
    with pytest.raises(JournalVersionError, match=newer) as caught:
        open_store(tmp_path)
    assert caught.value.path == seg


@pytest.mark.parametrize(("namespace", "hub"), [("other.ns", HUB), (NS, "other-hub")])
def test_a_journal_of_another_namespace_or_hub_is_refused(
    tmp_path: Path, namespace: str, hub: str
) -> None:
    store = open_store(tmp_path)
    store.append_events(numbered("0", range(3)))
    crash(store)
    with pytest.raises(JournalMismatchError, match="holds events for Event Hub 'hub'"):
        JournalStore.open(tmp_path, namespace=namespace, eventhub_name=hub)
    open_store(tmp_path).close()  # refusing it changed nothing


def test_a_full_disk_refuses_the_events_and_leaves_no_partial_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, written_segments: None
) -> None:
    store = open_store(tmp_path)
    store.append_events(numbered("0", range(3)))
    real_write = os.write

    def half_then_full(fd: int, data: bytes) -> int:
        if len(data) > 64:
            return real_write(fd, bytes(data)[: len(data) // 2])  # a short write...
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # ...then the disk is full

    monkeypatch.setattr(os, "write", half_then_full)
    with pytest.raises(JournalWriteError, match="the disk is full; 5 events not written") as e:
        store.append_events(numbered("0", range(3, 8)))
    assert e.value.errno == errno.ENOSPC
    monkeypatch.undo()
    store.append_events(numbered("0", range(3, 5)))  # space again: the store carries on
    crash(store)
    store = open_store(tmp_path)
    assert store.torn_tails == []
    assert [e.seq for e in store.recover()] == [0, 1, 2, 3, 4]
    store.close()


def test_a_full_disk_at_a_reservation_refuses_the_events_and_copies_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mapped_segments: None
) -> None:
    store, active, reserved = _three_events_and_space_reserved(tmp_path)
    monkeypatch.setattr(
        os, "posix_fallocate", lambda *a: _raise(OSError(errno.ENOSPC, "No space left"))
    )
    # a record larger than what is left of the reserved space needs more
    big = numbered("0", range(3, 8), size=reserved)
    with pytest.raises(JournalWriteError, match="the disk is full; 5 events not written") as e:
        store.append_events(big)
    assert e.value.errno == errno.ENOSPC
    assert os.stat(active.path).st_size == reserved
    store.append_events(numbered("0", range(3, 5)))  # what fits still goes in
    monkeypatch.undo()
    store.append_events(numbered("0", range(5, 8), size=reserved))  # space again
    crash(store)
    store = open_store(tmp_path)
    assert store.torn_tails == []
    assert [e.seq for e in store.recover()] == list(range(8))
    store.close()


def _raise(exc: BaseException) -> None:
    raise exc


def _three_events_and_space_reserved(path: Path) -> tuple[JournalStore, Segment, int]:
    """A mapped store with three events, and the size of its active segment's file."""
    store = open_store(path)
    store.append_events(numbered("0", range(3)))
    active = store._writer.active
    assert active is not None
    reserved = os.stat(active.path).st_size
    assert reserved > active.size  # space reserved ahead of the records
    return store, active, reserved


def test_the_file_size_limit_is_a_clear_error_and_the_journal_stays_sound(
    tmp_path: Path,
) -> None:
    # a real short write: RLIMIT_FSIZE in a child, which ignores SIGXFSZ to get EFBIG
    child = _child(
        """
        import resource, signal, sys
        sys.path.insert(0, ".")
        from tests.journal.helpers import numbered, open_store
        from anyio_eventhubs._journal import JournalWriteError
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        store = open_store(__import__("pathlib").Path(sys.argv[1]))
        resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))
        seq = 0
        try:
            while True:
                store.append_events(numbered("0", range(seq, seq + 7)))
                seq += 7
        except JournalWriteError as exc:
            print(seq, exc.errno, str(exc), flush=True)
        """,
        str(tmp_path),
    )
    out, _ = child.communicate()
    accepted, code, message = out.split(" ", 2)
    assert int(code) == errno.EFBIG
    assert "the file size limit was reached; 7 events not written" in message
    store = open_store(tmp_path)
    assert store.torn_tails == []
    assert [e.seq for e in store.recover()] == list(range(int(accepted)))
    store.close()


def test_a_permission_error_at_a_new_segment_refuses_the_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the tests run as root, which chmod cannot stop: the refusal is simulated
    store = open_store(tmp_path, segment_size=4096)
    real_open = os.open

    def refuse(path: str | os.PathLike[str], flags: int, mode: int = 0o777) -> int:
        if str(path).endswith(".tmp"):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_open(path, flags, mode)

    seq = 0
    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(JournalWriteError, match="permission denied") as caught:
        while True:
            store.append_events(numbered("0", range(seq, seq + 5)))
            seq += 5
    assert caught.value.errno == errno.EACCES
    monkeypatch.undo()
    crash(store)
    store = open_store(tmp_path)
    assert [e.seq for e in store.recover()] == list(range(seq))
    store.close()


def test_a_directory_that_cannot_be_created_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(self: Path, *args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setattr(Path, "mkdir", refuse)
    with pytest.raises(JournalError, match=r"cannot open the journal .*permission denied"):
        open_store(tmp_path / "new")


def test_a_forked_child_closing_its_copy_leaves_the_parents_segment_alone(
    tmp_path: Path, mapped_segments: None
) -> None:
    store, active, reserved = _three_events_and_space_reserved(tmp_path)
    pid = os.fork()
    if pid == 0:  # the child: its copy of the store is closed (or collected) there
        try:
            store._writer.close()
        finally:
            os._exit(0)
    assert os.waitpid(pid, 0)[1] == 0
    assert os.stat(active.path).st_size == reserved  # not cut under the parent's mapping
    store.append_events(numbered("0", range(3, 6)))  # the parent copies on, no SIGBUS
    store.close()
    store = open_store(tmp_path)
    assert [e.seq for e in store.recover()] == list(range(6))
    store.close()
