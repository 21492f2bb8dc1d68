from __future__ import annotations

import anyio_eventhubs
import anyio_eventhubs.testing

EXPECTED_PUBLIC = {
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
}


def test_public_names_do_not_drift() -> None:
    assert set(anyio_eventhubs.__all__) == EXPECTED_PUBLIC
    for name in anyio_eventhubs.__all__:
        assert hasattr(anyio_eventhubs, name), name


def test_every_public_name_is_exported() -> None:
    public = {
        name
        for name in dir(anyio_eventhubs)
        if not name.startswith("_") and name not in {"testing", "transport", "sync", "annotations"}
    }
    assert public <= set(anyio_eventhubs.__all__)


def test_sync_module_exports() -> None:
    import anyio_eventhubs.sync

    assert set(anyio_eventhubs.sync.__all__) == {"StreamingProducer", "open_streaming_producer"}
    for name in anyio_eventhubs.sync.__all__:
        assert hasattr(anyio_eventhubs.sync, name), name


def test_testing_module_exports() -> None:
    assert "InMemoryEventHub" in anyio_eventhubs.testing.__all__
    for name in anyio_eventhubs.testing.__all__:
        assert hasattr(anyio_eventhubs.testing, name), name


def test_event_data_is_azure_eventhubs_own() -> None:
    import azure.eventhub

    assert anyio_eventhubs.EventData is azure.eventhub.EventData


def test_exception_tree_has_one_root() -> None:
    for name in anyio_eventhubs.__all__:
        obj = getattr(anyio_eventhubs, name)
        if isinstance(obj, type) and issubclass(obj, BaseException):
            assert issubclass(obj, anyio_eventhubs.EventHubsError), name


def test_importing_testing_does_not_import_hypothesis_or_proton() -> None:
    import subprocess
    import sys

    code = (
        "import sys, anyio_eventhubs.testing; "
        "assert 'hypothesis' not in sys.modules; assert 'proton' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
