"""The reference ERP's records in SQLite, and the business rules the contract promises.

Every write runs in one ``BEGIN IMMEDIATE`` transaction that also appends to a change log whose
``seq`` is an AUTOINCREMENT key. SQLite lets one writer at a time commit, so a reader that sees
change ``n`` has seen every change below ``n``: that is what makes paging the feed by ``seq``
skip nothing under concurrent writes. Records are kept as the contract's JSON documents, with the
columns the queries need beside them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from emulators.erp.problems import Problem, validation_errors
from shared.core.activities import (
    READ_ONLY_STATES,
    Activity,
    ActivityFields,
    ActivityPatch,
    ActivityState,
    ActivityTypeDefinition,
    Company,
    Contact,
    ErpUser,
    Facility,
    HookChange,
    LeaveRequest,
    LeaveStatus,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, email TEXT, enabled INTEGER NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS companies (id TEXT PRIMARY KEY, email TEXT, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS contacts (id TEXT PRIMARY KEY, email TEXT, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS facilities (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS activity_types (code TEXT PRIMARY KEY, kind TEXT NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS activities (
    id TEXT PRIMARY KEY, owner_id TEXT NOT NULL, end_utc TEXT NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS activity_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, activity_id TEXT NOT NULL, owner_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS activity_changes_owner ON activity_changes (owner_id, seq);
CREATE TABLE IF NOT EXISTS idempotency (key TEXT PRIMARY KEY, body_hash TEXT NOT NULL, activity_id TEXT NOT NULL,
    first_doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS leave_requests (
    id TEXT PRIMARY KEY, user_id TEXT NOT NULL, end_utc TEXT NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS leave_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, leave_request_id TEXT NOT NULL, user_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS leave_changes_user ON leave_changes (user_id, seq);
"""

TABLES = (
    "users",
    "companies",
    "contacts",
    "facilities",
    "activity_types",
    "activities",
    "activity_changes",
    "idempotency",
    "leave_requests",
    "leave_changes",
)

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 500

# Which state transitions each action allows; anything else is refused.
TRANSITIONS: dict[str, tuple[frozenset[ActivityState], ActivityState]] = {
    "confirm": (frozenset({ActivityState.DRAFT}), ActivityState.CONFIRMED),
    "release": (frozenset({ActivityState.DRAFT, ActivityState.CONFIRMED}), ActivityState.RELEASED),
    "close": (
        frozenset({ActivityState.DRAFT, ActivityState.CONFIRMED, ActivityState.RELEASED}),
        ActivityState.CLOSED,
    ),
    "void": (frozenset({ActivityState.DRAFT, ActivityState.CONFIRMED}), ActivityState.VOIDED),
}


class _Body(BaseModel):
    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True, extra="forbid")


class LeaveRequestFields(_Body):
    """What the ERP side sends to record a leave request (not part of the sync port: the sync only reads)."""

    user_id: str
    leave_type: str = Field(min_length=1)
    description: str = ""
    start: datetime
    end: datetime
    time_zone: str = "UTC"
    all_day: bool = True
    status: LeaveStatus = LeaveStatus.REQUESTED


class LeaveRequestPatch(_Body):
    leave_type: str | None = Field(default=None, min_length=1)
    description: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    time_zone: str | None = None
    all_day: bool | None = None
    status: LeaveStatus | None = None


@dataclass(frozen=True, kw_only=True)
class FeedPage:
    items: list[dict[str, Any]]
    next_cursor: str
    has_more: bool


@dataclass(frozen=True, kw_only=True)
class CreateResult:
    activity: Activity
    replayed: bool


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise Problem(422, "invalid-request", f"unknown IANA time zone {name!r}") from exc


def _utc_key(moment: datetime) -> str:
    # One fixed format so SQLite compares these strings in time order.
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _wall_end_utc(end: datetime, time_zone: str) -> str:
    return _utc_key(end.replace(tzinfo=_zone(time_zone)))


def _check_times(start: datetime, end: datetime, *, time_zone: str, all_day: bool) -> None:
    if start.tzinfo is not None or end.tzinfo is not None:
        raise Problem(422, "invalid-request", "start and end are wall-clock times in timeZone, without an offset")
    _zone(time_zone)
    if end < start:
        raise Problem(422, "invalid-request", "end is before start")
    if all_day and (start.time() != time(0) or end.time() != time(0) or end == start):
        raise Problem(422, "invalid-request", "an all-day item starts and ends at midnight, end exclusive")


