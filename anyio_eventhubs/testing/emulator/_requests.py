"""The ``$cbs`` and ``$management`` nodes: a request in, the encoded reply out."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from ._cbs import put_token, token_expiry
from ._codec import Encoded, encode_int
from ._hooks import ServerHooks
from ._lifetime import ConnectionGuard
from ._management import read
from ._messages import encode_reply, parse_request

__all__ = ["CBS_NODE", "MANAGEMENT_NODE", "answer_request"]

CBS_NODE, MANAGEMENT_NODE = "$cbs", "$management"


def answer_request(
    node: str, payload: bytes, hooks: ServerHooks, guard: ConnectionGuard
) -> bytes | None:
    """Answer a request to ``node``; ``None`` if the payload is not a message.

    An accepted put-token is recorded with its audience and expiry in ``guard``.
    """
    try:
        request = parse_request(payload)
    except (ValueError, IndexError):
        return None
    body = None
    if node == CBS_NODE:
        status, description = put_token(
            request, key_name=hooks.key_name, key=hooks.key, faults=hooks.faults
        )
        audience = request.application_properties.get("name")
        if status == 202 and isinstance(audience, str):
            expiry = token_expiry(request)
            first_put = _first_put(hooks, request.body)
            if first_put is not None:
                status, description = _expired_early(hooks, first_put, description)
            if status == 202:
                guard.token_put(audience, expiry, first_put=first_put)
    else:
        status, description, body = read(
            request, hooks.store, key_name=hooks.key_name, key=hooks.key
        )
    code = Encoded(encode_int(status))
    properties = {
        "status-code": code,
        "status-description": description,
        "statusCode": code,
        "statusDescription": description,
    }
    return encode_reply(request.message_id, properties, body)


#: seconds a token is remembered after its capped expiry (to refuse it if put again)
_REMEMBER = 3600.0


def _first_put(hooks: ServerHooks, token: object) -> float | None:
    """When *token* (this exact string) was first accepted, with ``max_token_lifetime`` on.

    The cap stands for a token whose real expiry is earlier than its holder believes: it
    belongs to the token, as a SAS ``se=`` or a JWT's ``exp`` does, so putting the same
    token again does not extend it; only a new token does.
    """
    cap = hooks.rules.max_token_lifetime
    if cap is None or not isinstance(token, str):
        return None
    now = time.time()
    seen = hooks.tokens_first_put
    if token not in seen:
        for old in [t for t, first in seen.items() if first + cap + _REMEMBER < now]:
            del seen[old]
    return seen.setdefault(token, now)


def _expired_early(hooks: ServerHooks, first_put: float, description: str) -> tuple[int, str]:
    """401 with the service's "ExpiredToken" text if the token's capped lifetime is over."""
    cap = hooks.rules.max_token_lifetime
    assert cap is not None
    expiry = first_put + cap
    if expiry > time.time():
        return 202, description
    expired_at = datetime.fromtimestamp(expiry, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return 401, (
        f"Unauthorized: ExpiredToken: The token is expired. Expiration time: '{expired_at}' "
        "(emulated: max_token_lifetime)"
    )
