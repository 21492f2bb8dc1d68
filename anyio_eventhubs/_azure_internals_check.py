"""Checks that azure-eventhub's private internals still behave as ``_azure_internals`` assumes.

:func:`ensure_compatible` runs them once, when the azure transport is first used (not when
anyio_eventhubs is imported). They cover every private name the adapter uses:
:data:`PRIVATE_NAMES` (modules, classes, functions and methods, resolved and checked to be
there) and :data:`INSTANCE_ATTRIBUTES` (attributes of objects the client makes, checked on
probe objects built without I/O); a test keeps both lists complete by reading the
adapter's source, and mutates each name to show the clear error. The sender link's probes
(attach options, and a batch's pre-encoded transfer) are in ``_azure_link_check``.
"""

from __future__ import annotations

import importlib
import inspect

from azure.core.credentials import AzureNamedKeyCredential
from azure.eventhub import EventData, EventDataBatch
from azure.eventhub import __version__ as azure_eventhub_version
from azure.eventhub.aio import EventHubProducerClient

try:
    from azure.eventhub._constants import MGMT_OPERATION as _MGMT_OPERATION
    from azure.eventhub._constants import READ_OPERATION as _READ_OPERATION
    from azure.eventhub._pyamqp.aio._cbs_async import CBSAuthenticator
    from azure.eventhub._pyamqp.aio._connection_async import Connection as AmqpConnectionAsync
    from azure.eventhub._pyamqp.aio._management_operation_async import ManagementOperation
    from azure.eventhub.aio._producer_async import EventHubProducer
except ImportError as exc:  # pragma: no cover - exercised only by a changed client
    _CHECK_IMPORT_ERROR: ImportError | None = exc
else:
    _CHECK_IMPORT_ERROR = None

from . import _azure_internals as internals
from ._azure_amqp import IMPORT_ERROR as _AMQP_IMPORT_ERROR
from ._azure_amqp_link import IMPORT_ERROR as _LINK_IMPORT_ERROR
from ._azure_amqp_token import IMPORT_ERROR as _TOKEN_IMPORT_ERROR
from ._azure_internals import (
    IMPORT_ERROR,
    client_namespace,
    create_partition_producer,
    fill_batch,
)
from ._azure_link_check import IMPORT_ERROR as _LINK_CHECK_IMPORT_ERROR
from ._azure_link_check import check_link_options, check_transfer
from ._azure_private_names import INSTANCE_ATTRIBUTES, PRIVATE_NAMES, VERIFIED_VERSIONS
from ._codec import encode_event_data

__all__ = [
    "INSTANCE_ATTRIBUTES",
    "PRIVATE_NAMES",
    "VERIFIED_VERSIONS",
    "IncompatibleAzureEventHubError",
    "check_internals",
    "ensure_compatible",
]


class IncompatibleAzureEventHubError(RuntimeError):
    """The installed azure-eventhub's internals are not the ones this adapter knows."""


def _verified() -> str:
    versions = ", ".join(VERIFIED_VERSIONS[:-1]) + f" and {VERIFIED_VERSIONS[-1]}"
    return (
        f"anyio-eventhubs was verified with azure-eventhub {versions}; install one of "
        f"those (pip install 'azure-eventhub>={VERIFIED_VERSIONS[0]},<"
        f"{_next_minor(VERIFIED_VERSIONS[-1])}')"
    )


def _next_minor(version: str) -> str:
    major, minor = version.split(".")[:2]
    return f"{major}.{int(minor) + 1}"


def _resolve(module: str, dotted: str) -> object:
    value: object = importlib.import_module(module)
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


def _check_private_names() -> list[str]:
    problems = []
    for module, dotted in PRIVATE_NAMES:
        try:
            found = _resolve(module, dotted)
        except (ImportError, AttributeError):
            found = None
        if found is None or getattr(found, "__isabstractmethod__", False):
            problems.append(f"{module}.{dotted} is gone")
    return problems


