"""Single-entity Table operations shared by the stores, with storage errors turned into ``StateConflict``."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableEntity, UpdateMode
from azure.data.tables.aio import TableClient

from shared.errors import StateConflict


async def first_use(table: TableClient, token: str, *, at: datetime) -> bool:
    """Insert-only row per one-time token, partitioned by the UTC hour it was minted; False on a repeat."""
    entity = {
        "PartitionKey": at.astimezone(UTC).strftime("%Y%m%d%H"),
        "RowKey": hashlib.sha256(token.encode()).hexdigest(),
        "used_at": at,
    }
    try:
        await table.create_entity(entity)
    except ResourceExistsError:
        return False
    return True


async def get(table: TableClient, partition: str, row: str) -> TableEntity | None:
    try:
        return await table.get_entity(partition_key=partition, row_key=row)
    except ResourceNotFoundError:
        return None


async def query_range(
    table: TableClient, partition: str, low: str, high: str, *, where: str | None = None
) -> list[TableEntity]:
    """The rows of one partition whose keys lie in [low, high); ``where``: a further filter (a constant clause)."""
    rows = table.query_entities(
        "PartitionKey eq @pk and RowKey ge @low and RowKey lt @high" + (f" and {where}" if where else ""),
        parameters={"pk": partition, "low": low, "high": high},
    )
    return [row async for row in rows]


async def save(table: TableClient, entity: dict[str, Any], etag: str | None, *, what: str) -> str:
    """Insert when ``etag`` is None, else replace on condition of it; the new ETag."""
    try:
        if etag is None:
            metadata = await table.create_entity(entity)
        else:
            metadata = await table.update_entity(
                entity, mode=UpdateMode.REPLACE, etag=etag, match_condition=MatchConditions.IfNotModified
            )
    except ResourceExistsError as error:
        raise StateConflict(f"{what} already exists; read it and save with its ETag") from error
    except (ResourceModifiedError, ResourceNotFoundError) as error:
        raise StateConflict(f"{what} changed or was deleted since it was read") from error
    return str(metadata["etag"])


async def delete(table: TableClient, partition: str, row: str) -> None:
    try:
        await table.delete_entity(partition_key=partition, row_key=row)
    except ResourceNotFoundError:
        return


async def delete_if_unchanged(table: TableClient, partition: str, row: str, etag: str) -> bool:
    """Delete the row if its ETag is still ``etag``; False when it changed or is gone already."""
    try:
        await table.delete_entity(
            partition_key=partition, row_key=row, etag=etag, match_condition=MatchConditions.IfNotModified
        )
    except (ResourceModifiedError, ResourceNotFoundError):
        return False
    return True
