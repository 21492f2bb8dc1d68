"""The library's own messages never repeat a secret that a caller put in the wrong place.

#16 item 6: a connection string passed as ``eventhub_name`` was echoed in the
``ValueError`` ("eventhub_name '...SharedAccessKey=...' does not match") or in the
``NotFoundError`` ("opening Event Hub '...'"); an ``Endpoint=sb://user:password@host``
was accepted and its password shown in ``fully_qualified_namespace`` (and in the repr of
the producer and of the transport).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest

from anyio_eventhubs import open_streaming_producer
from anyio_eventhubs._azure._errors import to_transport_error
from anyio_eventhubs.testing.emulator import EventHubsEmulator

pytestmark = pytest.mark.anyio

KEY = base64.b64encode(b"a-key-that-must-never-be-printed").decode()
PASSWORD = "pa55-w0rd-in-the-endpoint"


@pytest.fixture
def emulator() -> Iterator[EventHubsEmulator]:
    with EventHubsEmulator({"eh1": 2}, key=KEY) as emulator:
        yield emulator


def _texts(exc: BaseException) -> str:
    seen = []
    current: BaseException | None = exc
    while current is not None:
        seen.append(f"{current!s} {current!r}")
        current = current.__cause__ or current.__context__
    return " ".join(seen)


async def _open_and_fail(**options: Any) -> BaseException:
    with pytest.raises(Exception) as info:  # noqa: PT011 - which one is part of what we check
        async with open_streaming_producer(open_timeout=10, **options):
            pass  # pragma: no cover
    return info.value


async def test_a_connection_string_as_eventhub_name_is_refused_without_its_key(
    emulator: EventHubsEmulator,
) -> None:
    connection_string = emulator.connection_string()  # no EntityPath: the name is needed
    error = await _open_and_fail(
        connection_string=connection_string, eventhub_name=emulator.connection_string("eh1")
    )
    assert isinstance(error, ValueError)
    assert "looks like a connection string" in str(error)
    assert KEY not in _texts(error)
    assert emulator.connections_accepted == 0


async def test_a_connection_string_as_eventhub_name_with_entity_path_is_not_echoed(
    emulator: EventHubsEmulator,
) -> None:
    error = await _open_and_fail(
        connection_string=emulator.connection_string("eh1"),
        eventhub_name=emulator.connection_string("eh1"),
    )
    assert isinstance(error, ValueError)
    assert KEY not in _texts(error)


async def test_a_password_in_the_endpoint_is_refused_without_echoing_it(
    emulator: EventHubsEmulator,
) -> None:
    connection_string = emulator.connection_string("eh1").replace("sb://", f"sb://user:{PASSWORD}@")
    error = await _open_and_fail(connection_string=connection_string)
    assert isinstance(error, ValueError)
    assert "must not carry a user name or password" in str(error)
    assert PASSWORD not in _texts(error)
    assert emulator.connections_accepted == 0


def test_our_own_context_is_redacted_in_mapped_errors() -> None:
    mapped = to_transport_error(
        ConnectionRefusedError(111, "refused"),
        f"opening Event Hub 'Endpoint=sb://x/;SharedAccessKey={KEY}'",
        opening=True,
    )
    assert mapped is not None
    assert KEY not in str(mapped)
