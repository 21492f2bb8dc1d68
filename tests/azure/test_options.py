"""Checking the connection options of ``azure_transport`` (no I/O: all synchronous)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from azure.core.credentials import (
    AccessToken,
    AzureKeyCredential,
    AzureNamedKeyCredential,
    AzureSasCredential,
)
from azure.eventhub import EventHubProducerClient as SyncEventHubProducerClient
from azure.eventhub import TransportType
from azure.eventhub.aio import EventHubProducerClient

import anyio_eventhubs
from anyio_eventhubs import open_streaming_producer
from anyio_eventhubs._azure import AzureTransport, azure_transport
from anyio_eventhubs._azure._connection_string import is_local_emulator, parse_connection_string
from anyio_eventhubs._azure._credentials import ThreadedTokenCredential, check_credential

SECRET = "c2VjcmV0LWtleS1kby1ub3QtbGVhaw=="
GOOD = f"Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey={SECRET}"


class SyncCredential:
    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("t", int(time.time()) + 60)


def make_client(transport: AzureTransport) -> EventHubProducerClient:
    return transport._source.make()


def test_connection_string_with_entity_path() -> None:
    transport = azure_transport(GOOD + ";EntityPath=hub", None)
    assert isinstance(transport, AzureTransport)
    assert transport.supports_idempotent_publishing is True
    client = make_client(transport)
    assert client.eventhub_name == "hub"
    assert client._config.max_retries == 0  # no retries under ours
    assert "anyio-eventhubs/" in (client._config.user_agent or "")


def test_eventhub_name_may_repeat_the_entity_path() -> None:
    transport = azure_transport(GOOD + ";EntityPath=hub", "hub")
    assert make_client(transport).eventhub_name == "hub"


def test_eventhub_name_must_match_the_entity_path() -> None:
    with pytest.raises(ValueError, match=r"'other' does not match .* EntityPath 'hub'"):
        azure_transport(GOOD + ";EntityPath=hub", "other")


def test_the_hub_name_is_required() -> None:
    with pytest.raises(ValueError, match="no Event Hub name"):
        azure_transport(GOOD, None)


@pytest.mark.parametrize(
    ("connection_string", "message"),
    [
        pytest.param("", "empty", id="empty"),
        pytest.param(
            f"SharedAccessKeyName=k;SharedAccessKey={SECRET}", "Endpoint", id="no-endpoint"
        ),
        pytest.param(
            f"Endpoint=https://ns/;SharedAccessKeyName=k;SharedAccessKey={SECRET}",
            "sb://",
            id="not-sb",
        ),
        pytest.param(
            f"Endpoint=sb://ns/;SharedAccessKey={SECRET}", "SharedAccessKeyName", id="no-name"
        ),
        pytest.param("Endpoint=sb://ns/;SharedAccessKeyName=k", "SharedAccessKey is", id="no-key"),
        pytest.param(f"Endpoint=sb://ns/;{SECRET}", "unknown setting in part 2", id="stray-key"),
        pytest.param(f"Endpoint=sb://ns/;{SECRET[:-2]}", "part 2 is not", id="no-equals"),
        pytest.param(GOOD + f";SharedAccessKey={SECRET}", "twice", id="repeated"),
        pytest.param(
            GOOD + f";Pasword={SECRET}", "unknown setting 'Pasword'", id="unknown-setting"
        ),
        pytest.param(
            GOOD + ";SharedAccessSignature=SharedAccessSignature sr=a&sig=" + SECRET,
            "not both",
            id="key-and-signature",
        ),
        pytest.param(GOOD + ";UseDevelopmentEmulator=yes", "true or false", id="bad-flag"),
    ],
)
def test_malformed_connection_strings_are_named_without_the_secret(
    connection_string: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message) as info:
        azure_transport(connection_string, "hub")
    assert SECRET not in str(info.value)
    assert SECRET[:12] not in str(info.value)


def test_a_connection_string_is_a_str() -> None:
    with pytest.raises(TypeError, match="connection_string must be a str"):
        parse_connection_string(b"Endpoint=sb://ns/")  # type: ignore[arg-type]


def test_the_development_emulator_flag_turns_tls_off() -> None:
    info = parse_connection_string(GOOD + ";UseDevelopmentEmulator=true")
    assert info.emulator
    client = make_client(azure_transport(GOOD + ";UseDevelopmentEmulator=True;EntityPath=h", None))
    assert client._config.use_tls is False


def test_unknown_keyword_is_a_type_error_naming_it() -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'retry_totl'"):
        azure_transport(GOOD + ";EntityPath=hub", None, retry_totl=3)


@pytest.mark.anyio
async def test_unknown_keyword_through_open_streaming_producer() -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'credentail'"):
        async with open_streaming_producer(GOOD, "hub", credentail=object()):  # type: ignore[call-arg]
            pass  # pragma: no cover


@pytest.mark.parametrize(
    "credential",
    [
        pytest.param(AzureNamedKeyCredential("send", SECRET), id="named-key"),
        pytest.param(AzureSasCredential("SharedAccessSignature sr=a&sig=b&se=1&skn=c"), id="sas"),
    ],
)
def test_key_and_sas_credentials_are_passed_as_they_are(credential: object) -> None:
    assert check_credential(credential) is credential
    transport = azure_transport(
        None,
        "hub",
        fully_qualified_namespace="ns.servicebus.windows.net",
        credential=credential,
    )
    client = make_client(transport)
    assert client._config.use_tls is True
    assert SECRET not in repr(transport)


def test_a_sync_token_credential_is_wrapped_and_an_async_one_is_not() -> None:
    class AsyncCredential:
        async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
            return AccessToken("t", 0)  # pragma: no cover

    async_credential = AsyncCredential()
    assert check_credential(async_credential) is async_credential
    wrapped = check_credential(SyncCredential())
    assert isinstance(wrapped, ThreadedTokenCredential)


@pytest.mark.parametrize(
    ("credential", "message"),
    [
        pytest.param(AzureKeyCredential("k"), "AzureNamedKeyCredential", id="key"),
        pytest.param("a-key", "not a string", id="str"),
        pytest.param(object(), "got object", id="object"),
    ],
)
def test_other_credentials_are_type_errors(credential: object, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        azure_transport(None, "hub", fully_qualified_namespace="ns", credential=credential)


def test_a_loopback_namespace_with_a_port_is_an_emulator() -> None:
    assert is_local_emulator("127.0.0.1:5672")
    assert is_local_emulator("localhost:5672")
    assert is_local_emulator("[::1]:5672")
    assert not is_local_emulator("localhost")
    assert not is_local_emulator("ns.servicebus.windows.net:5671")
    assert not is_local_emulator("10.0.0.1:5672")
    transport = azure_transport(
        None, "hub", fully_qualified_namespace="127.0.0.1:5673", credential=SyncCredential()
    )
    assert make_client(transport)._config.use_tls is False


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param(
            {"fully_qualified_namespace": "ns"}, "credential= is missing", id="no-credential"
        ),
        pytest.param(
            {"credential": SyncCredential()}, "fully_qualified_namespace=", id="no-namespace"
        ),
        pytest.param(
            {
                "fully_qualified_namespace": "ns",
                "credential": SyncCredential(),
                "connection_string": GOOD,
            },
            "not both",
            id="both-forms",
        ),
    ],
)
def test_incomplete_or_contradictory_forms_are_value_errors(
    kwargs: dict[str, Any], message: str
) -> None:
    connection_string = kwargs.pop("connection_string", None)
    with pytest.raises(ValueError, match=message):
        azure_transport(connection_string, "hub", **kwargs)


def test_the_credential_form_needs_a_hub_name() -> None:
    with pytest.raises(ValueError, match="eventhub_name is missing"):
        azure_transport(None, None, fully_qualified_namespace="ns", credential=SyncCredential())


def test_client_options_are_passed_to_clients_we_create() -> None:
    transport = azure_transport(
        GOOD + ";EntityPath=hub",
        None,
        transport_type=TransportType.AmqpOverWebsocket,
        user_agent="my-app/1.0",
    )
    config = make_client(transport)._config
    assert config.transport_type == TransportType.AmqpOverWebsocket
    assert config.user_agent is not None
    assert config.user_agent == f"anyio-eventhubs/{anyio_eventhubs.__version__} my-app/1.0"


@pytest.mark.anyio
async def test_an_existing_client_is_used_as_it_is() -> None:
    client = EventHubProducerClient.from_connection_string(GOOD + ";EntityPath=hub")
    try:
        transport = azure_transport(None, None, client=client)
        assert make_client(transport) is client
        assert not transport._source.owned
        assert azure_transport(None, "hub", client=client)._source.owned is False
        with pytest.raises(ValueError, match="does not match the client's Event Hub 'hub'"):
            azure_transport(None, "other", client=client)
        with pytest.raises(ValueError, match="client= replaces"):
            azure_transport(GOOD, None, client=client)
    finally:
        await client.close()


def test_a_sync_client_is_a_type_error() -> None:
    client = SyncEventHubProducerClient.from_connection_string(GOOD + ";EntityPath=hub")
    try:
        with pytest.raises(TypeError, match=r"azure\.eventhub\.aio\.EventHubProducerClient"):
            azure_transport(None, None, client=client)  # type: ignore[arg-type]
    finally:
        client.close()


@pytest.mark.parametrize(
    ("open_timeout", "error"),
    [
        (0, ValueError),
        (-1, ValueError),
        (float("inf"), ValueError),
        ("5", TypeError),
        (True, TypeError),
    ],
)
def test_open_timeout_is_a_positive_number(open_timeout: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="open_timeout"):
        azure_transport(GOOD + ";EntityPath=hub", None, open_timeout=open_timeout)


def test_repr_names_the_hub_and_not_the_key() -> None:
    text = repr(azure_transport(GOOD + ";EntityPath=hub", None))
    assert "'hub'" in text
    assert "ns.servicebus.windows.net" in text
    assert SECRET not in text
