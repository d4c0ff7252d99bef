"""What the daily clean-up deletes from Table Storage (``Housekeeping`` in ``shared.state.port``).

Each method is bounded (``limit``) and idempotent: what is already gone is no error, and a record that
changed since it was read stays (ETag). Every query here filters on the server, across partitions:
- links: rows ``link|…`` no longer active, last changed before the cut; a link goes with its index rows in
  one entity-group transaction per user, batched up to Table Storage's 100 operations;
- issues: resolved before the cut;
- replays: partitions (UTC hours) before the cut, deleted in batches per hour.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

from azure.core import MatchConditions
from azure.data.tables.aio import TableClient

from shared.core.links import Link, LinkState
from shared.errors import StateConflict
from shared.state import entities as ent
from shared.state import rows
from shared.state.keys import prefix_range
from shared.state.limits import MAX_TRANSACTION_OPERATIONS
from shared.state.transactions import Operation, submit


class TableHousekeeping:
    def __init__(self, links: TableClient, issues: TableClient, replays: TableClient) -> None:
        self._links, self._issues, self._replays = links, issues, replays
        # The index rows each stale link read here has as stored (a link of an earlier version may have one
        # more: ``entities.stored_index_rows``), by (user, link, ETag).
        self._rows: dict[tuple[str, str, str | None], set[str]] = {}

    async def stale_links(self, *, before: datetime, limit: int) -> Sequence[Link]:
        low, high = prefix_range(ent.LINK_ROW)
        found = self._links.query_entities(
            "RowKey ge @low and RowKey lt @high and state ne @active and updated_at lt @before",
            parameters={
                "low": low,
                "high": high,
                "active": str(LinkState.ACTIVE),
                "before": ent.to_utc(before, what="before"),
            },
        )
        out: list[Link] = []
        async for row in found:
            link = ent.link_from_entity(row, ent.etag_of(row))
            self._rows[(link.user_id, link.link_id, link.etag)] = ent.stored_index_rows(row, link)
            out.append(link)
            if len(out) >= limit:
                break
        return out

    async def delete_links(self, links: Sequence[Link]) -> int:
        by_user: dict[str, list[Link]] = defaultdict(list)
        for link in links:
            by_user[link.user_id].append(link)
        deleted = 0
        for user_links in by_user.values():
            batch: list[Link] = []
            for link in user_links:
                if batch and len(self._operations([*batch, link])) > MAX_TRANSACTION_OPERATIONS:
                    deleted += await self._delete_batch(batch)
                    batch = []
                batch.append(link)
            if batch:
                deleted += await self._delete_batch(batch)
        for link in links:
            self._rows.pop((link.user_id, link.link_id, link.etag), None)
        return deleted

    async def _delete_batch(self, batch: list[Link]) -> int:
        """One transaction for the batch; when one of its links changed meanwhile, each link on its own."""
        try:
            await submit(self._links, self._operations(batch), what=f"delete {len(batch)} links")
            return len(batch)
        except StateConflict:
            if len(batch) == 1:
                return 0
        deleted = 0
        for link in batch:
            deleted += await self._delete_batch([link])
        return deleted

    async def prune_resolved_issues(self, *, before: datetime, limit: int) -> int:
        found = self._issues.query_entities(
            "is_open eq @open and resolved_at lt @before",
            parameters={"open": False, "before": ent.to_utc(before, what="before")},
        )
        deleted = 0
        async for row in found:
            if await rows.delete_if_unchanged(self._issues, row["PartitionKey"], row["RowKey"], ent.etag_of(row)):
                deleted += 1
            if deleted >= limit:
                break
        return deleted

    async def prune_replays(self, *, before: datetime, limit: int) -> int:
        cut = before.astimezone(UTC).strftime("%Y%m%d%H")  # partitions are the UTC hours tokens were minted in
        found = self._replays.query_entities(
            "PartitionKey lt @cut", parameters={"cut": cut}, select=["PartitionKey", "RowKey"]
        )
        by_hour: dict[str, list[str]] = defaultdict(list)
        taken = 0
        async for row in found:
            by_hour[row["PartitionKey"]].append(row["RowKey"])
            taken += 1
            if taken >= limit:
                break
        for hour, keys in by_hour.items():
            for start in range(0, len(keys), MAX_TRANSACTION_OPERATIONS):
                chunk = keys[start : start + MAX_TRANSACTION_OPERATIONS]
                operations: list[Operation] = [("delete", {"PartitionKey": hour, "RowKey": key}) for key in chunk]
                try:
                    await submit(self._replays, operations, what=f"delete replays of hour {hour}")
                except StateConflict:  # another clean-up took some of them: the rest go next time
                    taken -= len(chunk)
        return taken

    def _operations(self, links: Sequence[Link]) -> list[Operation]:
        """Each link's row (only if unchanged: its ETag) and its index rows."""
        operations: list[Operation] = []
        for link in links:
            partition = ent.user_partition(link.user_id)
            operations.append(
                (
                    "delete",
                    {"PartitionKey": partition, "RowKey": ent.link_row(link.link_id)},
                    {"etag": link.etag, "match_condition": MatchConditions.IfNotModified},
                )
            )
            rows = self._rows.get((link.user_id, link.link_id, link.etag)) or ent.index_rows(link)
            operations += [("delete", {"PartitionKey": partition, "RowKey": row}) for row in sorted(rows)]
        return operations
