"""azure-eventhub's exceptions mapped to ours: most specific first, chained, no secrets."""

from __future__ import annotations

import pytest
from azure.eventhub import exceptions as azure_errors
from azure.eventhub._pyamqp import error as amqp

from anyio_eventhubs import (
    AuthenticationError,
    ConnectError,
    ConnectionLostError,
    InternalServerError,
    MessageTooLargeError,
    NotFoundError,
    OperationTimeoutError,
    ServerBusyError,
    ThrottledError,
    TransportError,
)
from anyio_eventhubs._azure._errors import map_exceptions, redact, to_transport_error

TOKEN = "SharedAccessSignature sr=sb%3A%2F%2Fns%2Fhub&sig=c2lnbmF0dXJl%3D&se=99&skn=send"


def rejected(condition: bytes | amqp.ErrorCondition, description: str = "") -> Exception:
    """What a rejected transfer reaches us as: EventDataSendError from the AMQP error."""
    error: amqp.MessageException
    try:
        error = amqp.MessageSendFailed(amqp.ErrorCondition(condition), description=description)
    except ValueError:
        error = amqp.MessageException(condition, description=description)
    converted = azure_errors.EventDataSendError(str(error), error)  # type: ignore[arg-type]
    converted.__cause__ = error  # as the client raises it: converted from the AMQP error
    return converted


@pytest.mark.parametrize(
    ("exc", "expected", "transient"),
    [
        pytest.param(
            rejected(b"com.microsoft:server-busy", "busy"), ServerBusyError, True, id="busy"
        ),
        pytest.param(
            rejected(b"com.microsoft:server-busy", "namespace is being throttled"),
            ThrottledError,
            True,
            id="busy-throttled",
        ),
        pytest.param(rejected(b"amqp:resource-limit-exceeded"), ThrottledError, True, id="limit"),
        pytest.param(rejected(b"com.microsoft:timeout"), OperationTimeoutError, True, id="timeout"),
        pytest.param(rejected(b"amqp:internal-error"), InternalServerError, True, id="internal"),
        pytest.param(rejected(b"amqp:not-found"), NotFoundError, False, id="not-found"),
        pytest.param(
            rejected(b"com.microsoft:argument-out-of-range"),
            NotFoundError,
            False,
            id="no-partition",
        ),
        pytest.param(
            rejected(b"amqp:link:message-size-exceeded"), MessageTooLargeError, False, id="size"
        ),
        pytest.param(rejected(b"amqp:unknown-error"), ConnectionLostError, True, id="unsettled"),
        pytest.param(rejected(b"amqp:decode-error"), TransportError, False, id="other"),
        pytest.param(
            amqp.TokenAuthFailure(401, b"Unauthorized: bad signature"),  # type: ignore[no-untyped-call]
            AuthenticationError,
            False,
            id="cbs-401",
        ),
        pytest.param(
            azure_errors.AuthenticationError("refused"), AuthenticationError, False, id="auth"
        ),
        pytest.param(
            amqp.AMQPConnectionError(amqp.ErrorCondition.NotFound, description="404"),
            NotFoundError,
            False,
            id="management-404",
        ),
        pytest.param(
            amqp.AMQPLinkError(amqp.ErrorCondition.LinkDetachForced),
            ConnectionLostError,
            True,
            id="detach",
        ),
        pytest.param(
            azure_errors.ConnectionLostError("gone"), ConnectionLostError, True, id="lost"
        ),
        pytest.param(ConnectionResetError("reset"), ConnectionLostError, True, id="socket"),
        pytest.param(TimeoutError("slow"), OperationTimeoutError, True, id="timeout-error"),
    ],
)
def test_each_failure_maps_to_its_class(
    exc: Exception, expected: type[TransportError], transient: bool
) -> None:
    with pytest.raises(TransportError) as info, map_exceptions("sending to partition '0'"):
        raise exc
    assert type(info.value) is expected
    assert info.value.is_transient is transient
    assert info.value.__cause__ is exc
    assert str(info.value).startswith("sending to partition '0': ")


def test_a_lost_connection_while_opening_is_a_connect_error() -> None:
    error = to_transport_error(ConnectionRefusedError("refused"), "opening", opening=True)
    assert type(error) is ConnectError
    error = to_transport_error(
        amqp.AMQPLinkError(amqp.ErrorCondition.LinkDetachForced), "opening", opening=True
    )
    assert type(error) is ConnectError


def test_the_condition_and_description_are_in_the_message() -> None:
    error = to_transport_error(
        rejected(b"com.microsoft:server-busy", "The server is busy."), "ctx", opening=False
    )
    assert str(error) == "ctx: com.microsoft:server-busy: The server is busy."


def test_tokens_and_keys_never_reach_the_message() -> None:
    description = f"token {TOKEN} refused; SharedAccessKey=abc123=".encode()
    exc = amqp.TokenAuthFailure(401, description)  # type: ignore[no-untyped-call]
    error = to_transport_error(exc, "opening", opening=True)
    assert isinstance(error, AuthenticationError)
    text = str(error)
    assert "401" in text
    assert "c2lnbmF0dXJl" not in text
    assert "abc123" not in text


def test_redact_hides_keys_signatures_and_bearer_tokens() -> None:
    text = redact(
        f"{TOKEN} | Endpoint=sb://ns/;SharedAccessKey=abc= | Authorization: Bearer eyJa.eyJb.c | "
        "sig=xyz&se=1"
    )
    for secret in ("c2lnbmF0dXJl", "abc=", "eyJa", "xyz"):
        assert secret not in text
    assert "<redacted>" in text


def test_other_exceptions_pass_through_unchanged() -> None:
    with pytest.raises(KeyError), map_exceptions("ctx"):
        raise KeyError("a bug")
    already = ServerBusyError("ours")
    with pytest.raises(ServerBusyError) as info, map_exceptions("ctx"):
        raise already
    assert info.value is already