def _encode_cursor(payload: dict[str, Any]) -> str:
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> dict[str, Any]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, UnicodeDecodeError) as exc:
        raise Problem(400, "bad-cursor") from exc
    if not isinstance(data, dict) or not isinstance(data.get("seq"), int):
        raise Problem(400, "bad-cursor")
    after = data.get("after")
    ends_after = data.get("endsAfter")
    if (after is not None and not isinstance(after, str)) or (
        ends_after is not None and not isinstance(ends_after, str)
    ):
        raise Problem(400, "bad-cursor")
    return data


def parse_if_match(value: str | None) -> int:
    """The version in an If-Match header (``"3"``, ``W/"3"`` or ``3``); 428 when absent (RFC 6585)."""
    if value is None or not value.strip():
        raise Problem(428, "precondition-required")
    tag = value.strip()
    tag = tag.removeprefix("W/").strip('"')
    if not tag.isascii() or not tag.isdigit():
        raise Problem(412, "stale-version", "If-Match does not name a version of this record")
    return int(tag)


class ErpStore:
    """All records of one reference ERP. Thread-safe: one connection guarded by a lock."""

    def __init__(self, db_path: str) -> None:
        self._db = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        if db_path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        # One read transaction, so a page and its cursor come from the same snapshot.
        with self._lock:
            self._db.execute("BEGIN")
            try:
                yield self._db
            finally:
                self._db.execute("COMMIT")

    def reset(self) -> None:
        with self._write() as db:
            for table in TABLES:
                db.execute(f"DELETE FROM {table}")  # noqa: S608 - table names are the constants above
            db.execute("DELETE FROM sqlite_sequence")

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

    # --- activities ---------------------------------------------------------------------------------

    def _exists(self, db: sqlite3.Connection, table: str, ids: Sequence[str]) -> set[str]:
        if not ids:
            return set()
        marks = ",".join("?" * len(ids))
        rows = db.execute(f"SELECT id FROM {table} WHERE id IN ({marks})", list(ids)).fetchall()  # noqa: S608
        return {row["id"] for row in rows}

    def _check_activity(self, db: sqlite3.Connection, fields: ActivityFields) -> None:
        """The contract's rules beyond field types: times, references, and the facility rule (R13)."""
        _check_times(fields.start, fields.end, time_zone=fields.time_zone, all_day=fields.all_day)
        if not fields.subject.strip():
            raise Problem(422, "invalid-request", "subject must not be blank")
        if fields.all_day and fields.no_specified_time:
            raise Problem(422, "invalid-request", "an item is either all-day or of no specified time, not both")
        missing: list[str] = []
        users = self._exists(db, "users", [fields.owner_id, *fields.registered_user_ids])
        missing += [f"user {uid!r}" for uid in (fields.owner_id, *fields.registered_user_ids) if uid not in users]
        contacts = self._exists(db, "contacts", fields.contact_ids)
        missing += [f"contact {cid!r}" for cid in fields.contact_ids if cid not in contacts]
        if fields.company_id is not None and not self._exists(db, "companies", [fields.company_id]):
            missing.append(f"company {fields.company_id!r}")
        facilities = self._exists(db, "facilities", fields.facility_ids)
        missing += [f"facility {fid!r}" for fid in fields.facility_ids if fid not in facilities]
        if missing:
            raise Problem(422, "unknown-reference", "unknown " + ", ".join(missing))
        if fields.no_specified_time and fields.facility_ids:
            marks = ",".join("?" * len(fields.facility_ids))
            rows = db.execute(
                f"SELECT id, doc FROM facilities WHERE id IN ({marks})",  # noqa: S608
                list(fields.facility_ids),
            ).fetchall()
            refusing = sorted(
                row["id"] for row in rows if not Facility.model_validate_json(row["doc"]).allows_no_specified_time
            )
            if refusing:
                raise Problem(
                    422,
                    "facility-forbids-no-specified-time",
                    "facility " + ", ".join(refusing) + " does not allow items with no specified time",
                )

    def _record(self, db: sqlite3.Connection, activity: Activity) -> None:
        db.execute(
            "INSERT OR REPLACE INTO activities VALUES (?, ?, ?, ?)",
            (
                activity.id,
                activity.owner_id,
                _wall_end_utc(activity.end, activity.time_zone),
                activity.model_dump_json(by_alias=True),
            ),
        )
        db.execute(
            "INSERT INTO activity_changes (activity_id, owner_id) VALUES (?, ?)", (activity.id, activity.owner_id)
        )

    def _load(self, db: sqlite3.Connection, activity_id: str) -> Activity:
        row = db.execute("SELECT doc FROM activities WHERE id = ?", (activity_id,)).fetchone()
        if row is None:
            raise Problem(404, "not-found", f"no activity {activity_id!r}")
        return Activity.model_validate_json(row["doc"])

    def get_activity(self, activity_id: str) -> Activity:
        with self._lock:
            return self._load(self._db, activity_id)

    def list_activities(self) -> list[Activity]:
        with self._lock:
            rows = self._db.execute("SELECT doc FROM activities ORDER BY end_utc DESC").fetchall()
        return [Activity.model_validate_json(row["doc"]) for row in rows]

    def create_activity(self, fields: ActivityFields, *, idempotency_key: str | None) -> CreateResult:
        if fields.state not in (ActivityState.DRAFT, ActivityState.CONFIRMED):
            raise Problem(422, "invalid-request", "a new activity is draft or confirmed")
        body_hash = hashlib.sha256(fields.model_dump_json(by_alias=True).encode()).hexdigest()
        with self._write() as db:
            if idempotency_key is not None:
                row = db.execute("SELECT * FROM idempotency WHERE key = ?", (idempotency_key,)).fetchone()
                if row is not None:
                    if row["body_hash"] != body_hash:
                        raise Problem(422, "idempotency-key-reused")
                    # The record as it is now is more useful than a stale copy; the first copy if it was deleted.
                    current = db.execute("SELECT doc FROM activities WHERE id = ?", (row["activity_id"],)).fetchone()
                    doc = current["doc"] if current is not None else row["first_doc"]
                    return CreateResult(activity=Activity.model_validate_json(doc), replayed=True)
            self._check_activity(db, fields)
            moment = now_utc()
            activity = Activity.model_validate(
                {
                    **fields.model_dump(),
                    "id": str(uuid.uuid4()),
                    "version": 1,
                    "created_at": moment,
                    "modified_at": moment,
                }
            )
            self._record(db, activity)
            if idempotency_key is not None:
                db.execute(
                    "INSERT INTO idempotency VALUES (?, ?, ?, ?)",
                    (idempotency_key, body_hash, activity.id, activity.model_dump_json(by_alias=True)),
                )
        return CreateResult(activity=activity, replayed=False)

    def _guard(self, activity: Activity, version: int) -> None:
        if activity.version != version:
            raise Problem(412, "stale-version", f"activity is at version {activity.version}, not {version}")

    def update_activity(self, activity_id: str, patch: ActivityPatch, *, version: int) -> tuple[Activity, Activity]:
        """The activity before and after ``patch``."""
        changes = patch.model_dump(exclude_unset=True)
        with self._write() as db:
            before = self._load(db, activity_id)
            self._guard(before, version)
            if before.state in READ_ONLY_STATES:
                raise Problem(409, "read-only", f"activity is {before.state.value}; it can no longer be changed")
            merged = {**before.model_dump(), **changes}
            try:
                fields = ActivityFields.model_validate(merged)
            except ValidationError as exc:
                raise Problem(422, "invalid-request", errors=validation_errors(exc)) from exc
            self._check_activity(db, fields)
            after = Activity.model_validate({**merged, "version": before.version + 1, "modified_at": now_utc()})
            self._record(db, after)
        return before, after

    def transition_activity(self, activity_id: str, action: str, *, version: int) -> Activity:
        allowed, target = TRANSITIONS[action]
        with self._write() as db:
            before = self._load(db, activity_id)
            self._guard(before, version)
            if before.state not in allowed:
                name = "read-only" if before.state in READ_ONLY_STATES else "invalid-transition"
                raise Problem(409, name, f"cannot {action} an activity that is {before.state.value}")
            after = before.model_copy(update={"state": target, "version": before.version + 1, "modified_at": now_utc()})
            self._record(db, after)
        return after

    def delete_activity(self, activity_id: str, *, version: int) -> Activity:
        """Remove the record for good (a person deleting it in the ERP); the feed shows a tombstone."""
        with self._write() as db:
            before = self._load(db, activity_id)
            self._guard(before, version)
            db.execute("DELETE FROM activities WHERE id = ?", (activity_id,))
            db.execute(
                "INSERT INTO activity_changes (activity_id, owner_id) VALUES (?, ?)", (activity_id, before.owner_id)
            )
        return before

    def activity_changes(
        self, *, owner_id: str, cursor: str | None, ends_after: datetime | None, limit: int
    ) -> FeedPage:
        with self._read() as db:
            if cursor is None:
                top = db.execute("SELECT COALESCE(MAX(seq), 0) AS seq FROM activity_changes").fetchone()["seq"]
                state = {"seq": top, "after": "", "endsAfter": _utc_key(ends_after) if ends_after else None}
                return self._activity_snapshot(db, owner_id=owner_id, state=state, limit=limit)
            state = _decode_cursor(cursor)
            if state.get("after") is not None:
                return self._activity_snapshot(db, owner_id=owner_id, state=state, limit=limit)
            return self._activity_feed(db, owner_id=owner_id, after_seq=state["seq"], limit=limit)

    def _activity_snapshot(
        self, db: sqlite3.Connection, *, owner_id: str, state: dict[str, Any], limit: int
    ) -> FeedPage:
        # Pages of the snapshot go by id; anything that changes meanwhile has a seq above the snapshot's
        # and so reaches the client again through the feed that follows.
        rows = db.execute(
            "SELECT a.id, a.doc, (SELECT MAX(seq) FROM activity_changes c WHERE c.activity_id = a.id) AS seq "
            "FROM activities a WHERE a.owner_id = ? AND a.id > ? AND (? IS NULL OR a.end_utc > ?) "
            "ORDER BY a.id LIMIT ?",
            (owner_id, state["after"], state["endsAfter"], state["endsAfter"], limit + 1),
        ).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        items = [
            {
                "seq": row["seq"],
                "activityId": row["id"],
                "ownerId": owner_id,
                "deleted": False,
                "activity": json.loads(row["doc"]),
            }
            for row in rows
        ]
        if more:
            next_cursor = _encode_cursor({**state, "after": rows[-1]["id"]})
        else:
            next_cursor = _encode_cursor({"seq": state["seq"]})
        return FeedPage(items=items, next_cursor=next_cursor, has_more=more)

    def _activity_feed(self, db: sqlite3.Connection, *, owner_id: str, after_seq: int, limit: int) -> FeedPage:
        # Only the latest change of each activity: its current state (or its tombstone) says it all.
        rows = db.execute(
            "SELECT c.activity_id, MAX(c.seq) AS seq, a.doc FROM activity_changes c "
            "LEFT JOIN activities a ON a.id = c.activity_id "
            "WHERE c.owner_id = ? AND c.seq > ? GROUP BY c.activity_id ORDER BY seq LIMIT ?",
            (owner_id, after_seq, limit + 1),
        ).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        items = [
            {
                "seq": row["seq"],
                "activityId": row["activity_id"],
                "ownerId": owner_id,
                "deleted": row["doc"] is None,
                "activity": json.loads(row["doc"]) if row["doc"] is not None else None,
            }
            for row in rows
        ]
        if rows:
            last = rows[-1]["seq"]
        else:
            # Nothing new for this owner: move the cursor to the log's head so later calls scan less.
            last = max(after_seq, db.execute("SELECT COALESCE(MAX(seq), 0) AS s FROM activity_changes").fetchone()["s"])
        return FeedPage(items=items, next_cursor=_encode_cursor({"seq": last}), has_more=more)

    # --- leave requests -----------------------------------------------------------------------------

    def _load_leave(self, db: sqlite3.Connection, leave_id: str) -> LeaveRequest:
        row = db.execute("SELECT doc FROM leave_requests WHERE id = ?", (leave_id,)).fetchone()
        if row is None:
            raise Problem(404, "not-found", f"no leave request {leave_id!r}")
        return LeaveRequest.model_validate_json(row["doc"])

    def _record_leave(self, db: sqlite3.Connection, leave: LeaveRequest) -> None:
        db.execute(
            "INSERT OR REPLACE INTO leave_requests VALUES (?, ?, ?, ?)",
            (leave.id, leave.user_id, _wall_end_utc(leave.end, leave.time_zone), leave.model_dump_json(by_alias=True)),
        )
        db.execute("INSERT INTO leave_changes (leave_request_id, user_id) VALUES (?, ?)", (leave.id, leave.user_id))

    def get_leave_request(self, leave_id: str) -> LeaveRequest:
        with self._lock:
            return self._load_leave(self._db, leave_id)

    def list_leave_requests(self) -> list[LeaveRequest]:
        with self._lock:
            rows = self._db.execute("SELECT doc FROM leave_requests ORDER BY end_utc DESC").fetchall()
        return [LeaveRequest.model_validate_json(row["doc"]) for row in rows]

    def create_leave_request(self, fields: LeaveRequestFields) -> LeaveRequest:
        _check_times(fields.start, fields.end, time_zone=fields.time_zone, all_day=fields.all_day)
        with self._write() as db:
            if not self._exists(db, "users", [fields.user_id]):
                raise Problem(422, "unknown-reference", f"unknown user {fields.user_id!r}")
            leave = LeaveRequest.model_validate(
                {**fields.model_dump(), "id": str(uuid.uuid4()), "version": 1, "modified_at": now_utc()}
            )
            self._record_leave(db, leave)
        return leave

    def update_leave_request(self, leave_id: str, patch: LeaveRequestPatch, *, version: int) -> LeaveRequest:
        changes = patch.model_dump(exclude_unset=True)
        if any(value is None for value in changes.values()):
            raise Problem(422, "invalid-request", "fields of a leave request cannot be set to null")
        with self._write() as db:
            before = self._load_leave(db, leave_id)
            if before.version != version:
                raise Problem(412, "stale-version", f"leave request is at version {before.version}, not {version}")
            after = LeaveRequest.model_validate(
                {**before.model_dump(), **changes, "version": before.version + 1, "modified_at": now_utc()}
            )
            _check_times(after.start, after.end, time_zone=after.time_zone, all_day=after.all_day)
            self._record_leave(db, after)
        return after

    def leave_request_changes(
        self, *, user_id: str, cursor: str | None, ends_after: datetime | None, limit: int
    ) -> FeedPage:
        with self._read() as db:
            if cursor is None:
                top = db.execute("SELECT COALESCE(MAX(seq), 0) AS seq FROM leave_changes").fetchone()["seq"]
                state: dict[str, Any] = {
                    "seq": top,
                    "after": "",
                    "endsAfter": _utc_key(ends_after) if ends_after else None,
                }
            else:
                state = _decode_cursor(cursor)
            if state.get("after") is not None:
                rows = db.execute(
                    "SELECT l.id, l.doc, (SELECT MAX(seq) FROM leave_changes c WHERE c.leave_request_id = l.id) AS seq "
                    "FROM leave_requests l WHERE l.user_id = ? AND l.id > ? AND (? IS NULL OR l.end_utc > ?) "
                    "ORDER BY l.id LIMIT ?",
                    (user_id, state["after"], state["endsAfter"], state["endsAfter"], limit + 1),
                ).fetchall()
                more = len(rows) > limit
                rows = rows[:limit]
                items = [
                    {
                        "seq": row["seq"],
                        "leaveRequestId": row["id"],
                        "userId": user_id,
                        "deleted": False,
                        "leaveRequest": json.loads(row["doc"]),
                    }
                    for row in rows
                ]
                nxt = {**state, "after": rows[-1]["id"]} if more else {"seq": state["seq"]}
                return FeedPage(items=items, next_cursor=_encode_cursor(nxt), has_more=more)
            rows = db.execute(
                "SELECT c.leave_request_id, MAX(c.seq) AS seq, l.doc FROM leave_changes c "
                "LEFT JOIN leave_requests l ON l.id = c.leave_request_id "
                "WHERE c.user_id = ? AND c.seq > ? GROUP BY c.leave_request_id ORDER BY seq LIMIT ?",
                (user_id, state["seq"], limit + 1),
            ).fetchall()
            more = len(rows) > limit
            rows = rows[:limit]
            items = [
                {
                    "seq": row["seq"],
                    "leaveRequestId": row["leave_request_id"],
                    "userId": user_id,
                    "deleted": row["doc"] is None,
                    "leaveRequest": json.loads(row["doc"]) if row["doc"] else None,
                }
                for row in rows
            ]
            last = rows[-1]["seq"] if rows else state["seq"]
            return FeedPage(items=items, next_cursor=_encode_cursor({"seq": last}), has_more=more)


def activity_users(*activities: Activity) -> tuple[str, ...]:
    """Whose calendars an activity touches: its owner and registered users, before and after a change."""
    seen: dict[str, None] = {}
    for activity in activities:
        seen[activity.owner_id] = None
        for uid in activity.registered_user_ids:
            seen[uid] = None
    return tuple(seen)


def activity_hook(*activities: Activity) -> HookChange:
    return HookChange(entity="activity", id=activities[0].id, user_ids=activity_users(*activities))


def leave_hook(leave: LeaveRequest) -> HookChange:
    return HookChange(entity="leaveRequest", id=leave.id, user_ids=(leave.user_id,))
