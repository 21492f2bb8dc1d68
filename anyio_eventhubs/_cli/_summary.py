"""What ``send`` tells the user at the end: three outcomes, the errors, where to resume."""

from __future__ import annotations

import signal
from collections import Counter

from ._outcomes import plural
from ._publish import Outcome

__all__ = ["summary"]

#: distinct errors listed per outcome
_SHOWN_ERRORS = 5


def _errors(errors: Counter[str]) -> list[str]:
    return [f"  {count:,} x {error}" for error, count in errors.most_common(_SHOWN_ERRORS)]


def summary(outcome: Outcome) -> list[str]:
    """The summary lines, for standard output."""
    c, position = outcome.counters, outcome.position
    failed_out = c.failed_out
    if outcome.interrupted_by is not None and not outcome.connected:
        name = signal.Signals(outcome.interrupted_by).name
        return [f"interrupted ({name}) while connecting: nothing was sent"]
    if outcome.interrupted_by is not None:
        name = signal.Signals(outcome.interrupted_by).name
        lines = [
            f"interrupted ({name}) after input line {position.lines:,}: "
            f"{c.published:,} published, {c.failed:,} failed, {c.unknown:,} outcome unknown"
        ]
    else:
        rate = c.published / outcome.elapsed if outcome.elapsed > 0 else 0.0
        lines = [
            f"published {c.published:,} of {plural(c.queued + outcome.recovered, 'event')} in "
            f"{outcome.elapsed:.2f} s ({rate:,.0f} events/s)"
        ]
    if c.failed:
        lines.append(f"{plural(c.failed, 'event')} failed (not stored):")
        lines.extend(_errors(c.errors["failed"]))
    if c.unknown:
        lines.append(
            f"{plural(c.unknown, 'event')} of unknown outcome (may have been stored; "
            "sending again may store twice):"
        )
        lines.extend(_errors(c.errors["unknown"]))
    if c.invalid:
        lines.append(f"{plural(c.invalid, 'input line')} skipped (not valid events)")
    if outcome.recovered:
        lines.append(
            f"{plural(outcome.recovered, 'event')} of an earlier run recovered from the "
            f"journal {outcome.journal} (counted above)"
        )
    if failed_out is not None and failed_out.written:
        lines.append(
            f"{plural(failed_out.written, 'line')} not published written to {failed_out.name} "
            "(send that file to publish them again)"
        )
    elif failed_out is None and (c.not_published or c.invalid):
        lines.append("(--failed-out FILE keeps the lines that were not published)")
    if outcome.interrupted_by is not None and outcome.journal is not None:
        lines.append(
            f"to resume, run the same command: the journal {outcome.journal} keeps the "
            f"position (line {position.lines}) for a FILE; for standard input, add --skip "
            f"{position.lines}"
        )
    elif outcome.interrupted_by is not None:
        lines.append(f"to resume, run the same command with --skip {position.lines}")
    return lines
