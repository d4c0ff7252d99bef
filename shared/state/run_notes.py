"""Changes noted for the run under way (issue 12: one run per useful change), in the leases table.

The ERP's hook for an activity the sync itself just created or changed can arrive before the run that wrote it
has saved its link, so the hook cannot tell it from a person's change. While a run holds the user's lease the
hook does not queue a follow-up for such a change: it notes it here (PartitionKey ``note``, RowKey
``<user>|<hash of the note>``), and the worker reads the user's notes once the run has released the lease. A
note whose change the saved links now hold was the run's own write; any other queues the follow-up.

Nothing is lost between the two: the hook writes its note and then looks at the lease again. If the lease is
gone by then, the run may have read its notes already, so the hook queues the sync itself; if it is still
there, the note was written before the release, and the worker's read after the release sees it.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Sequence
from datetime import datetime

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables.aio import TableClient

from shared.errors import StateConflict
from shared.state import rows
from shared.state.keys import make_key, prefix_range
from shared.state.leases import TableLeases
from shared.state.limits import MAX_TRANSACTION_OPERATIONS
from shared.state.transactions import Operation, submit

NOTE_PARTITION = "note"


def _row(user_id: str, note: str) -> str:
    return make_key(user_id, hashlib.sha256(note.encode("utf-8")).hexdigest()[:32], what="run note")


class TableRunNotes:
    def __init__(self, table: TableClient, leases: TableLeases) -> None:
        self._table = table
        self._leases = leases

    async def note_during_run(self, user_id: str, notes: Sequence[str], *, now: datetime) -> bool:
        """Note the changes for the run holding the user's lease: True when it will see them, False when no run
        holds it (before or after the notes were written): the caller queues the sync."""
        if not notes or not await self._held(user_id, now):
            return False
        operations: list[Operation] = [
            ("upsert", {"PartitionKey": NOTE_PARTITION, "RowKey": _row(user_id, note), "note": note})
            for note in dict.fromkeys(notes)
        ]
        for start in range(0, len(operations), MAX_TRANSACTION_OPERATIONS):
            await submit(self._table, operations[start : start + MAX_TRANSACTION_OPERATIONS], what="run notes")
        return await self._held(user_id, now)

    async def take_run_notes(self, user_id: str) -> Sequence[str]:
        """The user's notes (read and removed); call after the run released its lease."""
        low, high = prefix_range(user_id)
        found = await rows.query_range(self._table, NOTE_PARTITION, low, high)
        operations: list[Operation] = [
            ("delete", {"PartitionKey": NOTE_PARTITION, "RowKey": row["RowKey"]}) for row in found
        ]
        for start in range(0, len(operations), MAX_TRANSACTION_OPERATIONS):
            chunk = operations[start : start + MAX_TRANSACTION_OPERATIONS]
            try:
                await submit(self._table, chunk, what="run notes")
            except StateConflict:  # another worker took some of them meanwhile: remove the rest one by one
                for _, entity, *_ in chunk:
                    with contextlib.suppress(ResourceNotFoundError):
                        await self._table.delete_entity(entity["PartitionKey"], entity["RowKey"])
        return [str(row["note"]) for row in found]

    async def _held(self, user_id: str, now: datetime) -> bool:
        lease = await self._leases.get_lease(user_id)
        return lease is not None and lease.expires_at > now
