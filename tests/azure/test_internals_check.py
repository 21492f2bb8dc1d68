"""The azure-eventhub internals check: lazy, complete, and clear when a name changes.

It runs when the azure transport is first used (not at import), it covers every private
name the adapter uses (read from the adapter's source here), and removing any one of
them gives :class:`IncompatibleAzureEventHubError` naming it and the verified versions,
when opening, instead of a failure on every send.
"""

from __future__ import annotations

import ast
import enum
import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import anyio_eventhubs
from anyio_eventhubs import _azure_internals_check as check
from anyio_eventhubs import open_streaming_producer
from anyio_eventhubs._azure_private_names import (
    INSTANCE_ATTRIBUTES,
    PRIVATE_NAMES,
    VERIFIED_VERSIONS,
)
from anyio_eventhubs.testing.emulator import EventHubsEmulator

PACKAGE = Path(anyio_eventhubs.__file__).parent
#: the adapter: every module that touches azure-eventhub's internals
ADAPTER = [
    PACKAGE / "_azure_internals.py",
    PACKAGE / "_azure_amqp.py",
    PACKAGE / "_azure_amqp_link.py",
    PACKAGE / "_azure_amqp_token.py",
    *sorted((PACKAGE / "_azure").glob("*.py")),
]


@pytest.fixture
def fresh_check() -> Iterator[None]:
    """Forget the once-per-process result, before and after the test."""
    check._checked.clear()
    yield
    check._checked.clear()


def _owner(module: str, dotted: str) -> tuple[object, str]:
    value: object = importlib.import_module(module)
    *path, name = dotted.split(".")
    for part in path:
        value = getattr(value, part)
    return value, name


def test_the_installed_azure_eventhub_passes(fresh_check: None) -> None:
    check.ensure_compatible()
    assert check._checked == [None]


@pytest.mark.parametrize(
    ("module", "dotted"), [pytest.param(m, d, id=f"{m}:{d}") for m, d in PRIVATE_NAMES]
)
def test_removing_a_private_name_is_a_clear_error(
    module: str, dotted: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner, name = _owner(module, dotted)
    if isinstance(owner, enum.EnumMeta):  # a member cannot go: the enum loses it instead
        without = enum.Enum(owner.__name__, [(m.name, m.value) for m in owner if m.name != name])  # type: ignore[misc]
        monkeypatch.setattr(importlib.import_module(module), owner.__name__, without)
    else:
        monkeypatch.setattr(owner, name, None)
    with pytest.raises(check.IncompatibleAzureEventHubError) as info:
        check.check_internals()
    message = str(info.value)
    assert f"{module}.{dotted} is gone" in message
    assert f"verified with azure-eventhub {VERIFIED_VERSIONS[0]}" in message


def test_a_removed_instance_attribute_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from azure.eventhub.aio._producer_async import EventHubProducer

    original = EventHubProducer.__init__

    def without_target(self: EventHubProducer, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)  # type: ignore[arg-type]
        del self._target

    monkeypatch.setattr(EventHubProducer, "__init__", without_target)
    with pytest.raises(check.IncompatibleAzureEventHubError, match="has no attribute '_target'"):
        check.check_internals()


def _private_uses(path: Path) -> tuple[set[str], set[str]]:
    """The private attributes (``x._name``, not ``self._``) and private modules in *path*."""
    tree = ast.parse(path.read_text())
    attributes: set[str] = set()
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            if node.attr.startswith("__"):
                continue
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                continue
            attributes.add(node.attr)
        elif (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith("azure")
            and any(part.startswith("_") for part in node.module.split("."))
        ):
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return attributes, modules


def test_the_lists_cover_every_private_use_in_the_adapter() -> None:
    listed_names = {dotted.split(".")[-1] for _, dotted in PRIVATE_NAMES}
    listed_names |= {name for names in INSTANCE_ATTRIBUTES.values() for name in names}
    listed_modules = {module for module, _ in PRIVATE_NAMES}
    ours = {"_open", "_close", "_source", "_config"} - listed_names
    missing = []
    for path in ADAPTER:
        attributes, modules = _private_uses(path)
        missing += [f"{path.name}: .{a}" for a in sorted(attributes - listed_names - ours)]
        for imported in sorted(modules):
            module, _, name = imported.rpartition(".")
            if module not in listed_modules and imported not in listed_modules:
                missing.append(f"{path.name}: from {module} import {name}")
    assert missing == []


def test_importing_the_package_runs_no_check() -> None:
    """A broken private module does not stop ``import anyio_eventhubs`` or the in-memory hub;
    the azure transport then refuses with the clear error."""
    program = """
import azure.eventhub.aio._producer_async as changed
changed.EventHubProducer._open = None  # an azure-eventhub without it
import anyio_eventhubs
from anyio_eventhubs.testing import InMemoryEventHub
InMemoryEventHub(partition_count=1)
from anyio_eventhubs._azure import azure_transport
try:
    azure_transport("Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;"
                    "SharedAccessKey=s;EntityPath=hub")
except Exception as exc:
    print(type(exc).__name__, exc)
"""
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", program],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("IncompatibleAzureEventHubError")
    assert "EventHubProducer._open is gone" in done.stdout
    assert f"verified with azure-eventhub {VERIFIED_VERSIONS[0]}" in done.stdout


@pytest.mark.anyio
async def test_a_changed_client_fails_when_opening_not_on_every_send(
    fresh_check: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from azure.eventhub._pyamqp.aio._client_async import SendClientAsync

    monkeypatch.delattr(SendClientAsync, "send_message_async")
    with EventHubsEmulator({"eh1": 2}) as emulator:
        for _ in range(2):  # the result is kept: the same clear error every time
            with pytest.raises(check.IncompatibleAzureEventHubError, match="send_message_async"):
                async with open_streaming_producer(emulator.connection_string("eh1")):
                    pass  # pragma: no cover
        assert emulator.connections_accepted == 0
