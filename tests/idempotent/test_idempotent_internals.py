"""The azure-eventhub internals idempotent publishing relies on fail loudly when they change.

``check_internals()`` runs when the azure transport is first used; these tests change the
pieces it probes, one at a time, and expect :class:`IncompatibleAzureEventHubError` naming
the change, never a silently non-idempotent send.
"""

from __future__ import annotations

from typing import Any

import pytest
from azure.eventhub._pyamqp.aio._client_async import AMQPClientAsync
from azure.eventhub._pyamqp.aio._link_async import Link
from azure.eventhub._pyamqp.aio._sender_async import SenderLink

from anyio_eventhubs._azure_internals_check import IncompatibleAzureEventHubError, check_internals
from anyio_eventhubs._azure_link_check import check_link_options


def test_the_installed_azure_eventhub_passes() -> None:
    assert check_link_options() == []
    check_internals()


def test_a_sender_link_that_drops_desired_capabilities_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original: Any = SenderLink.__init__

    def without_capabilities(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.pop("desired_capabilities", None)
        original(self, *args, **kwargs)

    monkeypatch.setattr(SenderLink, "__init__", without_capabilities)
    with pytest.raises(IncompatibleAzureEventHubError, match="desired capabilities"):
        check_internals()


def test_a_link_that_no_longer_keeps_the_reply_properties_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = Link._incoming_attach

    async def forgetful(self: Any, frame: Any) -> None:
        await original(self, frame)
        self.remote_properties = None

    monkeypatch.setattr(Link, "_incoming_attach", forgetful)
    with pytest.raises(IncompatibleAzureEventHubError, match="remote_properties"):
        check_internals()


def test_a_client_that_no_longer_polls_its_link_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def ready(self: Any) -> bool:
        return True

    monkeypatch.setattr(AMQPClientAsync, "client_ready_async", ready)
    with pytest.raises(IncompatibleAzureEventHubError, match="client_ready_async"):
        check_internals()
