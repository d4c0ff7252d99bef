"""Leave requests in the reference ERP (R30): the ERP side records them, the sync only reads their feed."""

from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from emulators.erp.db import (
    Database,
    FeedPage,
    check_times,
    decode_cursor,
    encode_cursor,
    snapshot_state,
    wall_end_utc,
)
from emulators.erp.problems import Problem
from shared.core.activities import LeaveRequest, LeaveStatus


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


class LeaveRecords(Database):
    """Leave requests and their per-user feed."""

    def _load_leave(self, db: sqlite3.Connection, leave_id: str) -> LeaveRequest:
        row = db.execute("SELECT doc FROM leave_requests WHERE id = ?", (leave_id,)).fetchone()
        if row is None:
            raise Problem(404, "not-found", f"no leave request {leave_id!r}")
        return LeaveRequest.model_validate_json(row["doc"])

    def _record_leave(self, db: sqlite3.Connection, leave: LeaveRequest) -> None:
        db.execute(
            "INSERT OR REPLACE INTO leave_requests VALUES (?, ?, ?, ?)",
            (leave.id, leave.user_id, wall_end_utc(leave.end, leave.time_zone), leave.model_dump_json(by_alias=True)),
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
        check_times(fields.start, fields.end, time_zone=fields.time_zone, all_day=fields.all_day)
        with self._write() as db:
            if not self._exists(db, "users", [fields.user_id]):
                raise Problem(422, "unknown-reference", f"unknown user {fields.user_id!r}")
            leave = LeaveRequest.model_validate(
                {**fields.model_dump(), "id": str(uuid.uuid4()), "version": 1, "modified_at": self.now()}
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
                {**before.model_dump(), **changes, "version": before.version + 1, "modified_at": self.now()}
            )
            check_times(after.start, after.end, time_zone=after.time_zone, all_day=after.all_day)
            self._record_leave(db, after)
        return after

    def leave_request_changes(
        self, *, user_id: str, cursor: str | None, ends_after: datetime | None, limit: int
    ) -> FeedPage:
        with self._read() as db:
            if cursor is None:
                top = db.execute("SELECT COALESCE(MAX(seq), 0) AS seq FROM leave_changes").fetchone()["seq"]
                state: dict[str, Any] = snapshot_state(top, ends_after)
            else:
                state = decode_cursor(cursor)
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
                return FeedPage(items=items, next_cursor=encode_cursor(nxt), has_more=more)
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
            return FeedPage(items=items, next_cursor=encode_cursor({"seq": last}), has_more=more)
