"""Signing and verifying the ERP change hook (docs/erp-sync-api.yaml, ``webhooks.erpChange``).

The ERP signs ``"<timestamp>.<raw body>"`` with HMAC-SHA256 and a shared secret, the way Stripe and
GitHub sign theirs: binding the timestamp into the MAC lets the receiver refuse replays older than a
window without keeping a store of seen calls. Pure functions, no I/O, so the Azure Function stays thin.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Literal

from pydantic import ValidationError

from shared.core.activities import ErpModel
from shared.errors import SyncError

TIMESTAMP_HEADER = "X-Erp-Timestamp"
SIGNATURE_HEADER = "X-Erp-Signature"
SIGNATURE_PREFIX = "sha256="
DEFAULT_WINDOW_SECONDS = 300


class HookChange(ErpModel):
    """One entry of a change-hook call: which record changed and whose calendars it touches."""

    entity: Literal["activity", "leaveRequest"]
    id: str
    user_ids: tuple[str, ...] = ()


class HookPayload(ErpModel):
    changes: tuple[HookChange, ...]


class HookRejected(SyncError):
    """A change-hook call is not authentic, too old, or unreadable; the caller answers 401 and queues nothing."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _mac(body: bytes, *, secret: str, timestamp: str) -> str:
    signed = timestamp.encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def sign_hook(body: bytes, *, secret: str, timestamp: int) -> dict[str, str]:
    """The headers the ERP sends with ``body``: the unix timestamp and ``sha256=<hex HMAC>``."""
    stamp = str(int(timestamp))
    return {
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: SIGNATURE_PREFIX + _mac(body, secret=secret, timestamp=stamp),
        "Content-Type": "application/json",
    }


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    # HTTP header names are case-insensitive (RFC 9110 §5.1); plain dicts are not.
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def verify_hook(
    headers: Mapping[str, str],
    body: bytes,
    *,
    secret: str,
    now: float,
    window_seconds: int = DEFAULT_WINDOW_SECONDS,
) -> HookPayload:
    """The payload of an authentic, fresh call; ``HookRejected`` for anything else.

    The signature is checked before the body is parsed, so nothing unauthenticated is interpreted.
    """
    if not secret:
        raise HookRejected("no hook secret configured")
    stamp = header_value(headers, TIMESTAMP_HEADER)
    signature = header_value(headers, SIGNATURE_HEADER)
    if stamp is None:
        raise HookRejected(f"missing {TIMESTAMP_HEADER} header")
    if signature is None:
        raise HookRejected(f"missing {SIGNATURE_HEADER} header")
    stamp = stamp.strip()
    if not stamp.isascii() or not stamp.isdigit():
        raise HookRejected(f"{TIMESTAMP_HEADER} is not unix seconds")
    if abs(now - int(stamp)) > window_seconds:
        raise HookRejected("timestamp outside the replay window")
    signature = signature.strip()
    if not signature.startswith(SIGNATURE_PREFIX):
        raise HookRejected(f"{SIGNATURE_HEADER} is not of the form sha256=<hex>")
    expected = _mac(body, secret=secret, timestamp=stamp)
    given = signature[len(SIGNATURE_PREFIX) :].lower()
    if not hmac.compare_digest(expected.encode("ascii"), given.encode("ascii", errors="replace")):
        raise HookRejected("signature does not match")
    try:
        return HookPayload.model_validate_json(body)
    except ValidationError as exc:
        raise HookRejected(f"malformed body: {exc.error_count()} validation error(s)") from None
