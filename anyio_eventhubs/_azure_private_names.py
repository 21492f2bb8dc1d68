"""Every private name of azure-eventhub that anyio-eventhubs uses, and where it was verified.

Plain data, read by ``_azure_internals_check`` (which checks each name) and by the tests
(which keep the lists complete by reading the adapter's source, and mutate each name).
"""

from __future__ import annotations

__all__ = ["INSTANCE_ATTRIBUTES", "PRIVATE_NAMES", "VERIFIED_VERSIONS"]

#: the azure-eventhub releases the azure, idempotent and example suites passed on
#: (``nox -s azure_versions`` runs them on the oldest and the newest minor version)
VERIFIED_VERSIONS = ("5.12.1", "5.12.2", "5.13.0", "5.14.0", "5.15.1")

#: (module, dotted name in it): every private module, class, function and method used
PRIVATE_NAMES: tuple[tuple[str, str], ...] = (
    ("azure.eventhub._constants", "MGMT_OPERATION"),
    ("azure.eventhub._constants", "MGMT_STATUS_CODE"),
    ("azure.eventhub._constants", "MGMT_STATUS_DESC"),
    ("azure.eventhub._constants", "READ_OPERATION"),
    ("azure.eventhub._pyamqp._encode", "encode_frame"),
    ("azure.eventhub._pyamqp._encode", "encode_payload"),
    ("azure.eventhub._pyamqp.aio._client_async", "AMQPClientAsync.open_async"),
    ("azure.eventhub._pyamqp.aio._client_async", "AMQPClientAsync.close_async"),
    ("azure.eventhub._pyamqp.aio._client_async", "AMQPClientAsync.client_ready_async"),
    ("azure.eventhub._pyamqp.aio._client_async", "SendClientAsync._client_ready_async"),
    ("azure.eventhub._pyamqp.aio._client_async", "SendClientAsync.send_message_async"),
    ("azure.eventhub._pyamqp.aio._connection_async", "Connection.close"),
    ("azure.eventhub._pyamqp.aio._link_async", "Link._incoming_attach"),
    ("azure.eventhub._pyamqp.aio._link_async", "Link.attach"),
    ("azure.eventhub._pyamqp.aio._link_async", "Link.get_state"),
    ("azure.eventhub._pyamqp.aio._sender_async", "SenderLink"),
    ("azure.eventhub._pyamqp.aio._session_async", "Session.create_sender_link"),
    ("azure.eventhub._pyamqp.constants", "LinkState.ATTACHED"),
    ("azure.eventhub._pyamqp.error", "AMQPException"),
    ("azure.eventhub._pyamqp.error", "AMQPConnectionError"),
    ("azure.eventhub._pyamqp.error", "AMQPSessionError"),
    ("azure.eventhub._pyamqp.error", "AMQPLinkError"),
    ("azure.eventhub._pyamqp.error", "AuthenticationException"),
    ("azure.eventhub._pyamqp.error", "TokenAuthFailure"),
    ("azure.eventhub._pyamqp.error", "ErrorCondition.SocketError"),
    ("azure.eventhub._pyamqp.types", "TYPE"),
    ("azure.eventhub._pyamqp.types", "VALUE"),
    ("azure.eventhub._pyamqp.types", "AMQPTypes.long"),
    ("azure.eventhub._pyamqp.types", "AMQPTypes.short"),
    ("azure.eventhub._pyamqp.types", "AMQPTypes.int"),
    (
        "azure.eventhub.aio._transport._pyamqp_transport_async",
        "PyamqpTransportAsync._handle_exception_async",
    ),
    ("azure.eventhub.aio._producer_async", "EventHubProducer._open"),
    ("azure.eventhub.aio._producer_async", "EventHubProducer._create_handler"),
    ("azure.eventhub.aio._producer_async", "EventHubProducer._close_handler_async"),
    ("azure.eventhub.aio._producer_async", "EventHubProducer.close"),
    ("azure.eventhub.aio", "EventHubProducerClient._create_producer"),
    ("azure.eventhub.aio", "EventHubProducerClient._create_auth_async"),
    # one connection per producer (_azure_amqp)
    ("azure.eventhub._pyamqp.aio", "AMQPClientAsync"),
    ("azure.eventhub._pyamqp.aio._cbs_async", "CBSAuthenticator.handle_token"),
    ("azure.eventhub._pyamqp.aio._cbs_async", "CBSAuthenticator.update_token"),
    ("azure.eventhub._pyamqp.aio._cbs_async", "CBSAuthenticator._update_status"),
    ("azure.eventhub._pyamqp.constants", "CbsAuthState.IN_PROGRESS"),
    ("azure.eventhub._pyamqp.constants", "CbsAuthState.OK"),
    ("azure.eventhub._pyamqp.error", "ErrorCondition.ConnectionCloseForced"),
    ("azure.eventhub._pyamqp.error", "ErrorCondition.LinkDetachForced"),
    ("azure.eventhub._pyamqp.error", "ErrorCondition.UnauthorizedAccess"),
    ("azure.eventhub._pyamqp.aio._client_async", "SendClientAsync._on_send_complete_async"),
    ("azure.eventhub._pyamqp.aio._connection_async", "Connection.create_session"),
    ("azure.eventhub._pyamqp.aio._connection_async", "Connection.listen"),
    ("azure.eventhub._pyamqp.aio._link_async", "Link._check_if_closed"),
    ("azure.eventhub._pyamqp.aio._link_async", "Link.detach"),
    ("azure.eventhub._pyamqp.aio._management_link_async", "ManagementLink.execute_operation"),
    (
        "azure.eventhub._pyamqp.aio._management_operation_async",
        "ManagementOperation._on_execute_operation_complete",
    ),
    ("azure.eventhub._pyamqp.aio._sender_async", "PendingDelivery"),
    ("azure.eventhub._pyamqp.aio._sender_async", "SenderLink._outgoing_transfer"),
    ("azure.eventhub._pyamqp.aio._session_async", "Session._outgoing_transfer"),
    ("azure.eventhub._pyamqp.aio._session_async", "Session.begin"),
    ("azure.eventhub._pyamqp.aio._session_async", "Session.end"),
    ("azure.eventhub._pyamqp.constants", "MESSAGE_DELIVERY_DONE_STATES"),
    ("azure.eventhub._pyamqp.constants", "LinkDeliverySettleReason.NOT_DELIVERED"),
    ("azure.eventhub._pyamqp.constants", "MessageDeliveryState.Ok"),
    ("azure.eventhub._pyamqp.constants", "MessageDeliveryState.WaitingForSendAck"),
    ("azure.eventhub._pyamqp.constants", "SessionTransferState.OKAY"),
    ("azure.eventhub._pyamqp.error", "MessageException"),
    ("azure.eventhub._pyamqp.error", "ErrorCondition.UnknownError"),
    ("azure.eventhub._pyamqp.message", "_MessageDelivery"),
    ("azure.eventhub._utils", "create_properties"),
)

