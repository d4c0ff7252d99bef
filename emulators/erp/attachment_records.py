"""Files on activities in the reference ERP (R18): bytes as SQLite BLOBs, metadata in the activity's document.

Adding or removing a file is a change to the activity like any other: a new ``version`` and ``modifiedAt``, one
change-log row per user on it (so the feed carries the new ``attachments`` list), and (in the app) one hook call.
An activity in a read-only state (released, closed, voided) refuses both with ``409 read-only``, as it refuses
every other write (R7). An upload is made once per Idempotency-Key: a retry with the same key, activity, name,
type and bytes answers the first result (even if that file was removed since); the same key for anything else
is ``422 idempotency-key-reused``. Files past ``max_attachment_bytes`` are refused with ``413``; a hash the
client declared (``Content-Digest``) that the bytes do not have with ``422``.

The ERP computes each file's SHA-256 itself. Bytes are read back in chunks through SQLite's incremental BLOB
I/O, the lock taken per chunk, so a large download never holds up other requests nor copies the whole file.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from emulators.erp.activity_records import ActivityRecords
from emulators.erp.problems import Problem
from shared.core.activities import Activity, ErpCapabilities
from shared.core.attachments import ActivityAttachment

DEFAULT_MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024
READ_CHUNK_BYTES = 1024 * 1024

Bytes = bytes | bytearray | memoryview


@dataclass(frozen=True, kw_only=True)
class AttachmentResult:
    """What an upload answers: the file as stored and the activity's version after it; ``activity`` is the
    activity after the write (None for a replay, which wrote nothing)."""

    attachment: ActivityAttachment
    activity_version: int
    activity: Activity | None
    replayed: bool

    def answer(self) -> dict[str, object]:
        """The contract's JSON answer."""
        return {
            "attachment": self.attachment.model_dump(by_alias=True, mode="json"),
            "activityVersion": self.activity_version,
        }


@dataclass(frozen=True, kw_only=True)
class StoredFile:
    """Where a file's bytes are (``seq`` is its BLOB's rowid), with its metadata."""

    seq: int
    attachment: ActivityAttachment


def _fingerprint(activity_id: str, name: str, content_type: str, sha256: str) -> str:
    return hashlib.sha256(json.dumps([activity_id, name, content_type, sha256]).encode()).hexdigest()


