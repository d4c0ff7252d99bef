"""The reference ERP's records in SQLite, and the business rules the contract promises.

``ErpStore`` is the one object the HTTP app (and the in-process fake, ``emulators/fakes/erp.py``) uses;
it puts together the tables' parts: ``db`` (connection, transactions, cursors), ``activity_records``
(activity writes and rules), ``activity_feed`` (the per-user activity feed) and ``leave_records``.
Master data (users, companies, contacts, facilities, activity types) lives here.
"""

from __future__ import annotations

from collections.abc import Sequence

from emulators.erp.activity_feed import ActivityFeed, ChangeRow, ChangeRows
from emulators.erp.activity_records import TRANSITIONS, CreateResult, activity_users
from emulators.erp.attachment_records import (
    DEFAULT_MAX_ATTACHMENT_BYTES,
    AttachmentRecords,
    AttachmentResult,
    StoredFile,
)
from emulators.erp.db import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, FeedPage, now_utc, parse_if_match
from emulators.erp.leave_records import LeaveRecords, LeaveRequestFields, LeaveRequestPatch
from emulators.erp.problems import Problem
from shared.core.activities import (
    Activity,
    ActivityTypeDefinition,
    Company,
    Contact,
    ErpUser,
    Facility,
    LeaveRequest,
)
from shared.erp.hook import HookChange


class ErpStore(AttachmentRecords, ActivityFeed, LeaveRecords):
    """All records of one reference ERP. Thread-safe: one connection guarded by a lock.

    ``series=False`` makes an ERP without recurring series (R28): ``capabilities()`` says so and an activity
    with a recurrence is refused. ``max_attachment_bytes`` is the largest file an activity takes (R18; 25 MiB
    unless told, 0 for an ERP without files); a test may lower it on a running store.
    """

    def __init__(
        self, db_path: str, *, series: bool = True, max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES
    ) -> None:
        super().__init__(db_path)
        self.series = series
        self.max_attachment_bytes = max_attachment_bytes

    # --- master data --------------------------------------------------------------------------------

    def put_user(self, user: ErpUser) -> None:
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO users VALUES (?, ?, ?, ?)",
                (user.id, (user.email or "").lower(), int(user.enabled), user.model_dump_json(by_alias=True)),
            )

    def put_company(self, company: Company) -> None:
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO companies VALUES (?, ?, ?)",
                (company.id, (company.email or "").lower(), company.model_dump_json(by_alias=True)),
            )

    def put_contact(self, contact: Contact) -> None:
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO contacts VALUES (?, ?, ?)",
                (contact.id, (contact.email or "").lower(), contact.model_dump_json(by_alias=True)),
            )

    def put_facility(self, facility: Facility) -> None:
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO facilities VALUES (?, ?)",
                (facility.id, facility.model_dump_json(by_alias=True)),
            )

    def list_users(self, *, enabled: bool | None) -> list[ErpUser]:
        with self._lock:
            if enabled is None:
                rows = self._db.execute("SELECT doc FROM users ORDER BY id").fetchall()
            else:
                rows = self._db.execute(
                    "SELECT doc FROM users WHERE enabled = ? ORDER BY id", (int(enabled),)
                ).fetchall()
        return [ErpUser.model_validate_json(row["doc"]) for row in rows]

    def get_user(self, user_id: str) -> ErpUser:
        with self._lock:
            row = self._db.execute("SELECT doc FROM users WHERE id = ?", (user_id,)).fetchone()
        if row is None:
            raise Problem(404, "not-found", f"no user {user_id!r}")
        return ErpUser.model_validate_json(row["doc"])

    def _by_email(self, table: str, emails: Sequence[str]) -> list[str]:
        wanted = sorted({email.strip().lower() for email in emails if email.strip()})
        if not wanted:
            return []
        marks = ",".join("?" * len(wanted))
        with self._lock:
            rows = self._db.execute(
                f"SELECT doc FROM {table} WHERE email IN ({marks}) ORDER BY id",  # noqa: S608 - constant table names
                wanted,
            ).fetchall()
        return [row["doc"] for row in rows]

    def find_contacts(self, emails: Sequence[str]) -> list[Contact]:
        return [Contact.model_validate_json(doc) for doc in self._by_email("contacts", emails)]

    def find_companies(self, emails: Sequence[str]) -> list[Company]:
        return [Company.model_validate_json(doc) for doc in self._by_email("companies", emails)]

    def get_company(self, company_id: str) -> Company:
        with self._lock:
            row = self._db.execute("SELECT doc FROM companies WHERE id = ?", (company_id,)).fetchone()
        if row is None:
            raise Problem(404, "not-found", f"no company {company_id!r}")
        return Company.model_validate_json(row["doc"])

    def list_companies(self) -> list[Company]:
        with self._lock:
            rows = self._db.execute("SELECT doc FROM companies ORDER BY id").fetchall()
        return [Company.model_validate_json(row["doc"]) for row in rows]

    def list_contacts(self) -> list[Contact]:
        with self._lock:
            rows = self._db.execute("SELECT doc FROM contacts ORDER BY id").fetchall()
        return [Contact.model_validate_json(row["doc"]) for row in rows]

    def list_facilities(self) -> list[Facility]:
        with self._lock:
            rows = self._db.execute("SELECT doc FROM facilities ORDER BY id").fetchall()
        return [Facility.model_validate_json(row["doc"]) for row in rows]

    def list_activity_types(self) -> list[ActivityTypeDefinition]:
        with self._lock:
            rows = self._db.execute("SELECT doc FROM activity_types ORDER BY code").fetchall()
        return [ActivityTypeDefinition.model_validate_json(row["doc"]) for row in rows]

    def create_activity_type(self, definition: ActivityTypeDefinition) -> ActivityTypeDefinition:
        if not definition.code.strip() or not definition.name.strip():
            raise Problem(422, "invalid-request", "code and name must not be blank")
        with self._write() as db:
            if db.execute("SELECT 1 FROM activity_types WHERE code = ?", (definition.code,)).fetchone():
                raise Problem(409, "duplicate", f"activity type {definition.code!r} exists")
            db.execute(
                "INSERT INTO activity_types VALUES (?, ?, ?)",
                (definition.code, definition.kind.value, definition.model_dump_json(by_alias=True)),
            )
        return definition


def activity_hook(*activities: Activity, deleted: bool = False) -> HookChange:
    """The hook entry for a write: everyone on the activity before or after it (see ``activity_users``), and
    the version the write left (none for a deletion)."""
    return HookChange(
        entity="activity",
        id=activities[0].id,
        user_ids=activity_users(*activities),
        version=None if deleted else activities[0].version,
    )


def leave_hook(leave: LeaveRequest) -> HookChange:
    return HookChange(entity="leaveRequest", id=leave.id, user_ids=(leave.user_id,))


__all__ = [
    "DEFAULT_MAX_ATTACHMENT_BYTES",
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "TRANSITIONS",
    "AttachmentResult",
    "ChangeRow",
    "ChangeRows",
    "CreateResult",
    "ErpStore",
    "FeedPage",
    "LeaveRequestFields",
    "LeaveRequestPatch",
    "StoredFile",
    "activity_hook",
    "activity_users",
    "leave_hook",
    "now_utc",
    "parse_if_match",
]
