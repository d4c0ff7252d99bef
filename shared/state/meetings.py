"""The tenant-wide meeting claims (R10) in the ``<prefix>Meetings`` table; ``TableStateStore`` delegates here.

Rows (keys encoded by ``shared.state.keys``):

- meeting: PartitionKey ``meeting-<hh>``, RowKey = the iCalUId; the claim.
- activity index: PartitionKey ``activity-<hh>``, RowKey = the ERP activity id; ``ical_uid`` points at
  the meeting that carries this activity.

``<hh>`` is the first byte of the SHA-256 of the id (UTF-8) in lower-case hex: 256 buckets, so claims of
the whole tenant spread over many partitions (no hot partition) while a point read still names its
partition. An id too long to be a key once encoded (over 1 KiB: iCalUIds are whatever the sending
system made up) is keyed ``sha256|<hex of the id>`` instead; ``|`` cannot occur in an encoded id, so the
two forms never collide. Every row keeps the id itself as a property and reads check it.

A meeting and its index row live in different partitions, so no transaction covers both. The index row
is written FIRST and only trusted when the meeting it names points back at the activity: a crash after
the index write leaves a row nobody believes, and one after the meeting write leaves a stale index row
of the old activity id, removed on the next save or delete and ignored until then. An activity belongs
to one meeting: pointing it at another meeting while the first still carries it is a ``StateConflict``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient

from shared.core.meetings import Meeting
from shared.errors import StateConflict, StateLimitExceeded
from shared.state import rows
from shared.state.entities import Entity, etag_of, from_table_datetime, to_utc
from shared.state.keys import MAX_KEY_UTF16_UNITS, encode_part, utf16_units
from shared.state.limits import check_entity

MEETING_PARTITION = "meeting"
ACTIVITY_PARTITION = "activity"
HASHED_KEY = "sha256"
_INDEX_ATTEMPTS = 5  # rounds of pointing an index row; each ends or another writer changed the row


def bucket(value: str) -> str:
    """Two hex digits from the id's SHA-256: the partition bucket."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:2]


def id_key(value: str, *, what: str) -> str:
    """The id as a RowKey: encoded, or ``sha256|<hex>`` when the encoded id is over the key limit."""
    if not value:
        raise StateLimitExceeded(f"{what}: an empty id cannot be a Table key")
    encoded = encode_part(value)
    if utf16_units(encoded) <= MAX_KEY_UTF16_UNITS:
        return encoded
    return f"{HASHED_KEY}|{hashlib.sha256(value.encode('utf-8')).hexdigest()}"


def meeting_keys(ical_uid: str) -> tuple[str, str]:
    return f"{MEETING_PARTITION}-{bucket(ical_uid)}", id_key(ical_uid, what="iCalUId")


def activity_keys(activity_id: str) -> tuple[str, str]:
    return f"{ACTIVITY_PARTITION}-{bucket(activity_id)}", id_key(activity_id, what="activity id")


def meeting_entity(meeting: Meeting) -> Entity:
    partition, row = meeting_keys(meeting.ical_uid)
    entity: Entity = {
        "PartitionKey": partition,
        "RowKey": row,
        "ical_uid": meeting.ical_uid,
        "owner_user_id": meeting.owner_user_id,
        "owner_mailbox": meeting.owner_mailbox,
        "updated_at": to_utc(meeting.updated_at, what="updated_at"),
    }
    if meeting.activity_id is not None:
        entity["activity_id"] = meeting.activity_id
    if meeting.source_change_key is not None:
        entity["source_change_key"] = meeting.source_change_key
    check_entity(entity, what=f"meeting {meeting.ical_uid!r}")
    return entity


def meeting_from_entity(entity: Mapping[str, Any], etag: str) -> Meeting:
    return Meeting(
        ical_uid=entity["ical_uid"],
        owner_user_id=entity["owner_user_id"],
        owner_mailbox=entity["owner_mailbox"],
        activity_id=entity.get("activity_id"),
        source_change_key=entity.get("source_change_key"),
        updated_at=from_table_datetime(entity["updated_at"]),
        etag=etag,
    )


def activity_index_entity(activity_id: str, ical_uid: str) -> Entity:
    partition, row = activity_keys(activity_id)
    entity: Entity = {"PartitionKey": partition, "RowKey": row, "activity_id": activity_id, "ical_uid": ical_uid}
    check_entity(entity, what=f"activity index of {activity_id!r}")
    return entity


