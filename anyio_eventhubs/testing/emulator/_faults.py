"""Faults a test arms from its own thread and the server applies to the next transfers.

Transfer faults fire in the order they were armed, each for ``count`` transfers that
match its (optional) event hub and partition; a send to the hub itself matches the
partition it is routed to. Transfers on ``$cbs`` and ``$management`` never match.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass

__all__ = [
    "DETACH_FORCED",
    "INTERNAL_ERROR",
    "MESSAGE_SIZE_EXCEEDED",
    "NOT_FOUND",
    "SERVER_BUSY",
    "THROTTLED",
    "FaultInjector",
    "TransferFault",
]

SERVER_BUSY = "com.microsoft:server-busy"
THROTTLED = "amqp:resource-limit-exceeded"
INTERNAL_ERROR = "amqp:internal-error"
DETACH_FORCED = "amqp:link:detach-forced"
MESSAGE_SIZE_EXCEEDED = "amqp:link:message-size-exceeded"
NOT_FOUND = "amqp:not-found"

_DESCRIPTIONS = {
    SERVER_BUSY: "The server is busy. Please try again later. (emulated)",
    THROTTLED: "The request was terminated because the entity is being throttled. (emulated)",
    INTERNAL_ERROR: "The service was unable to process the request. (emulated)",
    DETACH_FORCED: "The link was detached by the emulator. (emulated)",
}


@dataclass(frozen=True)
class TransferFault:
    """What to do to one transfer instead of (or after) storing and accepting it."""

    kind: str
    """``"reject"``, ``"detach"``, ``"drop_connection"``, ``"lose_ack"`` or
    ``"rewind_sequence"``."""
    condition: str | None = None
    description: str | None = None
    amount: int = 0
    """For ``"rewind_sequence"``: how many sequence numbers the service forgets."""


@dataclass
class _Rule:
    fault: TransferFault
    remaining: int
    eventhub_name: str | None
    partition_id: str | None

    def matches(self, eventhub_name: str, partition_id: str | None) -> bool:
        return (self.eventhub_name is None or self.eventhub_name == eventhub_name) and (
            self.partition_id is None or self.partition_id == partition_id
        )


class FaultInjector:
    """Arm faults from any thread; the emulator's server thread consumes them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[_Rule] = []
        self._ack_delay = 0.0
        self._auth_refused = False
        self._hang = False
        self._fired: Counter[str] = Counter()

    def __repr__(self) -> str:
        with self._lock:
            armed = [f"{r.fault.kind}x{r.remaining}" for r in self._rules]
            return (
                f"<FaultInjector armed={armed} ack_delay={self._ack_delay} "
                f"auth_refused={self._auth_refused} fired={dict(self._fired)}>"
            )

    def _arm(
        self, fault: TransferFault, count: int, eventhub_name: str | None, partition_id: str | None
    ) -> None:
        if count < 1:
            raise ValueError(f"count must be at least 1, got {count}")
        with self._lock:
            self._rules.append(_Rule(fault, count, eventhub_name, partition_id))

    def reject_next(
        self,
        count: int = 1,
        *,
        condition: str = SERVER_BUSY,
        description: str | None = None,
        eventhub_name: str | None = None,
        partition_id: str | None = None,
    ) -> None:
        """Reject the next ``count`` transfers (not stored) with an error condition.

        Use :data:`SERVER_BUSY`, :data:`THROTTLED`, :data:`INTERNAL_ERROR` or any
        condition string.
        """
        text = description if description is not None else _DESCRIPTIONS.get(condition, "")
        self._arm(TransferFault("reject", condition, text), count, eventhub_name, partition_id)

    def detach_next(
        self,
        count: int = 1,
        *,
        condition: str = DETACH_FORCED,
        description: str | None = None,
        eventhub_name: str | None = None,
        partition_id: str | None = None,
    ) -> None:
        """Detach the sending link with ``condition`` on its next transfer (not stored)."""
        text = description if description is not None else _DESCRIPTIONS.get(condition, "")
        self._arm(TransferFault("detach", condition, text), count, eventhub_name, partition_id)

    def drop_connection_on_next_transfer(
        self, count: int = 1, *, eventhub_name: str | None = None, partition_id: str | None = None
    ) -> None:
        """Close the TCP connection while a transfer arrives (nothing is stored).

        A transfer of several frames (a batch over 32 KiB) is cut after its first frame;
        a smaller one when it is complete, before it is stored.
        """
        self._arm(TransferFault("drop_connection"), count, eventhub_name, partition_id)

    def lose_next_ack(
        self, count: int = 1, *, eventhub_name: str | None = None, partition_id: str | None = None
    ) -> None:
        """Store the next transfer, then close the connection instead of acknowledging it."""
        self._arm(TransferFault("lose_ack"), count, eventhub_name, partition_id)

    def rewind_producer_sequence(
        self,
        by: int = 1,
        *,
        count: int = 1,
        eventhub_name: str | None = None,
        partition_id: str | None = None,
    ) -> None:
        """Before the next idempotent transfer is judged, forget its producer's last *by*
        sequence numbers, as if the service had lost track of them: the transfer then
        arrives ahead of the sequence the service expects and is rejected with
        ``com.microsoft:out-of-order-sequence``. Transfers of producers that are not
        idempotent are not affected (the fault still fires).
        """
        if by < 1:
            raise ValueError(f"by must be at least 1, got {by}")
        self._arm(TransferFault("rewind_sequence", amount=by), count, eventhub_name, partition_id)

    def delay_acks(self, seconds: float) -> None:
        """Hold every acknowledgement (disposition) for ``seconds``; ``0`` turns it off."""
        if seconds < 0:
            raise ValueError(f"seconds must not be negative, got {seconds}")
        with self._lock:
            self._ack_delay = float(seconds)

    def refuse_auth(self, enabled: bool = True) -> None:
        """Answer every new CBS token (SAS or JWT) with status 401."""
        with self._lock:
            self._auth_refused = enabled

    def hang_new_connections(self, enabled: bool = True) -> None:
        """Accept new TCP connections but never answer them (a black hole)."""
        with self._lock:
            self._hang = enabled

    def clear(self) -> None:
        """Disarm every fault and turn off delays, auth refusal and hanging."""
        with self._lock:
            self._rules.clear()
            self._ack_delay = 0.0
            self._auth_refused = False
            self._hang = False

    def fired(self) -> dict[str, int]:
        """How many times each kind of fault was applied (``"reject"``, ``"auth"``, ...)."""
        with self._lock:
            return dict(self._fired)

    def armed(self) -> int:
        """How many transfer faults are still armed (sum of remaining counts)."""
        with self._lock:
            return sum(r.remaining for r in self._rules)

    # --- server side ----------------------------------------------------------------

    def take(
        self, eventhub_name: str, partition_id: str | None, kinds: tuple[str, ...] | None = None
    ) -> TransferFault | None:
        """Consume the first armed fault that matches this transfer, if any.

        ``partition_id`` is ``None`` while a send to the hub is not routed yet (then only
        faults for any partition match); ``kinds`` restricts which faults may fire.
        """
        if not self._rules:  # racy but safe fast path: arming is never lost, only seen later
            return None
        with self._lock:
            for rule in self._rules:
                if (kinds is None or rule.fault.kind in kinds) and rule.matches(
                    eventhub_name, partition_id
                ):
                    rule.remaining -= 1
                    if not rule.remaining:
                        self._rules.remove(rule)
                    self._fired[rule.fault.kind] += 1
                    return rule.fault
        return None

    @property
    def ack_delay(self) -> float:
        return self._ack_delay

    @property
    def hanging(self) -> bool:
        return self._hang

    def auth_refused(self) -> bool:
        """Whether to refuse a token now (counted as a fired ``"auth"`` fault)."""
        with self._lock:
            if self._auth_refused:
                self._fired["auth"] += 1
            return self._auth_refused
