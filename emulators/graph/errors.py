"""Graph's error body ``{"error": {"code", "message", "innerError"}}`` (page "Microsoft Graph error responses")."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any


class GraphError(Exception):
    """Raised anywhere in a handler; the dispatcher turns it into Graph's error answer."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.body = body  # a scripted fault may replace Graph's error body


def error_body(code: str, message: str, *, request_id: str | None = None) -> dict[str, Any]:
    """The JSON body Graph sends with every 4xx/5xx answer."""
    rid = request_id or str(uuid.uuid4())
    return {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                "request-id": rid,
                "client-request-id": rid,
            },
        }
    }


def not_found(what: str = "The specified object was not found in the store.") -> GraphError:
    return GraphError(404, "ErrorItemNotFound", what)


def bad_request(message: str, code: str = "ErrorInvalidRequest") -> GraphError:
    return GraphError(400, code, message)


def body_read_error(message: str) -> GraphError:
    """OData deserialisation failures (unknown property, bad enum value) answer ``RequestBodyRead``."""
    return GraphError(400, "RequestBodyRead", message)