class TableMeetings:
    """``MeetingStore`` on one Table (see the module docstring for rows and write order)."""

    def __init__(self, table: TableClient) -> None:
        self._table = table

    async def get_meeting(self, ical_uid: str) -> Meeting | None:
        row = await rows.get(self._table, *meeting_keys(ical_uid))
        if row is None or row["ical_uid"] != ical_uid:  # a hashed key is only trusted with its id
            return None
        return meeting_from_entity(row, etag_of(row))

    async def meeting_by_activity(self, activity_id: str) -> Meeting | None:
        pointer = await self._index_row(activity_id)
        if pointer is None:
            return None
        meeting = await self.get_meeting(str(pointer["ical_uid"]))
        # The index row is written before the meeting: it counts only if the meeting points back.
        return meeting if meeting is not None and meeting.activity_id == activity_id else None

    async def claim_meeting(self, meeting: Meeting) -> Meeting | None:
        """Insert-if-absent; None when the iCalUId is claimed already (whoever claimed it)."""
        entity = meeting_entity(meeting)
        if meeting.activity_id is not None:
            await self._point(meeting.activity_id, meeting.ical_uid)
        try:
            created = await self._table.create_entity(entity)
        except ResourceExistsError:
            return None
        return meeting.model_copy(update={"etag": str(created["etag"])})

    async def save_meeting(self, meeting: Meeting, *, read: Meeting | None = None) -> Meeting:
        """Replace on condition of the ETag (an ETag of None inserts); the activity index follows. ``read``, the
        claim as read with the same ETag, spares the read that learns which activity the save replaces (the
        conditional replace fails if the claim changed since)."""
        if meeting.etag is None:
            claimed = await self.claim_meeting(meeting)
            if claimed is None:
                raise StateConflict(f"meeting {meeting.ical_uid!r} is claimed already; read it and save with its ETag")
            return claimed
        entity = meeting_entity(meeting)
        stored = read if read is not None and (read.ical_uid, read.etag) == (meeting.ical_uid, meeting.etag) else None
        if stored is None:
            stored = await self.get_meeting(meeting.ical_uid)
        if stored is None or stored.etag != meeting.etag:
            raise StateConflict(f"meeting {meeting.ical_uid!r} changed or was deleted since it was read")
        if meeting.activity_id is not None:
            await self._point(meeting.activity_id, meeting.ical_uid)
        try:
            replaced = await self._table.update_entity(
                entity, mode=UpdateMode.REPLACE, etag=meeting.etag, match_condition=MatchConditions.IfNotModified
            )
        except (ResourceModifiedError, ResourceNotFoundError) as error:
            raise StateConflict(f"meeting {meeting.ical_uid!r} changed or was deleted since it was read") from error
        if stored.activity_id is not None and stored.activity_id != meeting.activity_id:
            await self._unpoint(stored.activity_id, meeting.ical_uid)
        return meeting.model_copy(update={"etag": str(replaced["etag"])})

    async def delete_meeting(self, meeting: Meeting) -> None:
        """Delete the claim and its index row; ``StateConflict`` if it changed since read (when read)."""
        stored = await self.get_meeting(meeting.ical_uid)
        if stored is None or stored.etag is None:
            return
        if meeting.etag is not None and meeting.etag != stored.etag:
            raise StateConflict(f"meeting {meeting.ical_uid!r} changed since it was read")
        if not await rows.delete_if_unchanged(self._table, *meeting_keys(meeting.ical_uid), stored.etag):
            if await self.get_meeting(meeting.ical_uid) is not None:
                raise StateConflict(f"meeting {meeting.ical_uid!r} changed while it was being deleted")
            return
        if stored.activity_id is not None:
            await self._unpoint(stored.activity_id, meeting.ical_uid)

    async def _index_row(self, activity_id: str) -> Any:
        row = await rows.get(self._table, *activity_keys(activity_id))
        return None if row is None or row["activity_id"] != activity_id else row

    async def _point(self, activity_id: str, ical_uid: str) -> None:
        """Make the activity's index row name ``ical_uid``, unless another meeting really carries it."""
        entity = activity_index_entity(activity_id, ical_uid)
        try:  # the usual case, a new activity: one insert, no read first
            await self._table.create_entity(entity)
            return
        except ResourceExistsError:
            pass
        for _ in range(_INDEX_ATTEMPTS):
            row = await self._index_row(activity_id)
            try:
                if row is None:
                    await self._table.create_entity(entity)
                    return
                if row["ical_uid"] == ical_uid:
                    return
                holder = await self.get_meeting(str(row["ical_uid"]))
                if holder is not None and holder.activity_id == activity_id:
                    raise StateConflict(f"activity {activity_id!r} belongs to meeting {holder.ical_uid!r} already")
                await self._table.update_entity(
                    entity, mode=UpdateMode.REPLACE, etag=etag_of(row), match_condition=MatchConditions.IfNotModified
                )
                return
            except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
                continue  # another writer changed the row between our read and our write: look again
        raise StateConflict(f"activity {activity_id!r}: its index row kept changing")

    async def _unpoint(self, activity_id: str, ical_uid: str) -> None:
        """Drop the activity's index row if it still names ``ical_uid``; a row re-pointed meanwhile stays."""
        row = await self._index_row(activity_id)
        if row is not None and row["ical_uid"] == ical_uid:
            await rows.delete_if_unchanged(self._table, *activity_keys(activity_id), etag_of(row))
