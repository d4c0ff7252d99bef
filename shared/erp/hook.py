"""Signing and verifying the ERP change hook (docs/erp-sync-api.yaml, ``webhooks.erpChange``).

The ERP signs ``"<timestamp>.<delivery id>.<raw body>"`` with HMAC-SHA256 and a shared secret, the way
Stripe and GitHub sign theirs. Binding the timestamp into the MAC lets the receiver refuse calls older
than a window; binding the delivery id (unique per delivery, kept by its retries) lets it refuse a
replay inside the window by remembering ids for that long, while two real changes signed in the same
second stay distinct calls (R5). The id has no ``.``, so the signed string parses one way only.
Pure functions, no I/O, so the Azure Function stays thin.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pydantic import ValidationError

from shared.core.activities import ErpModel
from shared.errors import SyncError

TIMESTAMP_HEADER = "X-Erp-Timestamp"
DELIVERY_HEADER = "X-Erp-Delivery"
SIGNATURE_HEADER = "X-Erp-Signature"
SIGNATURE_PREFIX = "sha256="
DEFAULT_WINDOW_SECONDS = 300
# URL-unreserved characters without ".", so "<timestamp>.<delivery id>.<body>" splits one way only.
_DELIVERY_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


class HookChange(ErpModel):
    """One entry of a change-hook call: which record changed and whose calendars it touches."""

    entity: Literal["activity", "leaveRequest"]
    id: str
    user_ids: tuple[str, ...] = ()
    # The record's version after the write (absent for a deletion): the echo of the sync's own write is the
    # version its link already holds (issue 12).
    version: int | None = None


class HookPayload(ErpModel):
    changes: tuple[HookChange, ...]


class HookRejected(SyncError):
    """A change-hook call is not authentic, too old, or unreadable; the caller answers 401 and queues nothing."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class HookDelivery:
    """An authentic, fresh change-hook call: its delivery id, when it was signed, and what it says."""

    delivery_id: str
    timestamp: int
    payload: HookPayload


def is_delivery_id(value: str) -> bool:
    """Whether ``value`` may be a delivery id: 1-128 letters, digits, ``-`` or ``_`` (a UUID fits)."""
    return _DELIVERY_ID.fullmatch(value) is not None


def _mac(body: bytes, *, secret: str, timestamp: str, delivery_id: str) -> str:
    signed = timestamp.encode("ascii") + b"." + delivery_id.encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def sign_hook(body: bytes, *, secret: str, timestamp: int, delivery_id: str) -> dict[str, str]:
    """The headers the ERP sends with ``body``: the unix timestamp, the delivery id and ``sha256=<hex HMAC>``.

    ``delivery_id`` is new for each delivery and the same on its retries (which re-sign with a fresh timestamp).
    """
    if not is_delivery_id(delivery_id):
        raise ValueError("delivery_id must be 1-128 letters, digits, '-' or '_'")
    stamp = str(int(timestamp))
    return {
        TIMESTAMP_HEADER: stamp,
        DELIVERY_HEADER: delivery_id,
        SIGNATURE_HEADER: SIGNATURE_PREFIX + _mac(body, secret=secret, timestamp=stamp, delivery_id=delivery_id),
        "Content-Type": "application/json",
    }


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    # HTTP header names are case-insensitive (RFC 9110 §5.1); plain dicts are not.
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def verify_delivery(
    headers: Mapping[str, str],
    body: bytes,
    *,
    secret: str,
    now: float,
    window_seconds: int = DEFAULT_WINDOW_SECONDS,
) -> HookDelivery:
    """The delivery of an authentic, fresh call; ``HookRejected`` for anything else.

    The signature is checked before the body is parsed, so nothing unauthenticated is interpreted. A call
    without a delivery id is refused: the contract requires one (there is no unsigned-id fallback).
    Whether the delivery was seen before is the caller's question (``ReplayGuard.first_use``).
    """
    if not secret:
        raise HookRejected("no hook secret configured")
    stamp = header_value(headers, TIMESTAMP_HEADER)
    delivery_id = header_value(headers, DELIVERY_HEADER)
    signature = header_value(headers, SIGNATURE_HEADER)
    if stamp is None:
        raise HookRejected(f"missing {TIMESTAMP_HEADER} header")
    if delivery_id is None:
        raise HookRejected(f"missing {DELIVERY_HEADER} header")
    if signature is None:
        raise HookRejected(f"missing {SIGNATURE_HEADER} header")
    stamp = stamp.strip()
    if not stamp.isascii() or not stamp.isdigit():
        raise HookRejected(f"{TIMESTAMP_HEADER} is not unix seconds")
    if abs(now - int(stamp)) > window_seconds:
        raise HookRejected("timestamp outside the replay window")
    delivery_id = delivery_id.strip()
    if not is_delivery_id(delivery_id):
        raise HookRejected(f"{DELIVERY_HEADER} is not 1-128 letters, digits, '-' or '_'")
    signature = signature.strip()
    if not signature.startswith(SIGNATURE_PREFIX):
        raise HookRejected(f"{SIGNATURE_HEADER} is not of the form sha256=<hex>")
    expected = _mac(body, secret=secret, timestamp=stamp, delivery_id=delivery_id)
    given = signature[len(SIGNATURE_PREFIX) :].lower()
    if not hmac.compare_digest(expected.encode("ascii"), given.encode("ascii", errors="replace")):
        raise HookRejected("signature does not match")
    try:
        payload = HookPayload.model_validate_json(body)
    except ValidationError as exc:
        raise HookRejected(f"malformed body: {exc.error_count()} validation error(s)") from None
    return HookDelivery(delivery_id=delivery_id, timestamp=int(stamp), payload=payload)


def verify_hook(
    headers: Mapping[str, str],
    body: bytes,
    *,
    secret: str,
    now: float,
    window_seconds: int = DEFAULT_WINDOW_SECONDS,
) -> HookPayload:
    """The payload of an authentic, fresh call (``verify_delivery`` without the delivery's metadata)."""
    return verify_delivery(headers, body, secret=secret, now=now, window_seconds=window_seconds).payload
