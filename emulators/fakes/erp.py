"""``InProcessErp``: the ERP port over the reference ERP's store, in this process, for fast engine tests.

No HTTP and no JSON round trip of requests: it calls ``emulators.erp.store.ErpStore`` (SQLite
``:memory:`` by default) the way the reference ERP's endpoints do, with the checks those endpoints make
before the store, and turns the store's problems into the same ``shared.errors`` exceptions ``HttpErp``
raises for the same situations (``tests/erp/test_contract.py`` runs against both to keep it so).

``store`` is the ERP itself, for a test acting as a person in the ERP (release, delete, edit, seed).
What it leaves out is HTTP: auth, retries, faults, change-hook calls.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

from emulators.erp.attachments import MAX_NAME_LENGTH, MEDIA_TYPE
from emulators.erp.problems import PROBLEM_BASE, TITLES, Problem
from emulators.erp.seed import seed_store
from emulators.erp.store import ErpStore
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
    ErpUser,
    Facility,
    LeaveRequest,
    LeaveRequestChange,
)
from shared.core.attachments import ActivityAttachment, FileMeta
from shared.errors import ErpConflict, ErpError, ErpInvalid, ErpNotFound, ErpReadOnly, ErpTooLarge, ErpTransient

# The reference ERP's own limits on what reaches it (emulators/erp/app.py), checked the same way here.
ID = re.compile(r"^[A-Za-z0-9_~-][A-Za-z0-9._~-]{0,199}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
LOCAL_DATE_TIME = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}$")
MAX_KEY_LENGTH = 255
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
PAGE_SIZE = 1000
DEFAULT_TYPE_NAMES = {ActivityType.MEETING: "Meeting", ActivityType.PHONE_CALL: "Phone call", ActivityType.TASK: "Task"}
DEFAULT_TYPE_CODES = {ActivityType.MEETING: "MEETING", ActivityType.PHONE_CALL: "PHONE", ActivityType.TASK: "TASK"}

T = TypeVar("T")
P = ParamSpec("P")


def _error(problem: Problem, what: str) -> ErpError:
    """The exception HttpErp raises for the problem's status and type (shared/erp/http_client.py)."""
    status, kind = problem.status, PROBLEM_BASE + problem.name
    message = f"{what}: {status} {problem.detail or TITLES.get(problem.name, problem.name)}"
    if status in (404, 410):
        return ErpNotFound(message, status=status, problem_type=kind)
    if status == 412:
        return ErpConflict(message, status=status, problem_type=kind)
    if status == 409:
        cls = ErpReadOnly if problem.name == "read-only" else ErpConflict
        return cls(message, status=status, problem_type=kind)
    if status >= 500 or status == 429:
        return ErpTransient(message, status=status, problem_type=kind)
    if status == 413:
        return ErpTooLarge(message, status=status, problem_type=kind)
    if status in (400, 422, 428):
        return ErpInvalid(message, status=status, problem_type=kind)
    return ErpError(message, status=status, problem_type=kind)


def _invalid(what: str, detail: str, *, status: int = 422, name: str = "invalid-request") -> ErpInvalid:
    return ErpInvalid(f"{what}: {status} {detail}", status=status, problem_type=PROBLEM_BASE + name)


def _check_id(value: str, what: str) -> None:
    if not value:
        raise ErpInvalid("an empty id")
    if not ID.match(value):
        raise _invalid(what, "not an id (URL-unreserved characters, 1 to 200)", status=400, name="bad-request")


def _check_wall_clock(values: dict[str, Any], what: str) -> None:
    """start/end as the reference ERP reads them off the wire: YYYY-MM-DDThh:mm:ss, no offset, no fraction."""
    for name in ("start", "end"):
        if name not in values:
            continue
        value = values[name]
        if not (isinstance(value, datetime) and LOCAL_DATE_TIME.match(value.isoformat())):
            raise _invalid(what, f"{name} is a wall-clock time YYYY-MM-DDThh:mm:ss without offset")


