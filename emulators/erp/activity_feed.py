"""The activity change feed of the reference ERP, per user: what they own or are a registered user of.

After a cursor: the latest change of each activity whose log has a row for the user after it, as the
activity is now (or a tombstone). An activity the user was taken off is logged for them once more,
at that write, and never again; so they see it once, as it is now, without them. Without a cursor: a
snapshot of the activities the user is on now, paged by id, then the changes since that snapshot.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from emulators.erp.db import Database, FeedPage, decode_cursor, encode_cursor, snapshot_state


@dataclass(frozen=True, kw_only=True)
class ChangeRow:
    """One feed entry as stored: ``doc`` is the activity's JSON document now, or None for a tombstone."""

    seq: int
    activity_id: str
    owner_id: str
    doc: str | None


@dataclass(frozen=True, kw_only=True)
class ChangeRows:
    rows: list[ChangeRow]
    next_cursor: str
    has_more: bool


def _head(db: sqlite3.Connection) -> int:
    return int(db.execute("SELECT COALESCE(MAX(seq), 0) AS seq FROM activity_log").fetchone()["seq"])


class ActivityFeed(Database):
    def activity_change_rows(
        self, *, user_id: str, cursor: str | None, ends_after: datetime | None, limit: int
    ) -> ChangeRows:
        """One page of the user's feed, records as their stored JSON (for callers that parse them themselves)."""
        with self._read() as db:
            if cursor is None:
                return self._snapshot(db, user_id=user_id, state=snapshot_state(_head(db), ends_after), limit=limit)
            state = decode_cursor(cursor)
            if state.get("after") is not None:
                return self._snapshot(db, user_id=user_id, state=state, limit=limit)
            return self._changes(db, user_id=user_id, after_seq=state["seq"], limit=limit)

    def activity_changes(
        self, *, user_id: str, cursor: str | None, ends_after: datetime | None, limit: int
    ) -> FeedPage:
        """One page of the user's feed as the contract's JSON items."""
        page = self.activity_change_rows(user_id=user_id, cursor=cursor, ends_after=ends_after, limit=limit)
        items: list[dict[str, Any]] = [
            {
                "seq": row.seq,
                "activityId": row.activity_id,
                "ownerId": row.owner_id,
                "deleted": row.doc is None,
                "activity": json.loads(row.doc) if row.doc is not None else None,
            }
            for row in page.rows
        ]
        return FeedPage(items=items, next_cursor=page.next_cursor, has_more=page.has_more)

    @staticmethod
    def _snapshot(db: sqlite3.Connection, *, user_id: str, state: dict[str, Any], limit: int) -> ChangeRows:
        # Pages of the snapshot go by id; anything that changes meanwhile has a seq above the snapshot's
        # and so reaches the client again through the feed that follows.
        rows = db.execute(
            "SELECT a.id, a.owner_id, a.doc, "
            "(SELECT MAX(seq) FROM activity_log c WHERE c.activity_id = a.id) AS seq "
            "FROM activity_users m JOIN activities a ON a.id = m.activity_id "
            "WHERE m.user_id = ? AND m.activity_id > ? AND (? IS NULL OR a.end_utc > ?) "
            "ORDER BY m.activity_id LIMIT ?",
            (user_id, state["after"], state["endsAfter"], state["endsAfter"], limit + 1),
        ).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        items = [
            ChangeRow(seq=row["seq"], activity_id=row["id"], owner_id=row["owner_id"], doc=row["doc"]) for row in rows
        ]
        next_state = {**state, "after": rows[-1]["id"]} if more else {"seq": state["seq"]}
        return ChangeRows(rows=items, next_cursor=encode_cursor(next_state), has_more=more)

    @staticmethod
    def _changes(db: sqlite3.Connection, *, user_id: str, after_seq: int, limit: int) -> ChangeRows:
        # Only the latest change of each activity: its current state (or its tombstone) says it all.
        # SQLite takes the bare column l.owner_id from the row holding MAX(seq): the owner at that write.
        rows = db.execute(
            "SELECT l.activity_id, MAX(l.seq) AS seq, COALESCE(a.owner_id, l.owner_id) AS owner_id, a.doc "
            "FROM activity_log l LEFT JOIN activities a ON a.id = l.activity_id "
            "WHERE l.user_id = ? AND l.seq > ? GROUP BY l.activity_id ORDER BY seq LIMIT ?",
            (user_id, after_seq, limit + 1),
        ).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        items = [
            ChangeRow(seq=row["seq"], activity_id=row["activity_id"], owner_id=row["owner_id"], doc=row["doc"])
            for row in rows
        ]
        # Nothing new for this user: move the cursor to the log's head so later calls scan less.
        last = rows[-1]["seq"] if rows else max(after_seq, _head(db))
        return ChangeRows(rows=items, next_cursor=encode_cursor({"seq": last}), has_more=more)
