"""The real command, in a pseudo-terminal and through pipes, against the emulator."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
from pathlib import Path

import pytest
from azure.eventhub import EventData, EventHubProducerClient

from anyio_eventhubs.testing.emulator import EventHubsEmulator

from .conftest import CLI
from .terminal import Terminal

_LINES = 3000


def _events_file(tmp_path: Path) -> Path:
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps({"n": n, "pad": "x" * 40}) + "\n" for n in range(_LINES)))
    return path


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_ctrl_c_in_a_terminal_then_skip_resumes_without_storing_a_line_twice(
    emulator: EventHubsEmulator, tmp_path: Path, backend: str
) -> None:
    path = _events_file(tmp_path)
    # batches of about 30 lines (bytes fill a batch to the message size whatever
    # --max-queued-events says), each acknowledged slowly: slow enough to be interrupted
    emulator.add_hub("small", 4, max_message_size=2048)
    emulator.faults.delay_acks(0.2)
    command = [
        *CLI,
        "send",
        str(path),
        "--connection-string",
        emulator.connection_string("small"),
        "--max-queued-events",
        "20",
        "--backend",
        backend,
    ]
    terminal = Terminal(command)
    try:
        terminal.read_until(r"connecting to 127\.0\.0\.1:\d+/small")
        terminal.read_until(r"line [\d,]+ \(\d+% of [\d.]+ kB\) · published [1-9]")
        terminal.read_until(r"/s · ETA \d+:\d\d")
        terminal.press_ctrl_c()
        status = terminal.wait()
    finally:
        terminal.close()
    text = terminal.text
    assert status == 130, text
    assert "interrupted: stopped reading; publishing the " in text
    skip = int(terminal.read_until(r"run the same command with --skip (\d+)").group(1))
    assert 0 < skip < _LINES
    assert (
        f"interrupted (SIGINT) after input line {skip:,}: {skip:,} published, 0 failed, "
        "0 outcome unknown" in text
    )

    emulator.faults.delay_acks(0)
    resumed = subprocess.run(
        [*command, "--skip", str(skip)], capture_output=True, text=True, timeout=60
    )
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.startswith(f"published {_LINES - skip:,} of {_LINES - skip:,} events")
    assert "sending: connecting to 127.0.0.1:" in resumed.stderr  # plain lines in a pipe
    assert re.search(r"sending: line 3,000 \(100% of [\d.]+ kB\)", resumed.stderr)
    stored = sorted(json.loads(e.body)["n"] for e in emulator.all_events("small"))
    assert stored == list(range(_LINES))  # each line once


@pytest.mark.parametrize(
    ("backend", "signum", "status"),
    [("asyncio", signal.SIGINT, 130), ("trio", signal.SIGTERM, 143)],
)
def test_signals_sent_together_count_once_and_sigterm_exits_143(
    emulator: EventHubsEmulator, backend: str, signum: signal.Signals, status: int
) -> None:
    emulator.faults.delay_acks(1.0)  # the events are in flight when the signals come
    process = subprocess.Popen(
        [
            *CLI,
            "send",
            "--connection-string",
            emulator.connection_string("eh1"),
            "--max-wait-time",
            "0",
            "--backend",
            backend,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stdin is not None
        process.stdin.write(b"one\ntwo\nthree\n")
        process.stdin.flush()  # and stdin stays open: send is still reading
        assert emulator.wait_for_events("eh1", 3, timeout=30)
        process.send_signal(signum)
        process.send_signal(signum)  # the same press, passed on by a wrapper (timeout)
        process.wait(timeout=30)  # with standard input still open
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)
    assert process.returncode == status, err
    assert out.decode() == (
        f"interrupted ({signum.name}) after input line 3: 3 published, 0 failed, "
        "0 outcome unknown\nto resume, run the same command with --skip 3\n"
    )
    assert b"dropping" not in err


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_silent_server_shows_where_it_connects_and_gives_up_at_open_timeout(
    emulator: EventHubsEmulator, backend: str
) -> None:
    emulator.faults.hang_new_connections()
    result = subprocess.run(
        [
            *CLI,
            "send",
            "--connection-string",
            emulator.connection_string("eh1"),
            "--open-timeout",
            "1",
            "--backend",
            backend,
        ],
        input="a\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.startswith(f"sending: connecting to 127.0.0.1:{emulator.port}/eh1 ...")
    assert "nothing was sent; --open-timeout sets how long to wait" in result.stderr


def test_read_follows_from_the_latest_event_until_ctrl_c(emulator: EventHubsEmulator) -> None:
    connection = emulator.connection_string("eh1")
    with EventHubProducerClient.from_connection_string(connection) as producer:
        producer.send_event(EventData("old"), partition_id="0")
        process = subprocess.Popen(
            [*CLI, "read", "--connection-string", connection, "--from", "latest", "--follow"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        printed: list[str] = []
        first = threading.Event()

        def collect() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                printed.append(line)
                first.set()

        reader = threading.Thread(target=collect)
        reader.start()
        try:
            # "latest" starts when the receiver attaches: send until one comes through
            for n in range(60):
                producer.send_event(EventData(f"new {n}"), partition_id=str(n % 4))
                if first.wait(0.5):
                    break
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=30) == 130
        finally:
            if process.poll() is None:
                process.kill()
            reader.join(timeout=10)
            _, err = process.communicate(timeout=10)
    bodies = [json.loads(line)["body"] for line in printed]
    assert bodies
    assert all(body.startswith("new ") for body in bodies)  # never the event from before
    assert "reading 127.0.0.1:" in err
    assert os.linesep not in "".join(bodies)