#: attributes of objects the client makes, by what has them (checked on probe objects)
INSTANCE_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "EventHubProducerClient": (
        "_address",
        "_amqp_transport",
        "_auth_uri",
        "_config",
        "_conn_manager_async",
        "_credential",
    ),
    "EventHubProducer": (
        "_amqp_transport",
        "_client",
        "_handler",
        "_max_message_size_on_link",
        "_target",
    ),
    "SendClientAsync": (
        "_client_ready_async",
        "_connection",
        "_external_connection",
        "_link",
        "_link_credit",
        "_link_properties",
        "_max_message_size",
        "_receive_settle_mode",
        "_send_settle_mode",
        "_session",
        "_auth",
        "_cbs_authenticator",
        "_incoming_window",
        "_mgmt_links",
        "_outgoing_window",
    ),
    "SenderLink": (
        "_error",
        "_pending_deliveries",
        "_session",
        "current_link_credit",
        "delivery_count",
        "handle",
        "network_trace",
        "network_trace_params",
    ),
    "CBSAuthenticator": ("_auth", "_expires_on", "_token", "_token_put_time", "auth_state"),
    "ManagementOperation": ("_mgmt_error", "_mgmt_link", "_responses"),
    "Connection": ("_transport",),
    "EventDataBatch": ("_count", "_message", "_size"),
}
