"""Claims-based security: the ``$cbs`` put-token operation and SAS token checks.

With a key configured the emulator checks a SAS token as the service does: the key name,
the expiry and the HMAC-SHA256 signature of ``"<url-encoded audience>\\n<expiry>"``. A
bad token is answered with status 401, which azure-eventhub raises as an authentication
error. JWTs are accepted unchecked (there is no identity provider to check them with).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from datetime import UTC, datetime
from urllib.parse import quote_plus, unquote_plus

from ._faults import FaultInjector
from ._messages import Request

__all__ = ["JWT", "SAS_TOKEN", "check_sas_token", "put_token", "token_expiry"]

SAS_TOKEN = "servicebus.windows.net:sastoken"
JWT = "jwt"
_PREFIX = "SharedAccessSignature "


def check_sas_token(token: str, key_name: str, key: str, *, now: float | None = None) -> str | None:
    """Return why ``token`` is not valid for ``key_name``/``key``, or ``None`` if it is."""
    if not token.startswith(_PREFIX):
        return "not a SharedAccessSignature token"
    fields: dict[str, str] = {}
    for part in token[len(_PREFIX) :].split("&"):
        name, _, value = part.partition("=")
        fields[name] = value
    missing = [f for f in ("sr", "sig", "se", "skn") if f not in fields]
    if missing:
        return f"SAS token lacks {', '.join(missing)}"
    if unquote_plus(unquote_plus(fields["skn"])) != key_name:
        return f"unknown key name {unquote_plus(fields['skn'])!r}"
    try:
        expiry = int(unquote_plus(fields["se"]))
    except ValueError:
        return "SAS token expiry is not a number"
    if expiry <= (time.time() if now is None else now):  # the service's words
        expired_at = datetime.fromtimestamp(expiry, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        return f"ExpiredToken: The token is expired. Expiration time: '{expired_at}'"
    signature = unquote_plus(fields["sig"])
    audience = unquote_plus(fields["sr"])
    for signed in {fields["sr"], quote_plus(audience)}:
        digest = hmac.new(key.encode(), f"{signed}\n{expiry}".encode(), hashlib.sha256).digest()
        if hmac.compare_digest(base64.b64encode(digest).decode(), signature):
            return None
    return "SAS token signature does not match"


def token_expiry(request: Request) -> float | None:
    """When the token of a put-token request expires, in wall-clock seconds, if known.

    A SAS token says so itself (``se=``); otherwise the request's optional ``expiration``
    application property (a timestamp) is used, as azure-eventhub sends it with a JWT.
    """
    body = request.body
    if isinstance(body, str) and body.startswith(_PREFIX):
        for part in body[len(_PREFIX) :].split("&"):
            name, _, value = part.partition("=")
            if name == "se":
                try:
                    return float(unquote_plus(value))
                except ValueError:
                    return None
    expiration = request.application_properties.get("expiration")
    if isinstance(expiration, datetime):
        return expiration.timestamp()
    if isinstance(expiration, int | float) and not isinstance(expiration, bool):
        return expiration / 1000  # a timestamp too large for datetime stays milliseconds
    return None


def put_token(
    request: Request, *, key_name: str, key: str | None, faults: FaultInjector
) -> tuple[int, str]:
    """Answer a ``$cbs`` request: ``(status code, status description)``."""
    props = request.application_properties
    if props.get("operation") != "put-token":
        return 400, f"unsupported CBS operation {props.get('operation')!r}"
    token_type = props.get("type")
    if token_type not in (SAS_TOKEN, JWT):
        return 400, f"unsupported token type {token_type!r}"
    if not isinstance(request.body, str):
        return 400, "the token must be an amqp-value string"
    if faults.auth_refused():
        return 401, "Unauthorized: authentication refused by the emulator (fault injected)"
    if token_type == SAS_TOKEN and key is not None:
        problem = check_sas_token(request.body, key_name, key)
        if problem is not None:
            return 401, f"Unauthorized: {problem}"
    return 202, "Accepted"
