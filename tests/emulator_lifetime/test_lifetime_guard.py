"""The per-connection lifetime rules, driven by hand: tokens, first token, links (no sockets)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

import pytest

from anyio_eventhubs.testing.emulator import check_sas_token
from anyio_eventhubs.testing.emulator._cbs import token_expiry
from anyio_eventhubs.testing.emulator._lifetime import (
    CONNECTION_FORCED,
    LINK_DETACH_FORCED,
    SERVICE_RULES,
    UNAUTHORIZED_ACCESS,
    ConnectionGuard,
    ServiceRules,
    audience_path,
)
from anyio_eventhubs.testing.emulator._messages import Request

NOW = 1_000_000.0


@dataclass
class _Link:
    name: str


@dataclass
class _Host:
    """Records what the guard asks of its connection; timers run when the test says."""

    timers: list[tuple[float, Callable[[], None]]] = field(default_factory=list)
    detached: list[tuple[str, str, str]] = field(default_factory=list)
    closed: list[tuple[str, str]] = field(default_factory=list)

    def call_later(self, delay: float, callback: Callable[[], None]) -> None:
        self.timers.append((delay, callback))

    def detach_link(self, link: Any, condition: str, description: str) -> None:
        self.detached.append((link.name, condition, description))

    def close_connection(self, condition: str, description: str) -> None:
        self.closed.append((condition, description))

    def run_timers(self, delay: float) -> None:
        for when, callback in list(self.timers):
            if when == delay:
                callback()


def _guard(**rules: Any) -> tuple[ConnectionGuard, _Host]:
    host = _Host()
    options = {
        "first_token_timeout": None,
        "first_link_timeout": None,
        "link_idle_timeout": None,
        **rules,
    }
    return ConnectionGuard(ServiceRules(**options), host), host


def test_the_defaults_are_the_service_values() -> None:
    assert (
        ServiceRules(
            first_token_timeout=20.0,
            max_token_lifetime=None,
            idle_timeout=240.0,
            first_link_timeout=60.0,
            linkless_timeout=300.0,
        )
        == SERVICE_RULES
    )


@pytest.mark.parametrize("bad", [0, -1.0, float("inf"), float("nan")])
def test_a_timing_must_be_a_positive_number_of_seconds(bad: float) -> None:
    with pytest.raises(ValueError, match="idle_timeout must be a positive number of seconds"):
        ServiceRules(idle_timeout=bad)
    with pytest.raises(TypeError, match="linkless_timeout must be a number of seconds or None"):
        ServiceRules(linkless_timeout="5")  # type: ignore[arg-type]


def test_audiences_and_addresses_compare_by_their_entity_path() -> None:
    assert audience_path("sb://ns.servicebus.windows.net/EH1") == ("eh1",)
    assert audience_path("amqps://host:5671/eh1/Partitions/0") == ("eh1", "partitions", "0")
    assert audience_path("eh1/ConsumerGroups/$default/Partitions/1")[:2] == (
        "eh1",
        "consumergroups",
    )
    assert audience_path("sb://ns.servicebus.windows.net/") == ()


def test_an_expired_token_detaches_only_the_links_of_its_entity() -> None:
    guard, host = _guard()
    guard.token_put("sb://ns/eh1", NOW + 10, now=NOW)
    guard.token_put("sb://ns/eh2", NOW + 100, now=NOW)
    guard.link_attached(_Link("send-0"), "amqps://ns/eh1/Partitions/0", is_sender=True, entity=True)
    guard.link_attached(
        _Link("recv-0"), "eh1/ConsumerGroups/$default/Partitions/0", is_sender=False, entity=True
    )
    guard.link_attached(_Link("other"), "amqps://ns/eh2", is_sender=True, entity=True)
    guard.link_attached(_Link("cbs"), "$cbs", is_sender=True, entity=False)

    guard.check_tokens(now=NOW + 9.9)
    assert host.detached == []
    guard.check_tokens(now=NOW + 10)
    assert [(name, condition) for name, condition, _ in host.detached] == [
        ("send-0", LINK_DETACH_FORCED),
        ("recv-0", LINK_DETACH_FORCED),
    ]
    send, receive = host.detached[0][2], host.detached[1][2]
    assert "Code: RenewToken" in send
    assert "'Send' claim(s) are required" in send
    assert "'Listen' claim(s) are required" in receive
    assert "Resource: 'sb://ns/eh1'" in receive
    assert guard.expired_detaches == 2


def test_a_fresh_token_put_in_time_keeps_the_links() -> None:
    guard, host = _guard()
    guard.token_put("sb://ns/eh1", NOW + 10, now=NOW)
    guard.link_attached(_Link("send"), "amqps://ns/eh1", is_sender=True, entity=True)
    guard.token_put("sb://ns/eh1", NOW + 20, now=NOW + 8)
    guard.check_tokens(now=NOW + 15)
    assert host.detached == []
    guard.check_tokens(now=NOW + 20)
    assert [name for name, _, _ in host.detached] == ["send"]


def test_a_namespace_token_covers_every_entity() -> None:
    guard, host = _guard()
    guard.token_put("sb://ns/eh1", NOW + 10, now=NOW)
    guard.token_put("sb://ns.servicebus.windows.net/", NOW + 60, now=NOW)
    guard.link_attached(_Link("send"), "amqps://ns/eh1/Partitions/3", is_sender=True, entity=True)
    guard.check_tokens(now=NOW + 30)
    assert host.detached == []
    assert guard.refusal("amqps://ns/eh9", is_sender=True, now=NOW + 30) is None


def test_after_expiry_new_links_are_refused_until_a_fresh_token() -> None:
    guard, _ = _guard()
    assert guard.refusal("amqps://ns/eh1", is_sender=True, now=NOW) is None  # no token yet
    guard.token_put("sb://ns/eh1", NOW + 10, now=NOW)
    assert guard.refusal("amqps://ns/eh1/Partitions/0", is_sender=True, now=NOW + 5) is None
    refusal = guard.refusal("amqps://ns/eh1/Partitions/0", is_sender=True, now=NOW + 10)
    assert refusal is not None
    assert "'Send' claim(s) are required" in refusal
    assert guard.refusal("amqps://ns/eh2", is_sender=False, now=NOW + 5) is not None
    guard.token_put("sb://ns/eh1", NOW + 70, now=NOW + 11)
    assert guard.refusal("amqps://ns/eh1/Partitions/0", is_sender=True, now=NOW + 11) is None


def test_max_token_lifetime_caps_what_a_token_says() -> None:
    guard, host = _guard(max_token_lifetime=2.0)
    guard.token_put("sb://ns/eh1", NOW + 3600, now=NOW)
    guard.token_put("sb://ns/eh2", None, now=NOW)  # a token with no expiry at all
    guard.link_attached(_Link("a"), "amqps://ns/eh1", is_sender=True, entity=True)
    guard.link_attached(_Link("b"), "amqps://ns/eh2", is_sender=True, entity=True)
    assert [delay for delay, _ in host.timers] == [2.0, 2.0]
    guard.check_tokens(now=NOW + 2)
    assert [name for name, _, _ in host.detached] == ["a", "b"]


def test_a_token_without_expiry_never_expires_without_a_cap() -> None:
    guard, host = _guard()
    guard.token_put("sb://ns/eh1", None, now=NOW)
    guard.link_attached(_Link("a"), "amqps://ns/eh1", is_sender=True, entity=True)
    guard.check_tokens(now=NOW + 10**9)
    assert (host.timers, host.detached) == ([], [])


def test_a_connection_without_a_token_in_time_is_closed() -> None:
    guard, host = _guard(first_token_timeout=20.0)
    assert [delay for delay, _ in host.timers] == [20.0]
    host.run_timers(20.0)
    ((condition, description),) = host.closed
    assert condition == UNAUTHORIZED_ACCESS
    assert "within 20 seconds" in description

    guard, host = _guard(first_token_timeout=20.0)
    guard.token_put("sb://ns/eh1", NOW + 3600, now=NOW)
    host.run_timers(20.0)
    assert host.closed == []


def test_a_connection_without_a_link_in_time_is_closed_by_the_link_tracker() -> None:
    guard, host = _guard(first_link_timeout=60.0)
    host.run_timers(60.0)
    assert host.closed == [
        (
            CONNECTION_FORCED,
            "The connection was inactive for more than the allowed 60000 milliseconds and is "
            "closed by container 'LinkTracker'. (emulated)",
        )
    ]
    guard, host = _guard(first_link_timeout=60.0)
    guard.link_attached(_Link("cbs"), "$cbs", is_sender=True, entity=False)
    host.run_timers(60.0)
    assert host.closed == []


def test_a_connection_whose_links_all_closed_is_closed_unless_a_link_comes_back() -> None:
    guard, host = _guard(linkless_timeout=300.0)
    first, second = _Link("a"), _Link("b")
    guard.link_attached(first, "amqps://ns/eh1", is_sender=True, entity=True)
    guard.link_closed(first)
    guard.link_attached(second, "amqps://ns/eh1", is_sender=True, entity=True)
    host.run_timers(300.0)  # the link came back before the timer: nothing happens
    assert host.closed == []
    guard.link_closed(second)
    guard.link_closed(second)  # a second close of the same link is ignored
    host.timers = host.timers[-1:]
    host.run_timers(300.0)
    ((condition, description),) = host.closed
    assert condition == CONNECTION_FORCED
    assert "allowed 300000 milliseconds" in description


def test_a_link_with_a_recent_transfer_is_not_idle() -> None:
    guard, host = _guard(link_idle_timeout=1800.0)
    link = _Link("send")
    guard.link_attached(link, "amqps://ns/eh1", is_sender=True, entity=True)
    guard.link_attached(_Link("cbs"), "$cbs", is_sender=True, entity=False)  # never idle
    ((delay, check),) = host.timers
    assert delay == 1800.0
    guard.link_active(link)
    check()  # the link was active a moment ago: checked again later, not detached
    assert host.detached == []
    assert len(host.timers) == 2
    assert 1799.0 < host.timers[1][0] <= 1800.0
    guard._active[("send", False)] -= 1800.0  # pretend the last transfer was 30 minutes ago
    host.timers[1][1]()
    ((name, condition, description),) = host.detached
    assert (name, condition) == ("send", LINK_DETACH_FORCED)
    assert description.startswith("Idle link tracker, link send has been idle for 1800000ms")


def test_a_closed_link_is_not_checked_for_idleness() -> None:
    guard, host = _guard(link_idle_timeout=1800.0, linkless_timeout=None)
    link = _Link("send")
    guard.link_attached(link, "amqps://ns/eh1", is_sender=True, entity=True)
    guard.link_closed(link)
    guard.link_attached(link, "amqps://ns/eh1", is_sender=True, entity=True)  # same name again
    host.timers[0][1]()  # the first attach's timer: not this link any more
    assert (host.detached, len(host.timers)) == ([], 2)


def _sas_token(audience: str, expiry: int) -> str:
    signed = f"{quote_plus(audience)}\n{expiry}".encode()
    digest = hmac.new(b"emulator-key", signed, hashlib.sha256).digest()
    signature = quote_plus(base64.b64encode(digest).decode())
    return (
        f"SharedAccessSignature sr={quote_plus(audience)}&sig={signature}&se={expiry}&skn=emulator"
    )


def test_an_expired_sas_token_is_refused_in_the_service_words() -> None:
    token = _sas_token("sb://ns/eh1", expiry=1_700_000_000)
    assert check_sas_token(token, "emulator", "emulator-key", now=1_600_000_000) is None
    assert check_sas_token(token, "emulator", "emulator-key", now=1_700_000_000) == (
        "ExpiredToken: The token is expired. Expiration time: '2023-11-14 22:13:20Z'"
    )


def test_a_token_expiry_comes_from_the_sas_or_the_put_token_expiration() -> None:
    def request(body: str, **properties: Any) -> Request:
        return Request(message_id=None, reply_to=None, application_properties=properties, body=body)

    assert token_expiry(request(_sas_token("sb://ns/eh1", 1_700_000_000))) == 1_700_000_000
    at = datetime(2030, 1, 1, tzinfo=UTC)
    assert token_expiry(request("a.jwt.token", expiration=at)) == at.timestamp()
    assert token_expiry(request("a.jwt.token")) is None
