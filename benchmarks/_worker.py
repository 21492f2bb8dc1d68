"""One measured run in a fresh process: ``python benchmarks/_worker.py SPEC_JSON``.

Dispatches on ``spec["kind"]`` to a contender (``_contenders``, ``_many``) or an
in-memory workload (``_overhead``), adds the process's peak RSS and CPU time, and prints
one ``RESULT {json}`` line.
A failure exits non-zero with the traceback on stderr.
"""

from __future__ import annotations

import json
import resource
import sys
import time

import _contenders
import _many
import _overhead


def main() -> int:
    spec = json.loads(sys.argv[1])
    kinds = {**_contenders.CONTENDERS, **_many.CONTENDERS, **_overhead.WORKLOADS}
    function = kinds[spec["kind"]]
    started = time.time()
    result = function(spec)
    result["wall_start"] = started
    # ru_maxrss is in KiB on Linux
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["peak_rss"] = usage.ru_maxrss * 1024
    # the whole process's CPU (user + system), setup included
    result["cpu_s"] = usage.ru_utime + usage.ru_stime
    print("RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
