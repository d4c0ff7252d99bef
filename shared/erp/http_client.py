"""``HttpErp``: the ERP port over the ERP Sync API (docs/erp-sync-api.yaml).

Reads the ERP's capabilities (R28: series, R18: files) once and keeps them; an ERP without ``GET /capabilities``
(404: older than it) is one without series. Retries throttling and unavailability (429, 502, 503, 504,
timeouts, dropped connections) with stamina's exponential backoff, waiting what ``Retry-After`` asks when
the ERP says. Every call is safe to retry: reads are, creates carry an ``Idempotency-Key``, and writes carry
``If-Match`` so a repeated write cannot apply twice. Errors become the ``shared.errors`` hierarchy. The API
key is only ever in the Authorization header: never in a message, a log line or ``repr``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import stamina
from pydantic import BaseModel, ValidationError

from shared.core.activities import (
    Activity,
    ActivityChange,
    ActivityFields,
    ActivityPatch,
    ActivityState,
    ActivityType,
    ActivityTypeDefinition,
    ChangePage,
    Company,
    Contact,
    ErpCapabilities,
    ErpModel,
    ErpUser,
    Facility,
    LeaveRequest,
    LeaveRequestChange,
)
from shared.core.attachments import ActivityAttachment, FileMeta
from shared.erp import attachments_http
from shared.erp.http_wire import (
    RETRY_ATTEMPTS,
    RETRY_STATUSES,
    RETRY_TIMEOUT_SECONDS,
    Retryable,
    backoff,
    error_for,
    retry_after,
    segment,
)
from shared.errors import ErpConflict, ErpInvalid, ErpNotFound, ErpReadOnly, ErpTransient

EMAILS_PER_QUERY = 50
PAGE_SIZE = 200
DEFAULT_TYPE_NAMES = {ActivityType.MEETING: "Meeting", ActivityType.PHONE_CALL: "Phone call", ActivityType.TASK: "Task"}
DEFAULT_TYPE_CODES = {ActivityType.MEETING: "MEETING", ActivityType.PHONE_CALL: "PHONE", ActivityType.TASK: "TASK"}

M = TypeVar("M", bound=BaseModel)
C = TypeVar("C", bound=ErpModel)


def _etag(version: int) -> str:
    return f'"{version}"'


def _instant(moment: datetime) -> str:
    # The contract wants an instant; a naive time here is taken as UTC.
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC).isoformat()


class HttpErp:
    """The ``ErpPort`` for any ERP that serves the ERP Sync API."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str,
        timeout: float = 20.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("api_key is required")
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/",
            headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
            timeout=timeout,
            transport=transport,
        )
        self._capabilities: ErpCapabilities | None = None
        self._capabilities_lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"HttpErp({str(self._client.base_url)!r})"

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> HttpErp:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- transport ----------------------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | Sequence[str]] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        what = f"{method} {path}"
        try:
            async for attempt in stamina.retry_context(
                on=backoff, attempts=RETRY_ATTEMPTS, timeout=RETRY_TIMEOUT_SECONDS, wait_max=10.0
            ):
                with attempt:
                    response = await self._client.request(
                        method, path.lstrip("/"), params=params, json=json, headers=headers
                    )
                    if response.status_code in RETRY_STATUSES:
                        raise Retryable(response.status_code, retry_after(response.headers.get("Retry-After")))
        except Retryable as exc:
            raise ErpTransient(f"{what}: still {exc.status} after retries", status=exc.status) from None
        except httpx.TimeoutException:
            raise ErpTransient(f"{what}: timed out after retries") from None
        except httpx.HTTPError as exc:
            # The exception text names the URL at most, never headers; keep just its kind to be sure.
            raise ErpTransient(f"{what}: {type(exc).__name__} after retries") from None
        if response.is_error:
            raise error_for(response, what)
        return response

    @staticmethod
    def _parse(model: type[M], response: httpx.Response, what: str) -> M:
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            raise ErpInvalid(f"{what}: answer does not match the contract ({exc.error_count()} errors)") from None

    @staticmethod
    def _items(model: type[M], response: httpx.Response, what: str) -> list[M]:
        try:
            body = response.json()
            return [model.model_validate(item) for item in body["items"]]
        except (ValueError, KeyError, TypeError, ValidationError):
            raise ErpInvalid(f"{what}: answer does not match the contract") from None

    # --- reference data -----------------------------------------------------------------------------

    async def capabilities(self) -> ErpCapabilities:
        """``GET /capabilities`` on the first call, then the same answer (R28); 404 is an ERP without series."""
        async with self._capabilities_lock:
            if self._capabilities is None:
                try:
                    response = await self._send("GET", "/capabilities")
                except ErpNotFound:
                    self._capabilities = ErpCapabilities(series=False)
                else:
                    self._capabilities = self._parse(ErpCapabilities, response, "GET /capabilities")
            return self._capabilities

    async def list_users(self, *, enabled_only: bool = True) -> Sequence[ErpUser]:
        params = {"enabled": "true"} if enabled_only else None
        return self._items(ErpUser, await self._send("GET", "/users", params=params), "GET /users")

    async def get_user(self, user_id: str) -> ErpUser:
        path = f"/users/{segment(user_id)}"
        return self._parse(ErpUser, await self._send("GET", path), f"GET {path}")

    async def _by_email(self, path: str, model: type[M], emails: Sequence[str]) -> list[M]:
        wanted = sorted({email.strip().lower() for email in emails if email.strip()})
        found: dict[str, M] = {}
        # Chunks keep the query string short whatever the number of attendees.
        for start in range(0, len(wanted), EMAILS_PER_QUERY):
            params = {"email": wanted[start : start + EMAILS_PER_QUERY]}
            for item in self._items(model, await self._send("GET", path, params=params), f"GET {path}"):
                found[str(getattr(item, "id", len(found)))] = item
        return list(found.values())

    async def find_contacts(self, emails: Sequence[str]) -> Sequence[Contact]:
        return await self._by_email("/contacts", Contact, emails)

    async def find_companies(self, emails: Sequence[str]) -> Sequence[Company]:
        return await self._by_email("/companies", Company, emails)

    async def get_company(self, company_id: str) -> Company:
        path = f"/companies/{segment(company_id)}"
        return self._parse(Company, await self._send("GET", path), f"GET {path}")

    async def list_facilities(self) -> Sequence[Facility]:
        return self._items(Facility, await self._send("GET", "/facilities"), "GET /facilities")

    async def ensure_activity_type(self, kind: ActivityType) -> ActivityTypeDefinition:
        existing = await self._activity_type(kind)
        if existing is not None:
            return existing
        body = ActivityTypeDefinition(code=DEFAULT_TYPE_CODES[kind], kind=kind, name=DEFAULT_TYPE_NAMES[kind])
        try:
            response = await self._send("POST", "/activity-types", json=body.model_dump(by_alias=True, mode="json"))
        except ErpConflict:
            # Another worker created it first (or the code is taken): whatever is there now is the answer.
            existing = await self._activity_type(kind)
            if existing is None:
                raise
            return existing
        return self._parse(ActivityTypeDefinition, response, "POST /activity-types")

    async def _activity_type(self, kind: ActivityType) -> ActivityTypeDefinition | None:
        response = await self._send("GET", "/activity-types")
        types = self._items(ActivityTypeDefinition, response, "GET /activity-types")
        return next((item for item in types if item.kind == kind), None)

    # --- activities ---------------------------------------------------------------------------------

    async def get_activity(self, activity_id: str) -> Activity:
        path = f"/activities/{segment(activity_id)}"
        return self._parse(Activity, await self._send("GET", path), f"GET {path}")

    async def create_activity(self, fields: ActivityFields, *, idempotency_key: str) -> Activity:
        if not idempotency_key:
            raise ValueError("idempotency_key is required (R10)")
        response = await self._send(
            "POST",
            "/activities",
            json=fields.model_dump(by_alias=True, mode="json"),
            headers={"Idempotency-Key": idempotency_key},
        )
        return self._parse(Activity, response, "POST /activities")

    async def update_activity(self, activity_id: str, patch: ActivityPatch, *, version: int) -> Activity:
        path = f"/activities/{segment(activity_id)}"
        response = await self._send(
            "PATCH",
            path,
            json=patch.model_dump(by_alias=True, exclude_unset=True, mode="json"),
            headers={"If-Match": _etag(version)},
        )
        return self._parse(Activity, response, f"PATCH {path}")

    async def _transition(self, activity_id: str, action: str, target: ActivityState, *, version: int) -> Activity:
        path = f"/activities/{segment(activity_id)}/{action}"
        try:
            response = await self._send("POST", path, headers={"If-Match": _etag(version)})
        except (ErpConflict, ErpReadOnly):
            # A retried call whose first try went through finds the record already there: that is success.
            current = await self.get_activity(activity_id)
            if current.state == target:
                return current
            raise
        return self._parse(Activity, response, f"POST {path}")

    async def void_activity(self, activity_id: str, *, version: int) -> Activity:
        return await self._transition(activity_id, "void", ActivityState.VOIDED, version=version)

    async def close_activity(self, activity_id: str, *, version: int) -> Activity:
        return await self._transition(activity_id, "close", ActivityState.CLOSED, version=version)

    # --- attachments (R18): shared/erp/attachments_http.py -------------------------------------------

    def read_activity_attachment(self, activity_id: str, attachment_id: str) -> AsyncIterator[bytes]:
        """The file's bytes, streamed; ErpNotFound when the file or activity is gone."""
        return attachments_http.read_attachment(self._client, activity_id, attachment_id)

    async def add_activity_attachment(
        self, activity_id: str, meta: FileMeta, content: AsyncIterable[bytes], *, sha256: str, idempotency_key: str
    ) -> tuple[ActivityAttachment, int]:
        """Upload the file, streamed; ErpTooLarge past the ERP's limit (checked here first), ErpInvalid when the
        bytes do not match ``sha256``. A retry with the same key returns the first result (R10)."""
        capabilities = await self.capabilities()
        limit = capabilities.max_attachment_bytes if capabilities.attachments else None
        return await attachments_http.add_attachment(
            self._client, activity_id, meta, content, sha256=sha256, idempotency_key=idempotency_key, max_bytes=limit
        )

    async def remove_activity_attachment(self, activity_id: str, attachment_id: str) -> int:
        """Remove the file; the activity's version after it. A file already gone (404) answers the activity's
        current version; an activity gone is ErpNotFound."""
        path = f"/activities/{segment(activity_id)}/attachments/{segment(attachment_id)}"
        try:
            response = await self._send("DELETE", path)
        except ErpNotFound:
            return (await self.get_activity(activity_id)).version
        try:
            return int(response.json()["activityVersion"])
        except (ValueError, KeyError, TypeError):
            raise ErpInvalid(f"DELETE {path}: answer does not match the contract") from None

    # --- change feeds -------------------------------------------------------------------------------

    async def _follow(self, path: str, model: type[C], params: dict[str, str], cursor: str | None) -> ChangePage[C]:
        items: list[C] = []
        while True:
            query = {**params, "limit": str(PAGE_SIZE)}
            if cursor is not None:
                query["cursor"] = cursor
            response = await self._send("GET", path, params=query)
            try:
                body = response.json()
                items.extend(model.model_validate(item) for item in body["items"])
                cursor = str(body["nextCursor"])
                more = bool(body["hasMore"])
            except (ValueError, KeyError, TypeError, ValidationError):
                raise ErpInvalid(f"GET {path}: answer does not match the contract") from None
            if not more:
                return ChangePage[C](items=tuple(items), cursor=cursor)

    async def activity_changes(
        self, *, user_id: str, cursor: str | None, ends_after: datetime | None = None
    ) -> ChangePage[ActivityChange]:
        # The activities the user owns or is a registered user of (``ownerId`` is the deprecated alias).
        params = {"userId": user_id}
        if cursor is None and ends_after is not None:
            params["endsAfter"] = _instant(ends_after)
        return await self._follow("/activity-changes", ActivityChange, params, cursor)

    async def get_leave_request(self, leave_request_id: str) -> LeaveRequest:
        path = f"/leave-requests/{segment(leave_request_id)}"
        return self._parse(LeaveRequest, await self._send("GET", path), f"GET {path}")

    async def leave_request_changes(
        self, *, user_id: str, cursor: str | None, ends_after: datetime | None = None
    ) -> ChangePage[LeaveRequestChange]:
        params = {"userId": user_id}
        if cursor is None and ends_after is not None:
            params["endsAfter"] = _instant(ends_after)
        return await self._follow("/leave-request-changes", LeaveRequestChange, params, cursor)


__all__ = ["HttpErp"]
