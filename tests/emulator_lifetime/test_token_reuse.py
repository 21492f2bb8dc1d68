"""``max_token_lifetime`` belongs to the token: the same token put again is not renewed.

(azure-eventhub's own client, which signs a new token when it attaches again, is in
``test_lifetime_connections.py``.)"""

from __future__ import annotations

from typing import Any

from anyio_eventhubs.testing.emulator._lifetime import ServiceRules
from anyio_eventhubs.testing.emulator._requests import _expired_early, _first_put


class _Hooks:
    def __init__(self, cap: float | None) -> None:
        self.rules = ServiceRules(max_token_lifetime=cap)
        self.tokens_first_put: dict[str, float] = {}


def test_a_token_is_capped_from_its_first_put_and_refused_after() -> None:
    hooks: Any = _Hooks(1.0)
    first = _first_put(hooks, "token-a")
    assert first is not None
    assert _first_put(hooks, "token-a") == first  # put again: the same start
    assert _expired_early(hooks, first, "Accepted") == (202, "Accepted")
    status, description = _expired_early(hooks, first - 1.0, "Accepted")
    assert status == 401
    assert "ExpiredToken: The token is expired" in description
    later = _first_put(hooks, "token-b")  # a new token counts from its own first put
    assert later is not None
    assert later >= first
    assert set(hooks.tokens_first_put) == {"token-a", "token-b"}


def test_without_a_cap_nothing_is_remembered() -> None:
    hooks: Any = _Hooks(None)
    assert _first_put(hooks, "token-a") is None
    assert hooks.tokens_first_put == {}
