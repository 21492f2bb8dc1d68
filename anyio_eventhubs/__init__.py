"""A streaming producer for Azure Event Hubs, for asyncio and Trio through AnyIO.

Queue single events; the producer batches them per partition and publishes them in the
background, when a batch is full or ``max_wait_time`` has passed::

    async with open_streaming_producer(conn_str, "hub") as producer:
        await producer.queue_for_send(b"reading", partition_key="device-7")
"""

from __future__ import annotations

from azure.eventhub import EventData as EventData

from ._events import PublishFailedEventArgs as PublishFailedEventArgs
from ._events import PublishSucceededEventArgs as PublishSucceededEventArgs
from ._exceptions import AuthenticationError as AuthenticationError
from ._exceptions import ConnectError as ConnectError
from ._exceptions import ConnectionLostError as ConnectionLostError
from ._exceptions import EventClearedError as EventClearedError
from ._exceptions import EventHubsError as EventHubsError
from ._exceptions import EventTooLargeError as EventTooLargeError
from ._exceptions import InternalServerError as InternalServerError
from ._exceptions import JournalCorruptError as JournalCorruptError
from ._exceptions import JournalError as JournalError
from ._exceptions import JournalLockedError as JournalLockedError
from ._exceptions import JournalMismatchError as JournalMismatchError
from ._exceptions import JournalVersionError as JournalVersionError
from ._exceptions import JournalWriteError as JournalWriteError
from ._exceptions import MessageTooLargeError as MessageTooLargeError
from ._exceptions import NotFoundError as NotFoundError
from ._exceptions import OperationTimeoutError as OperationTimeoutError
from ._exceptions import ProducerClosedError as ProducerClosedError
from ._exceptions import PublishError as PublishError
from ._exceptions import ServerBusyError as ServerBusyError
from ._exceptions import ThrottledError as ThrottledError
from ._exceptions import TransportError as TransportError
from ._journal_options import JournalOptions as JournalOptions
from ._many import QueueManyProgress as QueueManyProgress
from ._open import open_streaming_producer as open_streaming_producer
from ._partitioning import partition_for_key as partition_for_key
from ._producer import StreamingProducer as StreamingProducer
from ._retry import RetryOptions as RetryOptions
from ._statistics import PartitionStatistics as PartitionStatistics
from ._statistics import ProducerStatistics as ProducerStatistics

__version__ = "0.1.0.dev0"

__all__ = [
    "AuthenticationError",
    "ConnectError",
    "ConnectionLostError",
    "EventClearedError",
    "EventData",
    "EventHubsError",
    "EventTooLargeError",
    "InternalServerError",
    "JournalCorruptError",
    "JournalError",
    "JournalLockedError",
    "JournalMismatchError",
    "JournalOptions",
    "JournalVersionError",
    "JournalWriteError",
    "MessageTooLargeError",
    "NotFoundError",
    "OperationTimeoutError",
    "PartitionStatistics",
    "ProducerClosedError",
    "ProducerStatistics",
    "PublishError",
    "PublishFailedEventArgs",
    "PublishSucceededEventArgs",
    "QueueManyProgress",
    "RetryOptions",
    "ServerBusyError",
    "StreamingProducer",
    "ThrottledError",
    "TransportError",
    "open_streaming_producer",
    "partition_for_key",
]
