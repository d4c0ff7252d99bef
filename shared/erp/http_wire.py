"""The ERP Sync API on the wire, for ``HttpErp`` and its file calls: retry rules, Retry-After, and the
translation of answers (RFC 9457 problems) into the ``shared.errors`` hierarchy."""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime
from urllib.parse import quote

import httpx

from shared.errors import ErpConflict, ErpError, ErpInvalid, ErpNotFound, ErpReadOnly, ErpTooLarge, ErpTransient

RETRY_STATUSES = frozenset({429, 502, 503, 504})
READ_ONLY_PROBLEM = "/read-only"
# Enough to ride out a short outage; the sync engine retries the whole item later after that.
RETRY_ATTEMPTS = 5
RETRY_TIMEOUT_SECONDS = 60.0
MAX_RETRY_AFTER_SECONDS = 60.0


class Retryable(Exception):
    """A response worth another try; carries how long the ERP asked us to wait."""

    def __init__(self, status: int, retry_after: float | None) -> None:
        super().__init__(f"ERP answered {status}")
        self.status = status
        self.retry_after = retry_after


def retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header: delay-seconds or an HTTP-date (RFC 9110 §10.2.3)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return min(float(text), MAX_RETRY_AFTER_SECONDS)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def backoff(exc: Exception) -> bool | float:
    """stamina's hook: retry transient failures, waiting Retry-After when given (else exponential backoff)."""
    if isinstance(exc, Retryable):
        return exc.retry_after if exc.retry_after is not None else True
    return isinstance(exc, httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError)


def _problem(response: httpx.Response) -> tuple[str | None, str]:
    """The problem type and a short human text from an RFC 9457 body (or the status line)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        kind = body.get("type") if isinstance(body.get("type"), str) else None
        text = body.get("detail") or body.get("title") or response.reason_phrase
        return kind, str(text)[:300]
    return None, response.reason_phrase


def error_for(response: httpx.Response, what: str) -> ErpError:
    status = response.status_code
    kind, text = _problem(response)
    message = f"{what}: {status} {text}"
    if status == 404 or status == 410:
        return ErpNotFound(message, status=status, problem_type=kind)
    if status == 412:
        return ErpConflict(message, status=status, problem_type=kind)
    if status == 409:
        if kind is not None and kind.endswith(READ_ONLY_PROBLEM):
            return ErpReadOnly(message, status=status, problem_type=kind)
        return ErpConflict(message, status=status, problem_type=kind)
    if status in RETRY_STATUSES or status >= 500:
        return ErpTransient(message, status=status, problem_type=kind)
    if status == 413:
        return ErpTooLarge(message, status=status, problem_type=kind)
    if status in (400, 422, 428):
        return ErpInvalid(message, status=status, problem_type=kind)
    return ErpError(message, status=status, problem_type=kind)


def segment(value: str) -> str:
    """One path segment: ids are opaque to us and may hold '/', '?' or '#'."""
    if not value:
        raise ErpInvalid("an empty id")
    return quote(value, safe="")