def _check_instance_attributes() -> list[str]:
    """Build one of each object without I/O and look for the attributes used on it."""
    client = EventHubProducerClient(
        "probe.servicebus.windows.net", "probe", AzureNamedKeyCredential("probe", "probe")
    )
    producer = create_partition_producer(client, "0")
    producer._create_handler(None)
    batch = EventDataBatch(max_size_in_bytes=64)
    connection = AmqpConnectionAsync("amqps://probe.localhost", sasl_credential=None)
    session = connection.create_session()
    objects = {
        "EventHubProducerClient": client,
        "EventHubProducer": producer,
        "SendClientAsync": producer._handler,
        "Connection": connection,
        "SenderLink": session.create_sender_link("probe"),  # type: ignore[no-untyped-call]
        "CBSAuthenticator": CBSAuthenticator(session=session, auth=None, auth_timeout=1),  # type: ignore[arg-type]
        "ManagementOperation": ManagementOperation(session),  # type: ignore[no-untyped-call]
        "EventDataBatch": batch,
    }
    return [
        f"{kind} has no attribute {name}"
        for kind, names in INSTANCE_ATTRIBUTES.items()
        for name in names
        if not hasattr(objects[kind], name)
    ]


def _check_errors() -> list[str]:
    """The attributes of pyamqp's errors that the exception mapping reads."""
    errors = internals.amqp_errors
    problems = []
    failure = errors.TokenAuthFailure(401, b"probe")  # type: ignore[no-untyped-call]
    if (failure.status_code, failure.status_description) != (401, b"probe"):
        problems.append("TokenAuthFailure lost status_code or status_description")
    lost = errors.AMQPConnectionError(errors.ErrorCondition.SocketError, description="probe")
    if lost.condition != errors.ErrorCondition.SocketError or lost.description != "probe":
        problems.append("AMQPConnectionError lost condition or description")
    if errors.ErrorCondition.SocketError.value != b"amqp:socket-error":
        problems.append("ErrorCondition values are no longer the AMQP condition symbols")
    if not issubclass(errors.AuthenticationException, errors.AMQPException):
        problems.append("pyamqp's AuthenticationException is no longer an AMQPException")
    return problems


def _check_partition_producer() -> list[str]:
    """Check the pieces of the aio client the functions above rely on, without any I/O."""
    client = EventHubProducerClient(
        "probe.servicebus.windows.net", "probe", AzureNamedKeyCredential("probe", "probe")
    )
    producer = create_partition_producer(client, "7")
    problems = []
    if client_namespace(client) != "probe.servicebus.windows.net":
        problems.append("EventHubProducerClient._address.hostname changed")
    if not isinstance(producer, EventHubProducer) or not producer._target.endswith("/Partitions/7"):
        problems.append("EventHubProducerClient._create_producer(partition_id=) changed")
    for name in ("_open", "_close_handler_async", "close"):
        if not inspect.iscoroutinefunction(getattr(producer, name, None)):
            problems.append(f"EventHubProducer.{name} is no longer a coroutine function")
    transport = producer._amqp_transport
    if not inspect.iscoroutinefunction(getattr(transport, "_handle_exception_async", None)):
        problems.append("the aio transport has no _handle_exception_async")
    if not callable(getattr(transport, "get_remote_max_message_size", None)) or not isinstance(
        getattr(transport, "MAX_MESSAGE_LENGTH_BYTES", None), int
    ):
        problems.append("the aio transport lost get_remote_max_message_size")
    for owner, name in (
        (client, "_create_auth_async"),
        (client._conn_manager_async, "get_connection"),
        (transport, "get_updated_token_async"),
        (transport, "mgmt_client_request_async"),
    ):
        if not inspect.iscoroutinefunction(getattr(owner, name, None)):
            problems.append(f"{type(owner).__name__}.{name} is no longer a coroutine function")
    if "auth_uri" not in inspect.signature(client._create_auth_async).parameters:
        problems.append("EventHubProducerClient._create_auth_async takes no auth_uri")
    for name in ("build_message", "create_mgmt_client", "get_error"):
        if not callable(getattr(transport, name, None)):
            problems.append(f"the aio transport has no {name}")
    management = transport.create_mgmt_client(
        client._address, mgmt_auth=None, config=client._config
    )
    if not (
        hasattr(management, "_connection")
        and hasattr(management, "_external_connection")
        and inspect.iscoroutinefunction(getattr(management, "close_async", None))
    ):
        problems.append("AMQPClientAsync no longer has _connection/_external_connection")
    connection = AmqpConnectionAsync("amqps://probe.localhost", sasl_credential=None)
    if not inspect.iscoroutinefunction(getattr(connection._transport, "close", None)):
        problems.append("the AMQP connection's _transport has no async close()")
    if (_READ_OPERATION, _MGMT_OPERATION) != (b"READ", b"com.microsoft:eventhub"):
        problems.append("the $management READ constants changed")
    if not callable(getattr(producer, "_create_handler", None)) or not hasattr(client, "_auth_uri"):
        problems.append("EventHubProducer._create_handler or the client's _auth_uri changed")
    for attribute in ("_handler", "_max_message_size_on_link", "running"):
        if not hasattr(producer, attribute):
            problems.append(f"EventHubProducer has no attribute {attribute}")
    if not hasattr(EventDataBatch(max_size_in_bytes=64), "_message"):
        problems.append("EventDataBatch has no _message")
    return problems


