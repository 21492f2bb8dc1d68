"""No key, SAS token or bearer token in a repr, an exception or a log record; TLS stays on.

Every credential form is used against the emulator, right and wrong, with the ``azure``
and ``anyio_eventhubs`` loggers captured at DEBUG; then the producer, the transport, the
connection, the credential wrappers, every exception along its ``__cause__`` chain (and
its formatted traceback) and every log record are searched for the secrets.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import time
import traceback
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote_plus

import anyio
import pytest
from azure.core.credentials import AccessToken, AzureNamedKeyCredential, AzureSasCredential

from anyio_eventhubs import (
    AuthenticationError,
    PublishError,
    PublishFailedEventArgs,
    RetryOptions,
    StreamingProducer,
    TransportError,
    open_streaming_producer,
)
from anyio_eventhubs._azure import azure_transport
from anyio_eventhubs._azure._credentials import ThreadedTokenCredential
from anyio_eventhubs._cli._emulator import emulator as emulator_command
from anyio_eventhubs.testing.emulator import EventHubsEmulator
from anyio_eventhubs.testing.emulator.__main__ import _parser as emulator_parser

pytestmark = pytest.mark.anyio

#: the emulator's key, and a wrong one: both look like real keys (base64 of 32 bytes)
KEY = base64.b64encode(b"the-emulator-key-never-printed!!").decode()
WRONG_KEY = base64.b64encode(b"a-wrong-key-that-is-still-secret").decode()
#: a fake bearer token (a JWT's shape), for the token credential
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJhdWQiOiJodHRwczovL2V2ZW50aHVicy5henVyZS5uZXQvIn0."
    "c2VjcmV0LXNpZ25hdHVyZS1vZi1hLWZha2Utand0"
)
RETRY = RetryOptions(max_retries=1, delay=0.01, jitter=0)


@pytest.fixture
def emulator() -> Iterator[EventHubsEmulator]:
    with EventHubsEmulator({"eh1": 2}, key=KEY) as emulator:
        yield emulator


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every record of azure-eventhub's loggers and ours, at DEBUG."""
    caplog.set_level(logging.DEBUG, logger="azure")
    caplog.set_level(logging.DEBUG, logger="anyio_eventhubs")
    return caplog


def sas_token(emulator: EventHubsEmulator, key: str) -> tuple[str, str]:
    """A SAS token for ``eh1`` signed with *key*, and its signature (the secret part)."""
    audience = quote_plus(f"sb://127.0.0.1:{emulator.port}/eh1")
    expiry = int(time.time() + 3600)
    digest = hmac.new(key.encode(), f"{audience}\n{expiry}".encode(), hashlib.sha256).digest()
    signature = quote_plus(base64.b64encode(digest).decode())
    token = f"SharedAccessSignature sr={audience}&sig={signature}&se={expiry}&skn=emulator"
    return token, signature


