"""Events the sync made for ERP activities whose links may not be saved yet (R10, R8), in the ``<prefix>Links``
table next to the user's links.

A run notes the events a group of creates made (one row per group: RowKey ``made|<note id>``, the pairs as
JSON) as soon as Graph has answered, before it saves their links, and forgets its notes once every link of
the plan is saved. A host that dies in between leaves the note: the next run that is about to make an event
for one of those activities reads it and finds the first event instead (relinked, or, when a person deleted it
meanwhile, a deletion like any other) rather than making it again. The meeting claim did this before; a
meeting nobody else can hold is no longer claimed (``shared/core/plan_claims.py``).
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Mapping, Sequence

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables.aio import TableClient

from shared.errors import StateConflict
from shared.state import entities as ent
from shared.state import rows
from shared.state.keys import make_key, prefix_range, split_key
from shared.state.limits import MAX_TRANSACTION_OPERATIONS, check_entity
from shared.state.transactions import Operation, submit

MADE_ROW = "made"


class TableEventsMade:
    def __init__(self, table: TableClient) -> None:
        self._table = table

    async def note_events_made(self, user_id: str, made: Mapping[str, str]) -> str:
        """Note ``made`` (activity id -> the event made for it); the note's id."""
        note_id = uuid.uuid4().hex
        entity = {
            "PartitionKey": ent.user_partition(user_id),
            "RowKey": make_key(MADE_ROW, note_id, what="events-made note"),
            "made": json.dumps(dict(made), separators=(",", ":")),
        }
        check_entity(entity, what="events-made note")
        await self._table.create_entity(entity)
        return note_id

    async def events_made(self, user_id: str) -> Mapping[str, Mapping[str, str]]:
        """The user's notes: note id -> (activity id -> event id)."""
        low, high = prefix_range(MADE_ROW)
        found = await rows.query_range(self._table, ent.user_partition(user_id), low, high)
        return {split_key(str(row["RowKey"]))[1]: dict(json.loads(str(row["made"]))) for row in found}

    async def forget_events_made(self, user_id: str, note_ids: Sequence[str]) -> None:
        """Remove these notes (one already gone is no error: two runs may forget the same note)."""
        partition = ent.user_partition(user_id)
        keys = sorted({make_key(MADE_ROW, note_id, what="events-made note") for note_id in note_ids})
        for start in range(0, len(keys), MAX_TRANSACTION_OPERATIONS):
            chunk = keys[start : start + MAX_TRANSACTION_OPERATIONS]
            operations: list[Operation] = [("delete", {"PartitionKey": partition, "RowKey": key}) for key in chunk]
            try:
                await submit(self._table, operations, what="forget events-made notes")
            except StateConflict:  # one of them went meanwhile: the rest one by one
                for key in chunk:
                    with contextlib.suppress(ResourceNotFoundError):
                        await self._table.delete_entity(partition, key)
