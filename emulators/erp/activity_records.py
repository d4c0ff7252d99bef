"""Activities in the reference ERP: the writes and the business rules the contract promises.

Each write logs one change row per user it concerns: the activity's owner and registered users after
the write, plus anyone the write took off it (a removed registered user, the old owner on an owner
change, everyone on a delete). That is what lets each user's feed report an activity they just left.

A recurring series (R28) is one activity whose ``recurrence`` and ``exceptions`` live in its document;
``series.py`` holds their rules. An ERP started without series support refuses a recurrence.
"""

from __future__ import annotations

import hashlib
import sqlite3
import uuid
from dataclasses import dataclass

from pydantic import ValidationError

from emulators.erp.db import Database, check_times, wall_end_utc
from emulators.erp.problems import Problem, validation_errors
from emulators.erp.series import checked_series, occurrences
from shared.core.activities import (
    READ_ONLY_STATES,
    Activity,
    ActivityFields,
    ActivityPatch,
    ActivityState,
    ErpCapabilities,
    Facility,
    ParticipantKind,
    RangeType,
)

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


@dataclass(frozen=True, kw_only=True)
class CreateResult:
    activity: Activity
    replayed: bool


def activity_users(*activities: Activity) -> tuple[str, ...]:
    """Who is on an activity: its owner, then its registered users (``registeredUserIds`` and participants
    of kind ``user`` with a ``refId``), in order and without repeats; over several versions, the union."""
    seen: dict[str, None] = {}
    for activity in activities:
        seen[activity.owner_id] = None
        for uid in activity.registered_user_ids:
            seen[uid] = None
        for participant in activity.participants:
            if participant.kind is ParticipantKind.USER and participant.ref_id:
                seen[participant.ref_id] = None
    return tuple(seen)


class ActivityRecords(Database):
    """Create, change, transition and delete activities; every write logged per user it concerns."""

    # Whether this ERP holds recurring series (R28); ``ErpStore(..., series=False)`` makes one that does not.
    series: bool = True

    def capabilities(self) -> ErpCapabilities:
        return ErpCapabilities(series=self.series)

    def _check_activity(self, db: sqlite3.Connection, fields: ActivityFields) -> None:
        """The contract's rules beyond field types: times, references, and the facility rule (R13)."""
        check_times(fields.start, fields.end, time_zone=fields.time_zone, all_day=fields.all_day)
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

    @staticmethod
    def _log(db: sqlite3.Connection, activity_id: str, owner_id: str, users: tuple[str, ...]) -> None:
        """One change row per user the write concerns; those left out by the write come after those on it."""
        previous = [
            row["user_id"]
            for row in db.execute("SELECT user_id FROM activity_users WHERE activity_id = ?", (activity_id,))
        ]
        concerned = dict.fromkeys([*users, *previous])
        db.executemany(
            "INSERT INTO activity_log (activity_id, user_id, owner_id) VALUES (?, ?, ?)",
            [(activity_id, uid, owner_id) for uid in concerned],
        )
        db.execute("DELETE FROM activity_users WHERE activity_id = ?", (activity_id,))
        db.executemany(
            "INSERT INTO activity_users (activity_id, user_id) VALUES (?, ?)", [(activity_id, uid) for uid in users]
        )

    def _record(self, db: sqlite3.Connection, activity: Activity) -> None:
        db.execute(
            "INSERT OR REPLACE INTO activities VALUES (?, ?, ?, ?)",
            (
                activity.id,
                activity.owner_id,
                ends_utc(activity),
                activity.model_dump_json(by_alias=True),
            ),
        )
        self._log(db, activity.id, activity.owner_id, activity_users(activity))

    @staticmethod
    def _load(db: sqlite3.Connection, activity_id: str) -> Activity:
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
            fields = checked_series(fields, supported=self.series)
            moment = self.now()
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

    @staticmethod
    def _guard(activity: Activity, version: int) -> None:
        if activity.version != version:
            raise Problem(412, "stale-version", f"activity is at version {activity.version}, not {version}")

    def update_activity(self, activity_id: str, patch: ActivityPatch, *, version: int) -> tuple[Activity, Activity]:
        """The activity before and after ``patch``. A new ``ownerId`` hands the activity over; nothing else
        changes with it (the old owner does not become a registered user unless the patch says so)."""
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
            # A patch that changes the series but not its exceptions drops those naming no occurrence any more.
            self._check_activity(db, fields)
            fields = checked_series(fields, supported=self.series, keep_named_only="exceptions" not in changes)
            after = Activity.model_validate(
                {**merged, **fields.model_dump(), "version": before.version + 1, "modified_at": self.now()}
            )
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
            after = before.model_copy(
                update={"state": target, "version": before.version + 1, "modified_at": self.now()}
            )
            self._record(db, after)
        return after

    def delete_activity(self, activity_id: str, *, version: int) -> Activity:
        """Remove the record for good (a person deleting it in the ERP); everyone on it gets a tombstone."""
        with self._write() as db:
            before = self._load(db, activity_id)
            self._guard(before, version)
            db.execute("DELETE FROM activities WHERE id = ?", (activity_id,))
            db.execute("DELETE FROM attachments WHERE activity_id = ?", (activity_id,))  # its files go with it (R18)
            self._log(db, activity_id, before.owner_id, ())
        return before


def ends_utc(activity: Activity) -> str:
    """When the record ends, as ``endsAfter`` reads it: a series (R28) ends with its last occurrence (or a moved
    one ending later), one with no end never; its own ``start``/``end`` are only its first occurrence's."""
    if activity.recurrence is None:
        return wall_end_utc(activity.end, activity.time_zone)
    if activity.recurrence.range.type is RangeType.NO_END:
        return NEVER
    last = activity.start
    for last in occurrences(activity.recurrence, activity.start):  # noqa: B007 - the last one is wanted
        pass
    ends = [last + (activity.end - activity.start)]
    ends += [item.end for item in activity.exceptions if item.end is not None and not item.cancelled]
    return max(wall_end_utc(end, activity.time_zone) for end in ends)


NEVER = "9999-12-31T23:59:59"  # in utc_key's format, after any instant
