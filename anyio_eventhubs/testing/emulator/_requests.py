"""The ``$cbs`` and ``$management`` nodes: a request in, the encoded reply out."""

from __future__ import annotations

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
            guard.token_put(audience, token_expiry(request))
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
