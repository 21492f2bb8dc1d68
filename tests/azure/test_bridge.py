"""The bridge to azure-eventhub's asyncio loop: results, errors, cancellation, threads."""

from __future__ import annotations

import asyncio
import threading

import anyio
import anyio.abc
import pytest

from anyio_eventhubs._azure import _bridge
from anyio_eventhubs._azure._bridge import open_bridge

pytestmark = pytest.mark.anyio

BRIDGE_THREAD = "anyio-eventhubs asyncio bridge"


async def on_loop(value: int) -> tuple[int, str]:
    await asyncio.sleep(0)
    asyncio.get_running_loop()  # raises unless this runs on an asyncio loop
    return value * 2, threading.current_thread().name


@pytest.fixture
def unsteppable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make open_bridge fall back to its thread (the loop in a thread of its own)."""
    monkeypatch.setattr(_bridge, "can_step", lambda loop, selector: False)


async def test_run_returns_the_result_from_an_asyncio_loop(
    backend_name: str, unsteppable: None
) -> None:
    async with open_bridge() as bridge:
        result, thread_name = await bridge.run(on_loop, 21)
    assert result == 42
    if backend_name == "trio":
        assert bridge.in_thread
        assert thread_name == BRIDGE_THREAD
    else:
        assert not bridge.in_thread
        assert thread_name == threading.current_thread().name


async def test_run_raises_what_the_coroutine_raises() -> None:
    async def fail() -> None:
        await asyncio.sleep(0)
        raise KeyError("from the loop")

    async with open_bridge() as bridge:
        with pytest.raises(KeyError, match="from the loop"):
            await bridge.run(fail)


@pytest.mark.parametrize("stepped", [True, False], ids=["stepped", "thread"])
async def test_cancelling_the_caller_cancels_the_coroutine_and_waits_for_it(
    backend_name: str, stepped: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not stepped:
        monkeypatch.setattr(_bridge, "can_step", lambda loop, selector: False)
    started = anyio.Event()
    token = anyio.lowlevel.current_token()
    state: list[str] = []

    async def wait_forever() -> None:
        if threading.current_thread().name == BRIDGE_THREAD:
            anyio.from_thread.run_sync(started.set, token=token)
        else:
            started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            state.append("cancelled")
            await asyncio.sleep(0.01)  # cleanup that takes a while, and is waited for
            state.append("cleaned up")
            raise

    async with open_bridge() as bridge:
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as task_group:
                task_group.start_soon(bridge.run, wait_forever)
                with anyio.fail_after(5):
                    await started.wait()
                scope.cancel()
        assert scope.cancelled_caught
        if backend_name == "trio":
            # the asyncio task is cancelled once, and bridge.run returns after it ended
            assert state == ["cancelled", "cleaned up"]
        else:
            # on the caller's own loop, the caller's cancel scope keeps cancelling the
            # cleanup too (anyio's asyncio semantics): the transport shields its own
            assert state == ["cancelled"]
        # the loop is still usable afterwards
        assert (await bridge.run(on_loop, 1))[0] == 2


async def test_the_bridge_thread_ends_with_the_block(backend_name: str, unsteppable: None) -> None:
    async with open_bridge():
        names = {t.name for t in threading.enumerate()}
        assert (BRIDGE_THREAD in names) is (backend_name == "trio")
    assert BRIDGE_THREAD not in {t.name for t in threading.enumerate()}


@pytest.fixture(params=["stepped", "thread"])
def loop_kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Under Trio, the loop stepped on Trio's thread, or in a thread of its own."""
    if request.param == "thread":
        monkeypatch.setattr(_bridge, "can_step", lambda loop, selector: False)
    kind: str = request.param
    return kind


async def test_a_connection_left_open_on_the_bridges_own_loop_is_closed_with_it(
    backend_name: str, loop_kind: str
) -> None:
    # a client that leaves a connection open (or a TLS close still under way): under
    # Trio the loop is the bridge's own, and its socket must not outlive it (it would be
    # left to the garbage collector, with a ResourceWarning); under asyncio the loop is
    # the caller's, and the bridge leaves what is on it alone
    async def connect(port: int) -> asyncio.StreamWriter:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        return writer

    async with await anyio.create_tcp_listener(local_host="127.0.0.1") as listener:
        port = listener.extra(anyio.abc.SocketAttribute.local_port)
        accepted: list[anyio.abc.SocketStream] = []
        arrived = anyio.Event()

        async def keep(stream: anyio.abc.SocketStream) -> None:
            accepted.append(stream)
            arrived.set()

        async with anyio.create_task_group() as task_group:
            task_group.start_soon(listener.serve, keep)
            async with open_bridge() as bridge:
                writer = await bridge.run(connect, port)
                with anyio.fail_after(5):
                    await arrived.wait()
            (server_side,) = accepted
            if backend_name == "trio":
                assert writer.transport.is_closing()
                with anyio.fail_after(5), pytest.raises(anyio.EndOfStream):
                    await server_side.receive()  # the client's socket was closed
            else:
                assert not writer.transport.is_closing()
                writer.close()
                await writer.wait_closed()
            await server_side.aclose()
            task_group.cancel_scope.cancel()