def _add_untraced(batch: EventDataBatch, event: EventData) -> None:
    """``batch.add(event)`` with Azure SDK tracing off for the call.

    With tracing on (``azure.core.settings``), ``add`` stamps trace context on the event,
    which the reference for the pre-encoded comparison must not have.
    """
    from azure.core.settings import settings

    setting = settings.tracing_implementation
    saved = setting._user_value
    setting.set_value(None)
    try:
        batch.add(event)
    finally:
        setting._user_value = saved


def check_internals() -> None:
    """Check that the private pieces used by the adapter still behave as it assumes.

    :raises IncompatibleAzureEventHubError: naming what changed, and the versions of
        azure-eventhub this release was verified with.
    """
    missing = (
        IMPORT_ERROR
        or _AMQP_IMPORT_ERROR
        or _LINK_IMPORT_ERROR
        or _TOKEN_IMPORT_ERROR
        or _CHECK_IMPORT_ERROR
        or _LINK_CHECK_IMPORT_ERROR
    )
    if missing is not None:
        raise IncompatibleAzureEventHubError(
            f"azure-eventhub {azure_eventhub_version} lacks a private module anyio-eventhubs "
            f"uses ({missing}); {_verified()}"
        ) from missing
    problems = _check_private_names()
    if problems:  # the probes below would only fail on the same missing names
        _raise(problems)
    probes = [EventData(b"probe"), EventData(b"p" * 300)]
    probes[1].properties = {"k": "v"}
    try:
        batch = EventDataBatch(max_size_in_bytes=1024)
        for probe in probes:
            _add_untraced(batch, probe)
        encoded = [encode_event_data(probe, None) for probe in probes]
        empty = EventDataBatch(max_size_in_bytes=1024)
        fill_batch(empty, encoded, batch.size_in_bytes)
        problems.extend(check_transfer(batch, encoded))
    except Exception as exc:
        raise IncompatibleAzureEventHubError(
            f"azure-eventhub {azure_eventhub_version}: its private AMQP encoder or sender "
            f"changed ({type(exc).__name__}: {exc}); {_verified()}"
        ) from exc
    if list(empty._message[5]) != list(batch._message[5]) or len(empty) != len(probes):
        problems.append("a batch filled with pre-encoded events differs from batch.add()")
    for what, check in (
        ("the objects of the aio client", _check_instance_attributes),
        ("pyamqp's errors", _check_errors),
        ("the aio partition producer", _check_partition_producer),
        ("the aio sender link", check_link_options),
    ):
        try:
            problems.extend(check())
        except Exception as exc:
            problems.append(f"{what} changed ({type(exc).__name__}: {exc})")
    if problems:
        _raise(problems)


def _raise(problems: list[str]) -> None:
    raise IncompatibleAzureEventHubError(
        f"azure-eventhub {azure_eventhub_version} is not compatible: "
        + "; ".join(problems)
        + f". {_verified()}"
    )


_checked: list[IncompatibleAzureEventHubError | None] = []


def ensure_compatible() -> None:
    """Run :func:`check_internals` once per process; raise its error on every call after.

    Called when the azure transport is first used (``open_streaming_producer`` with a
    connection string, a credential or ``client=``).

    :raises IncompatibleAzureEventHubError: if the check failed.
    """
    if not _checked:
        try:
            check_internals()
        except IncompatibleAzureEventHubError as exc:
            _checked.append(exc)
        else:
            _checked.append(None)
    failure = _checked[0]
    if failure is not None:
        raise IncompatibleAzureEventHubError(*failure.args) from failure.__cause__
