"""RFC 9457 problem details: the one error shape of the ERP Sync API."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

PROBLEM_BASE = "https://erp-sync.example.org/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"

TITLES = {
    "bad-request": "The request is malformed",
    "unauthorized": "Missing or wrong API key",
    "not-found": "No such record",
    "method-not-allowed": "Method not allowed",
    "invalid-request": "The request does not satisfy the contract",
    "unknown-reference": "The request refers to a record that does not exist",
    "facility-forbids-no-specified-time": "A booked facility does not allow items with no specified time",
    "series-not-supported": "This ERP holds no recurring series",
    "idempotency-key-reused": "The Idempotency-Key was already used with a different request body",
    "read-only": "The activity is in a read-only state",
    "invalid-transition": "The record's state does not allow this action",
    "duplicate": "A record with this key already exists",
    "stale-version": "The record changed since the version given in If-Match",
    "precondition-required": "If-Match with the record's version is required",
    "bad-cursor": "The cursor is not one this ERP issued",
    "unavailable": "The ERP is temporarily unavailable",
    "too-many-requests": "Too many requests",
    "attachment-too-large": "The file is larger than this ERP takes",
    "content-digest-mismatch": "The bytes received do not match the Content-Digest",
    "length-required": "Content-Length is required",
}


class Problem(Exception):
    """Raised anywhere in the reference ERP; rendered as ``application/problem+json``."""

    def __init__(
        self,
        status: int,
        name: str,
        detail: str | None = None,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or TITLES.get(name, name))
        self.status = status
        self.name = name
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}

    def body(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"type": PROBLEM_BASE + self.name, "title": TITLES.get(self.name, self.name)}
        body["status"] = self.status
        if self.detail:
            body["detail"] = self.detail
        if instance:
            body["instance"] = instance
        if self.errors:
            body["errors"] = self.errors
        return body

    def response(self, instance: str | None = None) -> JSONResponse:
        return JSONResponse(
            self.body(instance), status_code=self.status, headers=self.headers, media_type=PROBLEM_MEDIA_TYPE
        )


def validation_errors(exc: Any) -> list[dict[str, Any]]:
    """Pydantic errors without the offending input (it may be large or personal)."""
    return [
        {"pointer": "/" + "/".join(str(part) for part in error["loc"]), "detail": error["msg"]}
        for error in exc.errors(include_url=False, include_input=False)
    ]
