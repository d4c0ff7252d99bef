"""One pending sync per user (issue 12: one run per burst): a row in the leases table says "a sync message
for this user is on its way". Whoever inserts it queues the message; everyone else's request is already
covered by that message. The worker takes the row away as its run starts, so a change made during the run
queues exactly one follow-up. A row older than ``stale_after`` (its message lost with a crashed host) is
taken over, so a user is never left without a message.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient

from shared.state import entities as ent
from shared.state import rows
from shared.state.keys import make_key

PENDING_PARTITION = "pending"


def _keys(user_id: str) -> tuple[str, str]:
    return PENDING_PARTITION, make_key(user_id, what="user id")


class TablePending:
    def __init__(self, table: TableClient) -> None:
        self._table = table

    async def mark_sync_pending(self, user_id: str, *, now: datetime, stale_after: timedelta) -> bool:
        """True when this caller must queue the user's sync (no message pending, or only a stale one)."""
        partition, row = _keys(user_id)
        entity = {"PartitionKey": partition, "RowKey": row, "since": ent.to_utc(now, what="now")}
        try:
            await self._table.create_entity(entity)
            return True
        except ResourceExistsError:
            pass
        stored = await rows.get(self._table, partition, row)
        if stored is None:
            return await self.mark_sync_pending(user_id, now=now, stale_after=stale_after)
        if ent.from_table_datetime(stored["since"]) > ent.to_utc(now - stale_after, what="now"):
            return False
        try:
            await self._table.update_entity(
                entity, mode=UpdateMode.REPLACE, etag=ent.etag_of(stored), match_condition=MatchConditions.IfNotModified
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            return False  # another caller took the stale row over (and queues the message)
        return True

    async def clear_sync_pending(self, user_id: str) -> None:
        """The pending message is being handled: later requests queue a new one."""
        partition, row = _keys(user_id)
        try:
            await self._table.delete_entity(partition_key=partition, row_key=row)
        except ResourceNotFoundError:
            return
