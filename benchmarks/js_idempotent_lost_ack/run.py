"""Microsoft's JavaScript idempotent producer against the emulator, with a lost acknowledgement.

Not part of the test suite (it needs Node and npm). Install the client outside the
repository and point this script at it::

    mkdir /tmp/js && (cd /tmp/js && npm install @azure/event-hubs)
    python benchmarks/js_idempotent_lost_ack/run.py /tmp/js/node_modules

``lost_ack.js`` publishes batch A, then batch B whose acknowledgement the emulator loses
(it stores B and drops the connection), then C. The JavaScript client re-attaches with
its last acknowledged sequence number and retries B. The script prints what was stored
and whether any event was stored twice (see docs/idempotent-publishing.md, "Resuming a
producer group after a restart").
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from anyio_eventhubs.testing.emulator import PRODUCER_SEQUENCE_NUMBER, EventHubsEmulator

SCRIPT = Path(__file__).with_name("lost_ack.js")


def main(node_modules: str) -> int:
    env = {**os.environ, "NODE_PATH": str(Path(node_modules).resolve())}
    with EventHubsEmulator({"eh1": 1}) as emulator:
        child = subprocess.Popen(
            ["node", str(SCRIPT), emulator.connection_string("eh1")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert child.stdin is not None
        assert child.stdout is not None
        print(child.stdout.readline().strip())  # batch A acknowledged
        emulator.faults.lose_next_ack(partition_id="0")
        child.stdin.write("go\n")
        child.stdin.flush()
        for line in child.stdout:
            print(line.strip())
            if '"step":"C"' in line:
                child.stdin.close()
        code = child.wait(timeout=60)
        stored = [
            (e.body.decode(), e.annotations.get(PRODUCER_SEQUENCE_NUMBER))
            for e in emulator.published_events("eh1", "0")
        ]
        print("node exited with", code, "- faults fired:", emulator.faults.fired())
        print("retries recognised as duplicates:", emulator._store.producers.duplicates)
        print("stored (body, producer sequence number):", stored)
    bodies = [body for body, _ in stored]
    twice = len(bodies) != len(set(bodies))
    print("RESULT:", "an event was stored twice" if twice else "every event stored once")
    return 1 if twice or code else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
