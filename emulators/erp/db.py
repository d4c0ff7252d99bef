"""The reference ERP's SQLite database: schema, transactions, and the helpers every table shares.

Every write runs in one ``BEGIN IMMEDIATE`` transaction that also appends to a change log whose
``seq`` is an AUTOINCREMENT key. SQLite lets one writer at a time commit, so a reader that sees
change ``n`` has seen every change below ``n``: that is what makes paging a feed by ``seq`` skip
nothing under concurrent writes. Records are kept as the contract's JSON documents, with the
columns the queries need beside them.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from emulators.erp.problems import Problem

# ``activity_log`` has one row per user a write concerns (owner, registered users, and whoever the
# write took off the activity), so each user's feed is one indexed range scan. ``activity_users`` is
# who is on each activity now (its owner and registered users), for the snapshot. ``attachments`` holds the
# activities' files (R18) as BLOBs, their metadata also in the activity's document; ``attachment_keys`` the
# first answer to each Idempotency-Key of a file upload.
SCHEMA = """
CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, email TEXT, enabled INTEGER NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS companies (id TEXT PRIMARY KEY, email TEXT, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS contacts (id TEXT PRIMARY KEY, email TEXT, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS facilities (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS activity_types (code TEXT PRIMARY KEY, kind TEXT NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS activities (
    id TEXT PRIMARY KEY, owner_id TEXT NOT NULL, end_utc TEXT NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS activity_users (
    activity_id TEXT NOT NULL, user_id TEXT NOT NULL, PRIMARY KEY (user_id, activity_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS activity_users_activity ON activity_users (activity_id);
CREATE TABLE IF NOT EXISTS activity_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, activity_id TEXT NOT NULL, user_id TEXT NOT NULL,
    owner_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS activity_log_user ON activity_log (user_id, seq);
CREATE INDEX IF NOT EXISTS activity_log_activity ON activity_log (activity_id, seq);
CREATE TABLE IF NOT EXISTS idempotency (key TEXT PRIMARY KEY, body_hash TEXT NOT NULL, activity_id TEXT NOT NULL,
    first_doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS leave_requests (
    id TEXT PRIMARY KEY, user_id TEXT NOT NULL, end_utc TEXT NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS leave_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, leave_request_id TEXT NOT NULL, user_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS leave_changes_user ON leave_changes (user_id, seq);
CREATE TABLE IF NOT EXISTS attachments (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, activity_id TEXT NOT NULL, id TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
    content_type TEXT NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL, idempotency_key TEXT,
    content BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS attachments_activity ON attachments (activity_id);
CREATE TABLE IF NOT EXISTS attachment_keys (key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, answer TEXT NOT NULL);
"""

TABLES = (
    "users",
    "companies",
    "contacts",
    "facilities",
    "activity_types",
    "activities",
    "activity_users",
    "activity_log",
    "idempotency",
    "leave_requests",
    "leave_changes",
    "attachments",
    "attachment_keys",
)

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 500


@dataclass(frozen=True, kw_only=True)
class FeedPage:
    items: list[dict[str, Any]]
    next_cursor: str
    has_more: bool


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def utc_clock() -> datetime:
    return datetime.now(UTC)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise Problem(422, "invalid-request", f"unknown IANA time zone {name!r}") from exc


def utc_key(moment: datetime) -> str:
    # One fixed format so SQLite compares these strings in time order.
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def wall_end_utc(end: datetime, time_zone: str) -> str:
    return utc_key(end.replace(tzinfo=zone(time_zone)))


def check_times(start: datetime, end: datetime, *, time_zone: str, all_day: bool) -> None:
    if start.tzinfo is not None or end.tzinfo is not None:
        raise Problem(422, "invalid-request", "start and end are wall-clock times in timeZone, without an offset")
    zone(time_zone)
    if end < start:
        raise Problem(422, "invalid-request", "end is before start")
    if all_day and (start.time() != time(0) or end.time() != time(0) or end == start):
        raise Problem(422, "invalid-request", "an all-day item starts and ends at midnight, end exclusive")


def encode_cursor(payload: dict[str, Any]) -> str:
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, Any]:
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


def snapshot_state(top: int, ends_after: datetime | None) -> dict[str, Any]:
    """Where a snapshot starts: every record from the first id, with the log's head to continue from."""
    return {"seq": top, "after": "", "endsAfter": utc_key(ends_after) if ends_after else None}


def parse_if_match(value: str | None) -> int:
    """The version in an If-Match header (``"3"``, ``W/"3"`` or ``3``); 428 when absent (RFC 6585)."""
    if value is None or not value.strip():
        raise Problem(428, "precondition-required")
    tag = value.strip()
    tag = tag.removeprefix("W/").strip('"')
    if not tag.isascii() or not tag.isdigit():
        raise Problem(412, "stale-version", "If-Match does not name a version of this record")
    return int(tag)


class Database:
    """One SQLite connection guarded by a lock; the tables' mixins build on it. Thread-safe."""

    def __init__(self, db_path: str) -> None:
        self._db = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        if db_path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)
        # The ERP's clock (a test may hold it still, e.g. for two writes within one second). Its records keep
        # whole seconds, as many ERPs do: what tells two writes apart is their version and feed ``seq``.
        self.clock: Callable[[], datetime] = utc_clock

    def now(self) -> datetime:
        """When a write happens, in whole seconds (``modified_at``)."""
        return self.clock().astimezone(UTC).replace(microsecond=0)

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

    @staticmethod
    def _exists(db: sqlite3.Connection, table: str, ids: Sequence[str]) -> set[str]:
        if not ids:
            return set()
        marks = ",".join("?" * len(ids))
        rows = db.execute(f"SELECT id FROM {table} WHERE id IN ({marks})", list(ids)).fetchall()  # noqa: S608
        return {row["id"] for row in rows}