class AttachmentRecords(ActivityRecords):
    """The files of activities; ``max_attachment_bytes`` is the largest file the ERP takes (0: no files)."""

    max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES

    def capabilities(self) -> ErpCapabilities:
        return (
            super()
            .capabilities()
            .model_copy(
                update={"attachments": self.max_attachment_bytes > 0, "max_attachment_bytes": self.max_attachment_bytes}
            )
        )

    def check_attachment_size(self, size: int) -> None:
        """413 ``attachment-too-large`` for a file past the declared limit."""
        if size > self.max_attachment_bytes:
            raise Problem(
                413,
                "attachment-too-large",
                f"the file has {size} bytes; this ERP takes files of at most {self.max_attachment_bytes} bytes",
            )

    def list_attachments(self, activity_id: str) -> tuple[ActivityAttachment, ...]:
        return self.get_activity(activity_id).attachments

    def add_attachment(
        self,
        activity_id: str,
        *,
        name: str,
        content_type: str,
        content: Bytes,
        idempotency_key: str,
        expected_sha256: str | None = None,
    ) -> AttachmentResult:
        """Store ``content`` as a new file of the activity, once per ``idempotency_key``."""
        size = len(content)
        sha256 = hashlib.sha256(content).hexdigest()
        if expected_sha256 is not None and expected_sha256 != sha256:
            raise Problem(422, "content-digest-mismatch", "the bytes received do not have the SHA-256 declared")
        fingerprint = _fingerprint(activity_id, name, content_type, sha256)
        with self._write() as db:
            row = db.execute("SELECT fingerprint, answer FROM attachment_keys WHERE key = ?", (idempotency_key,))
            known = row.fetchone()
            if known is not None:
                if known["fingerprint"] != fingerprint:
                    raise Problem(422, "idempotency-key-reused", "the Idempotency-Key was used for another file")
                first = json.loads(known["answer"])
                attachment = ActivityAttachment.model_validate(first["attachment"])
                return AttachmentResult(
                    attachment=attachment, activity_version=first["activityVersion"], activity=None, replayed=True
                )
            before = self._writable(db, activity_id)
            self.check_attachment_size(size)
            attachment = ActivityAttachment(
                id=str(uuid.uuid4()), name=name, content_type=content_type, size=size, sha256=sha256
            )
            db.execute(
                "INSERT INTO attachments (activity_id, id, name, content_type, size, sha256, idempotency_key, content) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (activity_id, attachment.id, name, content_type, size, sha256, idempotency_key, content),
            )
            after = self._bump(db, before, (*before.attachments, attachment))
            result = AttachmentResult(
                attachment=attachment, activity_version=after.version, activity=after, replayed=False
            )
            db.execute(
                "INSERT INTO attachment_keys VALUES (?, ?, ?)",
                (idempotency_key, fingerprint, json.dumps(result.answer())),
            )
        return result

    def remove_attachment(self, activity_id: str, attachment_id: str) -> Activity:
        """Remove the file; the activity after it. 404 when the activity or the file is not there."""
        with self._write() as db:
            before = self._load(db, activity_id)
            kept = tuple(item for item in before.attachments if item.id != attachment_id)
            if len(kept) == len(before.attachments):
                raise Problem(404, "not-found", f"activity {activity_id!r} has no file {attachment_id!r}")
            self._writable(db, activity_id)
            db.execute("DELETE FROM attachments WHERE activity_id = ? AND id = ?", (activity_id, attachment_id))
            return self._bump(db, before, kept)

    def stored_file(self, activity_id: str, attachment_id: str) -> StoredFile:
        """The file's metadata and where its bytes are; 404 when the activity or the file is not there."""
        with self._lock:
            self._load(self._db, activity_id)
            row = self._db.execute(
                "SELECT seq, id, name, content_type, size, sha256 FROM attachments WHERE activity_id = ? AND id = ?",
                (activity_id, attachment_id),
            ).fetchone()
        if row is None:
            raise Problem(404, "not-found", f"activity {activity_id!r} has no file {attachment_id!r}")
        attachment = ActivityAttachment(
            id=row["id"], name=row["name"], content_type=row["content_type"], size=row["size"], sha256=row["sha256"]
        )
        return StoredFile(seq=row["seq"], attachment=attachment)

    def file_chunks(self, stored: StoredFile, *, chunk_size: int = READ_CHUNK_BYTES) -> Iterator[bytes]:
        """The file's bytes, ``chunk_size`` at a time, read straight from its BLOB. A file removed meanwhile
        ends the iteration with 404 (its rowid is never reused: AUTOINCREMENT)."""
        size = stored.attachment.size
        for offset in range(0, size, chunk_size):
            with self._lock:
                try:
                    with self._db.blobopen("attachments", "content", stored.seq, readonly=True) as blob:
                        blob.seek(offset)
                        chunk = blob.read(min(chunk_size, size - offset))
                except sqlite3.OperationalError as exc:
                    raise Problem(404, "not-found", "the file was removed while it was read") from exc
            yield chunk

    def _writable(self, db: sqlite3.Connection, activity_id: str) -> Activity:
        activity = self._load(db, activity_id)
        if activity.read_only:
            raise Problem(409, "read-only", f"activity is {activity.state.value}; its files can no longer change")
        return activity

    def _bump(self, db: sqlite3.Connection, before: Activity, files: tuple[ActivityAttachment, ...]) -> Activity:
        after = before.model_copy(
            update={"attachments": files, "version": before.version + 1, "modified_at": self.now()}
        )
        self._record(db, after)
        return after