class FakeTokenCredential:
    """A sync token credential (``azure.identity``'s protocol) handing out a fake JWT."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(JWT, int(time.time()) + 3600)


def secrets_of(emulator: EventHubsEmulator) -> list[str]:
    """Every secret a test may have handed over, in its raw and URL-quoted forms."""
    secrets = [KEY, WRONG_KEY, JWT, JWT.split(".")[2]]
    for key in (KEY, WRONG_KEY):
        _, signature = sas_token(emulator, key)
        secrets.append(signature)
    secrets += [quote_plus(s) for s in secrets]
    return secrets


def texts_of(exc: BaseException) -> list[str]:
    """``str`` and ``repr`` of *exc* and of everything along its chains, and its traceback."""
    texts = ["".join(traceback.format_exception(exc))]
    stack = [exc]
    seen: set[int] = set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        texts += [str(current), repr(current)]
        if isinstance(current, BaseExceptionGroup):
            stack.extend(current.exceptions)
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                stack.append(linked)
    return texts


def log_texts(logs: pytest.LogCaptureFixture) -> list[str]:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return [formatter.format(record) for record in logs.records]


def assert_clean(texts: list[str], secrets: list[str], where: str) -> None:
    for text in texts:
        for secret in secrets:
            assert secret not in text, f"a secret leaked into {where}: ...{text[:300]}..."


def credential_options(emulator: EventHubsEmulator, form: str, *, right: bool) -> dict[str, Any]:
    key = KEY if right else WRONG_KEY
    namespace = f"127.0.0.1:{emulator.port}"
    if form == "connection-string":
        return {"connection_string": emulator.connection_string("eh1").replace(KEY, key)}
    if form == "named-key":
        credential: object = AzureNamedKeyCredential("emulator", key)
    elif form == "sas":
        credential = AzureSasCredential(sas_token(emulator, key)[0])
    else:
        credential = FakeTokenCredential()
    return {
        "fully_qualified_namespace": namespace,
        "eventhub_name": "eh1",
        "credential": credential,
    }


FORMS = ["connection-string", "named-key", "sas", "bearer-token"]


def reprs_of(producer: StreamingProducer, options: dict[str, Any]) -> list[str]:
    """The repr and str of every object of ours around *producer*."""
    transport = azure_transport(
        options.get("connection_string"),
        options.get("eventhub_name"),
        **{k: v for k, v in options.items() if k not in ("connection_string", "eventhub_name")},
    )
    objects: list[object] = [
        producer,
        producer.statistics(),
        producer._connection,
        producer._options,
        transport,
        transport._source,
    ]
    if "credential" in options:
        objects.append(ThreadedTokenCredential(options["credential"]))
    return [text for obj in objects for text in (repr(obj), str(obj))]


@pytest.mark.parametrize("form", FORMS)
async def test_publishing_with_each_credential_leaks_no_secret(
    emulator: EventHubsEmulator, logs: pytest.LogCaptureFixture, form: str
) -> None:
    options = credential_options(emulator, form, right=True)
    with anyio.fail_after(20):
        async with open_streaming_producer(**options, retry_options=RETRY) as producer:
            await producer.queue_for_send(b"hello", partition_id="1")
            await producer.flush()
            texts = reprs_of(producer, options)
    assert emulator.event_count("eh1") == 1
    secrets = secrets_of(emulator)
    assert_clean(texts, secrets, "a repr")
    assert_clean(log_texts(logs), secrets, "a log record")
    assert logs.records, "nothing was logged at DEBUG: the capture is not working"


@pytest.mark.parametrize("form", [f for f in FORMS if f != "bearer-token"])
async def test_a_refused_credential_leaks_no_secret(
    emulator: EventHubsEmulator, logs: pytest.LogCaptureFixture, form: str
) -> None:
    options = credential_options(emulator, form, right=False)
    with anyio.fail_after(20), pytest.raises(AuthenticationError) as info:
        async with open_streaming_producer(**options, open_timeout=10):
            pytest.fail("opened with a wrong key")  # pragma: no cover
    assert "401" in str(info.value)
    secrets = secrets_of(emulator)
    assert_clean(texts_of(info.value), secrets, "the exception or its causes")
    assert_clean(log_texts(logs), secrets, "a log record")


async def test_a_refused_bearer_token_leaks_no_secret(
    emulator: EventHubsEmulator, logs: pytest.LogCaptureFixture
) -> None:
    emulator.faults.refuse_auth()
    options = credential_options(emulator, "bearer-token", right=True)
    with anyio.fail_after(20), pytest.raises(AuthenticationError) as info:
        async with open_streaming_producer(**options, open_timeout=10):
            pytest.fail("opened with a refused token")  # pragma: no cover
    secrets = secrets_of(emulator)
    assert_clean(texts_of(info.value), secrets, "the exception or its causes")
    assert_clean(log_texts(logs), secrets, "a log record")


def echoed_description(emulator: EventHubsEmulator) -> str:
    """A service description that repeats every kind of secret back."""
    token, _ = sas_token(emulator, KEY)
    return (
        f"rejected {token} with Authorization: Bearer {JWT} "
        f"for Endpoint=sb://ns/;SharedAccessKeyName=emulator;SharedAccessKey={KEY}"
    )


@pytest.mark.parametrize("handled", [True, False], ids=["handler", "raised"])
async def test_a_service_error_that_repeats_secrets_is_redacted_along_its_chain(
    emulator: EventHubsEmulator, logs: pytest.LogCaptureFixture, handled: bool
) -> None:
    emulator.faults.reject_next(
        condition="com.example:echo", description=echoed_description(emulator)
    )
    failures: list[PublishFailedEventArgs] = []
    options: dict[str, Any] = {"on_publish_failed": failures.append} if handled else {}
    raised: BaseException | None = None
    try:
        with anyio.fail_after(20):
            async with open_streaming_producer(
                emulator.connection_string("eh1"), retry_options=RETRY, **options
            ) as producer:
                await producer.queue_for_send(b"refused", partition_id="0")
    except PublishError as exc:
        raised = exc
    if handled:
        (args,) = failures
        error = args.exception
        texts = [*texts_of(error), repr(args)]
    else:
        assert raised is not None
        error = raised.__cause__  # type: ignore[assignment]
        texts = texts_of(raised)
    assert isinstance(error, TransportError)
    assert "com.example:echo" in str(error)
    assert "<redacted" in str(error)
    secrets = secrets_of(emulator)
    assert_clean(texts, secrets, "the failure or its causes")
    assert_clean(log_texts(logs), secrets, "a log record")


async def test_unpublished_failures_logged_on_cancellation_leak_no_secret(
    emulator: EventHubsEmulator, logs: pytest.LogCaptureFixture
) -> None:
    emulator.faults.reject_next(
        condition="com.example:echo", description=echoed_description(emulator)
    )
    with anyio.fail_after(20), anyio.CancelScope() as scope:
        async with open_streaming_producer(
            emulator.connection_string("eh1"), retry_options=RETRY
        ) as producer:
            await producer.queue_for_send(b"refused", partition_id="0")
            with pytest.raises(PublishError):
                await producer.flush()
            await producer.queue_for_send(b"refused too", partition_id="0")
            emulator.faults.reject_next(
                condition="com.example:echo", description=echoed_description(emulator)
            )
            scope.cancel()
    assert scope.cancelled_caught
    errors = [r for r in logs.records if r.levelno >= logging.ERROR]
    assert errors, "the unpublished failure was not logged"
    texts = log_texts(logs) + [
        "".join(traceback.format_exception(r.exc_info[1])) for r in errors if r.exc_info
    ]
    assert_clean(texts, secrets_of(emulator), "a log record")


# -- where connections go: TLS and loopback ------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        pytest.param(
            {
                "connection_string": f"Endpoint=sb://ns.servicebus.windows.net/;"
                f"SharedAccessKeyName=k;SharedAccessKey={KEY};EntityPath=eh"
            },
            id="service",
        ),
        pytest.param(
            {
                "connection_string": f"Endpoint=sb://localhost/;SharedAccessKeyName=k;"
                f"SharedAccessKey={KEY};EntityPath=eh"
            },
            id="localhost-without-the-emulator-flag",
        ),
        pytest.param(
            {
                "connection_string": f"Endpoint=sb://127.0.0.1:5672/;SharedAccessKeyName=k;"
                f"SharedAccessKey={KEY};EntityPath=eh;UseDevelopmentEmulator=false"
            },
            id="loopback-with-the-flag-false",
        ),
        pytest.param(
            {"fully_qualified_namespace": "ns.servicebus.windows.net", "eventhub_name": "eh"},
            id="namespace",
        ),
        pytest.param(
            {"fully_qualified_namespace": "10.1.2.3:5671", "eventhub_name": "eh"},
            id="private-address-with-port",
        ),
        pytest.param(
            {"fully_qualified_namespace": "localhost", "eventhub_name": "eh"},
            id="localhost-without-port",
        ),
    ],
)
def test_tls_stays_on_for_every_endpoint_that_is_not_an_emulator(options: dict[str, Any]) -> None:
    if "fully_qualified_namespace" in options:
        options = {**options, "credential": AzureNamedKeyCredential("k", KEY)}
    transport = azure_transport(
        options.pop("connection_string", None), options.pop("eventhub_name", None), **options
    )
    config = transport._source.make()._config
    assert config.use_tls is True
    assert config.connection_port == 5671
    assert KEY not in repr(transport)


@pytest.mark.parametrize(
    "options",
    [
        pytest.param(
            {
                "connection_string": f"Endpoint=sb://127.0.0.1:5672/;SharedAccessKeyName=k;"
                f"SharedAccessKey={KEY};EntityPath=eh;UseDevelopmentEmulator=true"
            },
            id="emulator-flag",
        ),
        pytest.param(
            {"fully_qualified_namespace": "127.0.0.1:5672", "eventhub_name": "eh"},
            id="loopback-with-port",
        ),
    ],
)
def test_tls_is_off_only_for_a_local_emulator(options: dict[str, Any]) -> None:
    if "fully_qualified_namespace" in options:
        options = {**options, "credential": AzureNamedKeyCredential("k", KEY)}
    transport = azure_transport(
        options.pop("connection_string", None), options.pop("eventhub_name", None), **options
    )
    assert transport._source.make()._config.use_tls is False


def test_the_emulator_listens_on_loopback_unless_told_otherwise() -> None:
    emulator = EventHubsEmulator({"eh1": 1})
    assert emulator.host == "127.0.0.1"
    assert emulator_parser().parse_args([]).host == "127.0.0.1"
    (host,) = [p.default for p in emulator_command.params if p.name == "host"]
    assert host == "127.0.0.1"
    with emulator:
        assert "Endpoint=sb://127.0.0.1:" in emulator.connection_string("eh1")
        loop = emulator._loop
        assert loop is not None
        assert loop._listener.getsockname()[0] == "127.0.0.1"
