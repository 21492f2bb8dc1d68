"""The service's rules for long-lived connections: tokens that expire, connections left idle.

What Event Hubs does, with sources in ``docs/service-lifetime.md``:

- A connection must put a valid token on ``$cbs`` within 20 s of being established, or it
  is dropped (:attr:`ServiceRules.first_token_timeout`).
- When a token expires, the links of that connection to the token's entity are dropped:
  ``amqp:link:detach-forced``, "... Code: RenewToken. Details: Unauthorized access. 'Send'
  claim(s) are required ...". A fresh token put for the audience in time keeps them.
- A connection on which no link was opened within 60 s, or whose links all closed 300 s
  ago, is closed with ``amqp:connection:forced`` by the service's ``LinkTracker``
  (:attr:`ServiceRules.first_link_timeout`, :attr:`ServiceRules.linkless_timeout`).
- The service's AMQP ``open`` carries ``idle-time-out`` 240000 ms: a connection that sends
  no frame at all, not even an empty one, for that long is closed
  (:attr:`ServiceRules.idle_timeout`; proton does the counting).
- A link that carried no transfer for 30 minutes is detached with
  ``amqp:link:detach-forced`` ("Idle link tracker, link ... has been idle for 1800000ms")
  (:attr:`ServiceRules.link_idle_timeout`).

:class:`ConnectionGuard` applies them to one connection. It runs on the server thread and
acts through a :class:`GuardHost` (the connection).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, Protocol

__all__ = [
    "CONNECTION_FORCED",
    "LINK_DETACH_FORCED",
    "SERVICE_RULES",
    "UNAUTHORIZED_ACCESS",
    "ConnectionGuard",
    "GuardHost",
    "ServiceRules",
    "audience_path",
]

CONNECTION_FORCED = "amqp:connection:forced"
LINK_DETACH_FORCED = "amqp:link:detach-forced"
UNAUTHORIZED_ACCESS = "amqp:unauthorized-access"


@dataclass(frozen=True)
class ServiceRules:
    """How long the emulator lets a connection go before it acts as the service does.

    Every value is in seconds; ``None`` turns the rule off. The defaults are the service's
    own values (:data:`SERVICE_RULES`); tests shorten them.
    """

    first_token_timeout: float | None = 20.0
    """A connection that has put no accepted token on ``$cbs`` this long after it was
    accepted is closed with ``amqp:unauthorized-access``."""
    max_token_lifetime: float | None = None
    """Treat every token as expiring at most this long after it was first put, whatever
    its own expiry says (``None``: a token expires when it says, SAS ``se=`` or the
    put-token's ``expiration``). The same token put again after that is refused (401,
    "ExpiredToken"), as the service refuses an expired token."""
    idle_timeout: float | None = 240.0
    """The ``idle-time-out`` of the emulator's AMQP ``open``: a connection that sends no
    frame for this long is closed (``amqp:resource-limit-exceeded``)."""
    first_link_timeout: float | None = 60.0
    """A connection with no link attached this long after it was accepted is closed with
    ``amqp:connection:forced``."""
    linkless_timeout: float | None = 300.0
    """A connection whose links have all been closed for this long is closed with
    ``amqp:connection:forced``."""
    link_idle_timeout: float | None = 1800.0
    """A link to an entity that carried no transfer (either way) for this long is detached
    with ``amqp:link:detach-forced``."""

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"{item.name} must be a number of seconds or None, got {value!r}")
            if not value > 0 or math.isinf(value):
                raise ValueError(f"{item.name} must be a positive number of seconds, got {value}")


#: the service's values (see ``docs/service-lifetime.md``)
SERVICE_RULES = ServiceRules()


def audience_path(address: str) -> tuple[str, ...]:
    """The entity path of a token audience or link address, lowercased.

    ``sb://ns.servicebus.windows.net/eh1`` -> ``("eh1",)``; ``amqps://host/eh1/Partitions/0``
    -> ``("eh1", "partitions", "0")``; a bare ``eh1/Partitions/0`` likewise.
    """
    if "://" in address:
        address = address.split("://", 1)[1].partition("/")[2]
    return tuple(part.lower() for part in address.split("/") if part)


def _covers(audience: tuple[str, ...], path: tuple[str, ...]) -> bool:
    return path[: len(audience)] == audience


def _key(link: Any) -> tuple[str, bool]:
    """A link's name and our role on it (proton hands out a new wrapper per event)."""
    return (str(link.name), bool(getattr(link, "is_sender", False)))


