"""Tools for testing code that publishes to Event Hubs.

- :class:`InMemoryEventHub`: a hub in this process, passed as ``transport=``.
- :mod:`anyio_eventhubs.testing.emulator`: a local Event Hubs speaking AMQP 1.0 on
  127.0.0.1 (install the ``emulator`` extra).
"""

from __future__ import annotations

from ._memory import InMemoryEventHub as InMemoryEventHub

__all__ = ["InMemoryEventHub"]
