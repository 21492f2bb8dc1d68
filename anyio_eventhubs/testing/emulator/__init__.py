"""A local Azure Event Hubs emulator speaking AMQP 1.0, for tests and benchmarks.

The official ``azure-eventhub`` clients (sync and ``aio``, producers and consumers)
connect to it over a real socket with :meth:`EventHubsEmulator.connection_string`::

    from anyio_eventhubs.testing.emulator import EventHubsEmulator

    with EventHubsEmulator({"eh1": 4}) as emulator:
        producer = EventHubProducerClient.from_connection_string(
            emulator.connection_string("eh1")
        )
        ...
        events = emulator.published_events("eh1", "0")

It serves SASL, ``$cbs`` put-token (checking SAS tokens against its key),
``$management`` READ, sends to a hub or a partition (single messages and batches,
routed like the service), idempotent producers (producer ids, per-partition sequence
checks, a retried batch stored once), consumer receivers with selector filters, owner
levels and the runtime metric, faults armed through :attr:`EventHubsEmulator.faults`,
partitions added at runtime (:meth:`EventHubsEmulator.add_partitions`), and the
service's rules for long-lived connections: tokens that expire, idle connections and
links (timings shortened by options; ``docs/service-lifetime.md``). Needs
``python-qpid-proton`` (the ``emulator`` extra). Run it as a process with
``python -m anyio_eventhubs.testing.emulator``.
"""

from __future__ import annotations

from ._blackhole import black_hole_listener as black_hole_listener
from ._cbs import JWT as JWT
from ._cbs import SAS_TOKEN as SAS_TOKEN
from ._cbs import check_sas_token as check_sas_token
from ._connection import ConnectionInfo as ConnectionInfo
from ._emulator import EventHubsEmulator as EventHubsEmulator
from ._faults import DETACH_FORCED as DETACH_FORCED
from ._faults import INTERNAL_ERROR as INTERNAL_ERROR
from ._faults import MESSAGE_SIZE_EXCEEDED as MESSAGE_SIZE_EXCEEDED
from ._faults import NOT_FOUND as NOT_FOUND
from ._faults import SERVER_BUSY as SERVER_BUSY
from ._faults import THROTTLED as THROTTLED
from ._faults import FaultInjector as FaultInjector
from ._faults import TransferFault as TransferFault
from ._hubs import StoredEvent as StoredEvent
from ._idempotent import IDEMPOTENT_PRODUCER as IDEMPOTENT_PRODUCER
from ._idempotent import OUT_OF_ORDER_SEQUENCE as OUT_OF_ORDER_SEQUENCE
from ._idempotent import PRODUCER_EPOCH as PRODUCER_EPOCH
from ._idempotent import PRODUCER_EPOCH_STOLEN as PRODUCER_EPOCH_STOLEN
from ._idempotent import PRODUCER_ID as PRODUCER_ID
from ._idempotent import PRODUCER_SEQUENCE_NUMBER as PRODUCER_SEQUENCE_NUMBER
from ._lifetime import SERVICE_RULES as SERVICE_RULES
from ._lifetime import ServiceRules as ServiceRules

__all__ = [
    "DETACH_FORCED",
    "IDEMPOTENT_PRODUCER",
    "INTERNAL_ERROR",
    "JWT",
    "MESSAGE_SIZE_EXCEEDED",
    "NOT_FOUND",
    "OUT_OF_ORDER_SEQUENCE",
    "PRODUCER_EPOCH",
    "PRODUCER_EPOCH_STOLEN",
    "PRODUCER_ID",
    "PRODUCER_SEQUENCE_NUMBER",
    "SAS_TOKEN",
    "SERVER_BUSY",
    "SERVICE_RULES",
    "THROTTLED",
    "ConnectionInfo",
    "EventHubsEmulator",
    "FaultInjector",
    "ServiceRules",
    "StoredEvent",
    "TransferFault",
    "black_hole_listener",
    "check_sas_token",
]
