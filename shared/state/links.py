"""A user's links and their index rows in the ``<prefix>Links`` table; ``TableStateStore`` delegates here.

PartitionKey = user id, so a link and its index rows share one partition and change in ONE transaction
(index and link never disagree). RowKey ``link|<link id>``: the link; ``event|<event id>`` and
``activity|<activity id>``: unique index rows (a second link claiming the same event or activity is a
``StateConflict``). Links stored by earlier versions may also have an ``ical|<iCalUId>|<link id>`` row, which
nothing reads; it goes when the link is next saved or deleted (``entities.stored_index_rows``).

``insert_links`` puts the new links of a group of writes (a ``$batch`` of event writes, the activity creates
run side by side) into as few transactions as Table Storage allows (100 operations, one partition): each link
stays all-or-nothing with its index rows, and the run pays one request for up to 25 links instead of one
each (issue 12).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from azure.core import MatchConditions
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient

from shared.core.links import Link
from shared.errors import StateConflict
from shared.state import entities as ent
from shared.state import rows
from shared.state.keys import prefix_range
from shared.state.limits import MAX_TRANSACTION_BYTES, MAX_TRANSACTION_OPERATIONS, entity_size
from shared.state.transactions import Operation, submit

_REMEMBERED = 50_000  # links whose index rows a store remembers (a few MiB)


class TableLinks:
    """The link half of ``StateStore`` on one Table (see the module docstring)."""

    def __init__(self, table: TableClient) -> None:
        self._table = table
        # The index rows of links as this store last read or wrote them, by (user, link, ETag): replacing a
        # link at a version known here needs no read first (issue 12: one request per update, not two). An
        # entry is only ever true for its ETag; a link changed elsewhere has another ETag, and the conditional
        # replace fails on it as it did after a read.
        self._rows_at: OrderedDict[tuple[str, str, str], frozenset[str]] = OrderedDict()

    async def links_for_user(self, user_id: str, *, active_only: bool = False) -> Sequence[Link]:
        low, high = prefix_range(ent.LINK_ROW)
        where = "state eq 'active'" if active_only else None  # tombstones stay on the server
        found = await rows.query_range(self._table, ent.user_partition(user_id), low, high, where=where)
        return [self._read(row) for row in found]

    async def link_by_event(self, user_id: str, event_id: str) -> Link | None:
        link = await self._link_via_index(user_id, ent.event_row(event_id))
        # The index row and the link are read in two requests; a link changed in between is not it.
        return link if link is not None and link.event_id == event_id else None

    async def link_by_activity(self, user_id: str, activity_id: str) -> Link | None:
        link = await self._link_via_index(user_id, ent.activity_row(activity_id))
        return link if link is not None and link.activity_id == activity_id else None

    async def save_link(self, link: Link) -> Link:
        """Insert (``etag`` None) or replace if unchanged; index rows follow the ids in the same transaction."""
        partition = ent.user_partition(link.user_id)
        new_rows = ent.index_rows(link)
        operations: list[Operation] = []
        if link.etag is None:
            operations.append(("create", ent.link_entity(link)))
            old_rows: set[str] = set()
        else:
            known = self._rows_at.get((link.user_id, link.link_id, link.etag))
            old_rows = set(known) if known is not None else await self._stored_rows(link)
            operations.append(
                (
                    "update",
                    ent.link_entity(link),
                    {"mode": UpdateMode.REPLACE, "etag": link.etag, "match_condition": MatchConditions.IfNotModified},
                )
            )
        operations += [("delete", {"PartitionKey": partition, "RowKey": row}) for row in sorted(old_rows - new_rows)]
        operations += [
            ("create", ent.index_entity(link.user_id, row, link.link_id)) for row in sorted(new_rows - old_rows)
        ]
        results = await submit(self._table, operations, what=f"save link {link.link_id!r}")
        return self._known(link.model_copy(update={"etag": str(results[0]["etag"])}))

    async def _stored_rows(self, link: Link) -> set[str]:
        """The index rows of the stored link, which must still be at ``link.etag``."""
        stored = await rows.get(self._table, ent.user_partition(link.user_id), ent.link_row(link.link_id))
        if stored is None:
            raise StateConflict(f"link {link.link_id!r} was deleted since it was read")
        if ent.etag_of(stored) != link.etag:
            raise StateConflict(f"link {link.link_id!r} changed since it was read")
        return ent.stored_index_rows(stored, ent.link_from_entity(stored, link.etag))

    def _read(self, row: Mapping[str, Any]) -> Link:
        """The link of a read entity, its stored index rows remembered."""
        link = ent.link_from_entity(row, ent.etag_of(row))
        return self._known(link, ent.stored_index_rows(row, link))

    def _known(self, link: Link, stored_rows: set[str] | None = None) -> Link:
        """Remember the link's index rows at its ETag (the most recent ``_REMEMBERED`` links): ``stored_rows``
        as read, else those a link written now has."""
        if link.etag is not None:
            key = (link.user_id, link.link_id, link.etag)
            self._rows_at[key] = frozenset(stored_rows if stored_rows is not None else ent.index_rows(link))
            self._rows_at.move_to_end(key)
            while len(self._rows_at) > _REMEMBERED:
                self._rows_at.popitem(last=False)
        return link

    async def insert_links(self, links: Sequence[Link]) -> Sequence[Link | None]:
        """Insert new links (``etag`` None), as many to a transaction as fit; for each, the stored link, or None
        when its transaction was refused (a row one of them needs exists): the caller saves those one by one."""
        stored: list[Link | None] = [None] * len(links)
        for members, operations in _transactions(links):
            try:
                answers = await submit(self._table, operations, what=f"insert {len(members)} links")
            except StateConflict:
                continue  # nothing of this transaction was stored
            for index, at in members:
                stored[index] = self._known(links[index].model_copy(update={"etag": str(answers[at]["etag"])}))
        return stored

    async def delete_link(self, link: Link) -> None:
        """Delete the link and its index rows; ``StateConflict`` if it changed since read (when read)."""
        partition = ent.user_partition(link.user_id)
        stored = await rows.get(self._table, partition, ent.link_row(link.link_id))
        if stored is None:
            return
        etag = ent.etag_of(stored)
        if link.etag is not None and link.etag != etag:
            raise StateConflict(f"link {link.link_id!r} changed since it was read")
        stored_link = ent.link_from_entity(stored, etag)
        operations: list[Operation] = [
            (
                "delete",
                {"PartitionKey": partition, "RowKey": ent.link_row(link.link_id)},
                {"etag": etag, "match_condition": MatchConditions.IfNotModified},
            )
        ]
        operations += [
            ("delete", {"PartitionKey": partition, "RowKey": row})
            for row in sorted(ent.stored_index_rows(stored, stored_link))
        ]
        await submit(self._table, operations, what=f"delete link {link.link_id!r}")

    async def _link(self, user_id: str, link_id: str) -> Link | None:
        row = await rows.get(self._table, ent.user_partition(user_id), ent.link_row(link_id))
        return None if row is None else self._read(row)

    async def _link_via_index(self, user_id: str, index_row: str) -> Link | None:
        pointer = await rows.get(self._table, ent.user_partition(user_id), index_row)
        return None if pointer is None else await self._link(user_id, str(pointer["link_id"]))


def _insert_operations(link: Link) -> list[Operation]:
    if link.etag is not None:
        raise ValueError(f"link {link.link_id!r} has an ETag: insert_links takes new links only")
    operations: list[Operation] = [("create", ent.link_entity(link))]
    operations += [
        ("create", ent.index_entity(link.user_id, row, link.link_id)) for row in sorted(ent.index_rows(link))
    ]
    return operations


def _transactions(links: Sequence[Link]) -> list[tuple[list[tuple[int, int]], list[Operation]]]:
    """The links cut into transactions Table Storage accepts: one user each, at most 100 operations, well under
    the 4 MiB body, each row once (two links naming one event go to different transactions, and the second
    is refused as a conflict). For each: the (link's place in ``links``, its link row's place in the
    transaction) pairs, and the operations."""
    cut: list[_Transaction] = []
    open_for: dict[str, _Transaction] = {}
    for index, link in enumerate(links):
        operations = _insert_operations(link)
        current = open_for.get(link.user_id)
        if current is None or not current.takes(operations):
            current = open_for[link.user_id] = _Transaction()
            cut.append(current)
        current.add(index, operations)
    return [(t.members, t.operations) for t in cut]


class _Transaction:
    def __init__(self) -> None:
        self.members: list[tuple[int, int]] = []
        self.operations: list[Operation] = []
        self.rows: set[str] = set()
        self.size = 0

    def takes(self, operations: Sequence[Operation]) -> bool:
        return (
            len(self.operations) + len(operations) <= MAX_TRANSACTION_OPERATIONS
            and self.size + sum(entity_size(o[1]) for o in operations) <= MAX_TRANSACTION_BYTES // 2
            and self.rows.isdisjoint(str(o[1]["RowKey"]) for o in operations)
        )

    def add(self, index: int, operations: Sequence[Operation]) -> None:
        self.members.append((index, len(self.operations)))
        self.operations.extend(operations)
        self.rows.update(str(o[1]["RowKey"]) for o in operations)
        self.size += sum(entity_size(o[1]) for o in operations)
