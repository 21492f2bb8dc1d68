"""Tools for testing code that publishes to Event Hubs.

- :class:`InMemoryEventHub`: a hub in this process, passed as ``transport=``.
- :mod:`anyio_eventhubs.testing.emulator`: a local Event Hubs speaking AMQP 1.0 on
  127.0.0.1 (install the ``emulator`` extra).
- :mod:`anyio_eventhubs.testing.strategies`: Hypothesis strategies for events, bodies,
  partition keys and retry options (needs ``hypothesis``).
- :mod:`anyio_eventhubs.testing.stateful`: ``StreamingProducerStateMachine``, a
  Hypothesis state machine that drives a real producer and checks that every accepted
  event gets exactly one outcome, in order (needs ``hypothesis``).

None of these submodules is imported by ``import anyio_eventhubs.testing``.
"""

from __future__ import annotations

from ._memory import InMemoryEventHub as InMemoryEventHub

__all__ = ["InMemoryEventHub"]