class InProcessErp:
    """The ``ErpPort`` on an ``ErpStore`` in this process (a fresh ``:memory:`` one unless given; ``series=False``
    makes that one an ERP without recurring series, R28; a given store keeps its own option)."""

    def __init__(
        self,
        store: ErpStore | None = None,
        *,
        seed: dict[str, Any] | None = None,
        web_base_url: str = "http://erp.invalid",
        series: bool = True,
    ) -> None:
        self._owns_store = store is None
        self.store = store if store is not None else ErpStore(":memory:", series=series)
        self._web_base_url = web_base_url.rstrip("/")
        if seed is not None:
            seed_store(self.store, seed)

    def __repr__(self) -> str:
        return "InProcessErp()"

    async def aclose(self) -> None:
        if self._owns_store:
            self.store.close()
            self._owns_store = False

    async def __aenter__(self) -> InProcessErp:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @staticmethod
    def _call(what: str, call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return call(*args, **kwargs)
        except Problem as problem:
            raise _error(problem, what) from None

    def _linked(self, activity: Activity) -> Activity:
        return activity.model_copy(update={"web_url": f"{self._web_base_url}/#activity-{activity.id}"})

    # --- reference data -----------------------------------------------------------------------------

    async def capabilities(self) -> ErpCapabilities:
        """The store's option, as ``GET /capabilities`` answers it (R28)."""
        return self.store.capabilities()

    async def list_users(self, *, enabled_only: bool = True) -> Sequence[ErpUser]:
        return self.store.list_users(enabled=True if enabled_only else None)

    async def get_user(self, user_id: str) -> ErpUser:
        if not user_id:
            raise ErpInvalid("an empty id")
        return self._call(f"GET /users/{user_id}", self.store.get_user, user_id)

    def _emails(self, emails: Sequence[str], what: str) -> list[str]:
        wanted = sorted({email.strip().lower() for email in emails if email.strip()})
        if not all(len(email) <= 320 and EMAIL.match(email) for email in wanted):
            raise _invalid(what, "email is an address like name@domain", status=400, name="bad-request")
        return wanted

    async def find_contacts(self, emails: Sequence[str]) -> Sequence[Contact]:
        return self.store.find_contacts(self._emails(emails, "GET /contacts"))

    async def find_companies(self, emails: Sequence[str]) -> Sequence[Company]:
        return self.store.find_companies(self._emails(emails, "GET /companies"))

    async def get_company(self, company_id: str) -> Company:
        if not company_id:
            raise ErpInvalid("an empty id")
        # Over HTTP any id is one path segment; one the ERP cannot hold is simply not found.
        return self._call(f"GET /companies/{company_id}", self.store.get_company, company_id)

    async def list_facilities(self) -> Sequence[Facility]:
        return self.store.list_facilities()

    async def ensure_activity_type(self, kind: ActivityType) -> ActivityTypeDefinition:
        existing = next((item for item in self.store.list_activity_types() if item.kind == kind), None)
        if existing is not None:
            return existing
        body = ActivityTypeDefinition(code=DEFAULT_TYPE_CODES[kind], kind=kind, name=DEFAULT_TYPE_NAMES[kind])
        try:
            return self._call("POST /activity-types", self.store.create_activity_type, body)
        except ErpConflict:
            existing = next((item for item in self.store.list_activity_types() if item.kind == kind), None)
            if existing is None:
                raise
            return existing

    # --- activities ---------------------------------------------------------------------------------

    async def get_activity(self, activity_id: str) -> Activity:
        if not activity_id:
            raise ErpInvalid("an empty id")
        return self._linked(self._call(f"GET /activities/{activity_id}", self.store.get_activity, activity_id))

    async def create_activity(self, fields: ActivityFields, *, idempotency_key: str) -> Activity:
        if not idempotency_key:
            raise ValueError("idempotency_key is required (R10)")
        what = "POST /activities"
        if len(idempotency_key) > MAX_KEY_LENGTH:
            raise _invalid(what, "Idempotency-Key is 1 to 255 characters", status=400, name="bad-request")
        _check_wall_clock({"start": fields.start, "end": fields.end}, what)
        result = self._call(what, self.store.create_activity, fields, idempotency_key=idempotency_key)
        return self._linked(result.activity)

    async def update_activity(self, activity_id: str, patch: ActivityPatch, *, version: int) -> Activity:
        what = f"PATCH /activities/{activity_id}"
        await self.get_activity(activity_id)  # not found before anything about the body, as over HTTP
        _check_wall_clock({name: getattr(patch, name) for name in patch.model_fields_set}, what)
        _before, after = self._call(what, self.store.update_activity, activity_id, patch, version=version)
        return self._linked(after)

    async def _transition(self, activity_id: str, action: str, target: ActivityState, *, version: int) -> Activity:
        what = f"POST /activities/{activity_id}/{action}"
        await self.get_activity(activity_id)
        try:
            after = self._call(what, self.store.transition_activity, activity_id, action, version=version)
        except (ErpConflict, ErpReadOnly):
            # The same answer HttpErp gives a repeated call whose first try went through.
            current = await self.get_activity(activity_id)
            if current.state == target:
                return current
            raise
        return self._linked(after)

    async def void_activity(self, activity_id: str, *, version: int) -> Activity:
        return await self._transition(activity_id, "void", ActivityState.VOIDED, version=version)

    async def close_activity(self, activity_id: str, *, version: int) -> Activity:
        return await self._transition(activity_id, "close", ActivityState.CLOSED, version=version)

    # --- attachments (R18) --------------------------------------------------------------------------

    async def read_activity_attachment(self, activity_id: str, attachment_id: str) -> AsyncIterator[bytes]:
        """The file's bytes in chunks, as the reference ERP streams them."""
        what = f"GET /activities/{activity_id}/attachments/{attachment_id}/content"
        if not activity_id or not attachment_id:
            raise ErpInvalid("an empty id")
        stored = self._call(what, self.store.stored_file, activity_id, attachment_id)
        chunks = self.store.file_chunks(stored)
        while True:
            chunk = self._call(what, next, chunks, None)
            if chunk is None:
                return
            yield chunk

    async def add_activity_attachment(
        self, activity_id: str, meta: FileMeta, content: AsyncIterable[bytes], *, sha256: str, idempotency_key: str
    ) -> tuple[ActivityAttachment, int]:
        """The checks ``POST /activities/{id}/attachments`` makes, in its order, then the store's write."""
        if not idempotency_key:
            raise ValueError("idempotency_key is required (R10)")
        what = f"POST /activities/{activity_id}/attachments"
        await self.get_activity(activity_id)
        if len(idempotency_key) > MAX_KEY_LENGTH:
            raise _invalid(what, "Idempotency-Key is 1 to 255 characters", status=400, name="bad-request")
        if (
            len(meta.name) > MAX_NAME_LENGTH
            or not meta.name.strip()
            or any(ord(c) < 32 or c == "\x7f" for c in meta.name)
        ):
            raise _invalid(what, "name is the file's name, 1 to 255 characters", status=400, name="bad-request")
        if not MEDIA_TYPE.match(meta.content_type):
            raise _invalid(what, "Content-Type is the file's media type", status=400, name="bad-request")
        if not SHA256_HEX.match(sha256):
            raise ErpInvalid("sha256 is the file's SHA-256 in lower-case hex")
        self._call(what, self.store.check_attachment_size, meta.size)
        buffer = bytearray()
        async for chunk in content:
            buffer += chunk
            if len(buffer) > meta.size:
                break
        if len(buffer) != meta.size:
            raise _invalid(what, f"the content does not hold the declared {meta.size} bytes")
        result = self._call(
            what,
            self.store.add_attachment,
            activity_id,
            name=meta.name,
            content_type=meta.content_type,
            content=buffer,
            idempotency_key=idempotency_key,
            expected_sha256=sha256,
        )
        return result.attachment, result.activity_version

    async def remove_activity_attachment(self, activity_id: str, attachment_id: str) -> int:
        """As ``HttpErp``: a file already gone answers the activity's current version."""
        what = f"DELETE /activities/{activity_id}/attachments/{attachment_id}"
        try:
            return self._call(what, self.store.remove_attachment, activity_id, attachment_id).version
        except ErpNotFound:
            return (await self.get_activity(activity_id)).version

    # --- change feeds -------------------------------------------------------------------------------

    async def activity_changes(
        self, *, user_id: str, cursor: str | None, ends_after: datetime | None = None
    ) -> ChangePage[ActivityChange]:
        what = "GET /activity-changes"
        _check_id(user_id, what)
        since = _aware(ends_after) if cursor is None else None
        items: list[ActivityChange] = []
        while True:
            page = self._call(
                what, self.store.activity_change_rows, user_id=user_id, cursor=cursor, ends_after=since, limit=PAGE_SIZE
            )
            for row in page.rows:
                activity = self._linked(Activity.model_validate_json(row.doc)) if row.doc is not None else None
                items.append(
                    ActivityChange(
                        seq=row.seq,
                        activity_id=row.activity_id,
                        owner_id=row.owner_id,
                        deleted=activity is None,
                        activity=activity,
                    )
                )
            cursor = page.next_cursor
            if not page.has_more:
                return ChangePage[ActivityChange](items=tuple(items), cursor=cursor)

    async def get_leave_request(self, leave_request_id: str) -> LeaveRequest:
        if not leave_request_id:
            raise ErpInvalid("an empty id")
        # Over HTTP any id is one path segment; one the ERP cannot hold is simply not found.
        return self._call(f"GET /leave-requests/{leave_request_id}", self.store.get_leave_request, leave_request_id)

    async def leave_request_changes(
        self, *, user_id: str, cursor: str | None, ends_after: datetime | None = None
    ) -> ChangePage[LeaveRequestChange]:
        what = "GET /leave-request-changes"
        _check_id(user_id, what)
        since = _aware(ends_after) if cursor is None else None
        items: list[LeaveRequestChange] = []
        while True:
            page = self._call(
                what,
                self.store.leave_request_changes,
                user_id=user_id,
                cursor=cursor,
                ends_after=since,
                limit=PAGE_SIZE,
            )
            items.extend(LeaveRequestChange.model_validate(item) for item in page.items)
            cursor = page.next_cursor
            if not page.has_more:
                return ChangePage[LeaveRequestChange](items=tuple(items), cursor=cursor)


def _aware(moment: datetime | None) -> datetime | None:
    # As HttpErp sends it: a naive time is taken as UTC.
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


__all__ = ["InProcessErp"]