class GuardHost(Protocol):
    """What the guard needs from its connection."""

    def call_later(self, delay: float, callback: Callable[[], None]) -> None: ...

    def detach_link(self, link: Any, condition: str, description: str) -> None: ...

    def close_connection(self, condition: str, description: str) -> None: ...


class _Token:
    __slots__ = ("audience", "expires_at", "path")

    def __init__(self, audience: str, path: tuple[str, ...], expires_at: float) -> None:
        self.audience = audience
        self.path = path
        self.expires_at = expires_at


class ConnectionGuard:
    """The rules of :class:`ServiceRules` for one connection (server thread only).

    Expiry times are wall-clock seconds (a SAS token's ``se=`` is one); timers are
    monotonic delays computed from them.
    """

    def __init__(self, rules: ServiceRules, host: GuardHost) -> None:
        self.rules = rules
        self._host = host
        self._tokens: dict[tuple[str, ...], _Token] = {}
        self._token_put = False
        #: link key -> (link, entity path or None for $cbs/$management, client sends)
        self._links: dict[tuple[str, bool], tuple[Any, tuple[str, ...] | None, bool]] = {}
        #: link key -> monotonic time of its last transfer (entity links only)
        self._active: dict[tuple[str, bool], float] = {}
        self._attached_any = False
        self._idle_since = 0  # bumped whenever the link count changes from or to zero
        self.expired_detaches = 0
        if rules.first_token_timeout is not None:
            host.call_later(rules.first_token_timeout, self._check_first_token)
        if rules.first_link_timeout is not None:
            host.call_later(rules.first_link_timeout, self._check_first_link)

    # --- tokens -----------------------------------------------------------------------

    def token_put(
        self,
        audience: str,
        expires_at: float | None,
        *,
        now: float | None = None,
        first_put: float | None = None,
    ) -> None:
        """Record an accepted token for ``audience`` (``expires_at``: wall-clock seconds).

        ``max_token_lifetime`` counts from *first_put*, when the same token was first put
        (on any connection), else from *now*.
        """
        now = time.time() if now is None else now
        expiry = math.inf if expires_at is None else expires_at
        if self.rules.max_token_lifetime is not None:
            start = now if first_put is None else first_put
            expiry = min(expiry, start + self.rules.max_token_lifetime)
        path = audience_path(audience)
        token = self._tokens[path] = _Token(audience, path, expiry)
        self._token_put = True
        if not math.isinf(expiry):
            self._host.call_later(max(0.0, expiry - now), lambda: self._on_expiry(token))

    def _on_expiry(self, token: _Token) -> None:
        self.check_tokens()
        if self._tokens.get(token.path) is token:  # the timer ran a little early: again
            self._host.call_later(
                max(0.001, token.expires_at - time.time()), lambda: self._on_expiry(token)
            )

    def refusal(self, address: str, is_sender: bool, *, now: float | None = None) -> str | None:
        """Why a link to ``address`` may not attach now (``None``: it may).

        Links are only checked once the connection has put a token: a connection that put
        none is left alone until the first-token rule closes it.
        """
        if not self._token_put:
            return None
        path = audience_path(address)
        now = time.time() if now is None else now
        if any(t.expires_at > now and _covers(t.path, path) for t in self._tokens.values()):
            return None
        claim = "Send" if is_sender else "Listen"
        return (
            f"Unauthorized access. '{claim}' claim(s) are required to perform this operation. "
            f"Resource: '{address}'. No unexpired token covers it (emulated)."
        )

    def check_tokens(self, *, now: float | None = None) -> None:
        """Drop the expired tokens, then detach the links no valid token covers."""
        now = time.time() if now is None else now
        expired = [t for t in self._tokens.values() if t.expires_at <= now]
        if not expired:
            return
        for token in expired:
            del self._tokens[token.path]
        valid = list(self._tokens.values())
        for link, path, is_sender in list(self._links.values()):
            if path is None:
                continue
            lost = next((t for t in expired if _covers(t.path, path)), None)
            if lost is None or any(_covers(t.path, path) for t in valid):
                continue
            claim = "Send" if is_sender else "Listen"
            self.expired_detaches += 1
            self._host.detach_link(
                link,
                LINK_DETACH_FORCED,
                f"The link '{link.name}' is force detached. Code: RenewToken. Details: "
                f"Unauthorized access. '{claim}' claim(s) are required to perform this "
                f"operation. Resource: '{lost.audience}'. The token expired (emulated).",
            )

    def _check_first_token(self) -> None:
        if not self._token_put:
            seconds = self.rules.first_token_timeout
            self._host.close_connection(
                UNAUTHORIZED_ACCESS,
                f"No token was put on $cbs within {seconds:g} seconds of connecting; "
                "the connection is dropped (emulated).",
            )

    # --- links ------------------------------------------------------------------------

    def link_attached(self, link: Any, address: str, *, is_sender: bool, entity: bool) -> None:
        """Count a link; ``entity`` links (not ``$cbs``/``$management``) need tokens.

        ``is_sender`` is the client's role: ``True`` when the client sends on it.
        """
        if not self._links:
            self._idle_since += 1
        self._attached_any = True
        key = _key(link)
        entry = (link, audience_path(address) if entity else None, is_sender)
        self._links[key] = entry
        timeout = self.rules.link_idle_timeout
        if entity and timeout is not None:
            self._active[key] = time.monotonic()
            self._host.call_later(timeout, lambda: self._check_link_idle(key, entry, timeout))

    def link_active(self, link: Any) -> None:
        """A transfer went over ``link`` (cheap: called for every transfer)."""
        key = _key(link)
        if key in self._active:
            self._active[key] = time.monotonic()

    def _check_link_idle(
        self, key: tuple[str, bool], entry: tuple[Any, Any, bool], timeout: float
    ) -> None:
        if self._links.get(key) is not entry:
            return  # closed, or closed and attached again under the same name
        idle = time.monotonic() - self._active[key]
        if idle < timeout:
            self._host.call_later(
                timeout - idle, lambda: self._check_link_idle(key, entry, timeout)
            )
            return
        link = entry[0]
        self._host.detach_link(
            link,
            LINK_DETACH_FORCED,
            f"Idle link tracker, link {link.name} has been idle for {round(timeout * 1000)}ms "
            "(emulated)",
        )

    def link_closed(self, link: Any) -> None:
        key = _key(link)
        self._active.pop(key, None)
        if self._links.pop(key, None) is None or self._links:
            return
        self._idle_since += 1
        timeout = self.rules.linkless_timeout
        if timeout is not None:
            generation = self._idle_since
            self._host.call_later(timeout, lambda: self._check_linkless(generation, timeout))

    def _check_first_link(self) -> None:
        if not self._attached_any and self.rules.first_link_timeout is not None:
            self._close_inactive(self.rules.first_link_timeout)

    def _check_linkless(self, generation: int, timeout: float) -> None:
        if not self._links and generation == self._idle_since:
            self._close_inactive(timeout)

    def _close_inactive(self, seconds: float) -> None:
        self._host.close_connection(
            CONNECTION_FORCED,
            f"The connection was inactive for more than the allowed {round(seconds * 1000)} "
            "milliseconds and is closed by container 'LinkTracker'. (emulated)",
        )
