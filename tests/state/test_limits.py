"""Table Storage limits enforced before a request is sent (Azurite does not enforce them all).

Limits: Microsoft's "Understanding the Table service data model" (64 KiB strings, 1 MiB entities,
252 properties) and "Performing entity group transactions" (100 operations, one partition).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from azure.data.tables.aio import TableServiceClient

from shared.core.items import ItemKind, Side
from shared.core.links import Link
from shared.errors import StateLimitExceeded
from shared.state.limits import MAX_ENTITY_BYTES, check_entity, entity_size
from shared.state.model import DeltaCursor
from shared.state.tables import TableStateStore
from shared.state.transactions import Operation, submit
from tests.state.conftest import NOW

SEVENTY_KIB_STRING = "a" * (35 * 1024)  # 35 K characters = 70 KiB as UTF-16


async def test_seventy_kib_string_is_refused_naming_the_property(table_store: TableStateStore) -> None:
    """A string over 64 KiB is refused with StateLimitExceeded naming it, and nothing is written."""
    link = Link(user_id="u1", link_id="L1", kind=ItemKind.TASK, origin=Side.ERP, m365_change_key=SEVENTY_KIB_STRING)
    with pytest.raises(StateLimitExceeded, match="m365_change_key"):
        await table_store.save_link(link)
    assert await table_store.links_for_user("u1") == []


async def test_seventy_kib_delta_link_is_refused(table_store: TableStateStore) -> None:
    """A delta link over 64 KiB is refused rather than stored cut off (a cut link would be useless)."""
    cursor = DeltaCursor(
        mailbox="m@example.com", delta_link=SEVENTY_KIB_STRING, window_start=NOW, window_end=NOW, updated_at=NOW
    )
    with pytest.raises(StateLimitExceeded, match="delta_link"):
        await table_store.save_delta_cursor(cursor)
    assert await table_store.get_delta_cursor("m@example.com") is None


async def test_id_too_long_for_a_key_is_refused(table_store: TableStateStore) -> None:
    """An event id over 1 KiB once encoded cannot be an index key and is refused."""
    link = Link(user_id="u1", link_id="L1", kind=ItemKind.MEETING, origin=Side.M365, event_id="/" * 200)
    with pytest.raises(StateLimitExceeded, match="event id"):
        await table_store.save_link(link)
    assert await table_store.links_for_user("u1") == []


async def test_naive_datetime_is_refused(table_store: TableStateStore) -> None:
    """Datetimes are stored as aware UTC instants; a naive one has no zone to convert from."""
    naive = datetime(2026, 11, 21, 9, 30)
    link = Link.model_construct(
        user_id="u1", link_id="L1", kind=ItemKind.MEETING, origin=Side.M365, updated_at=naive, etag=None
    )
    with pytest.raises(ValueError, match="naive"):
        await table_store.save_link(link)


def test_entity_size_follows_microsofts_formula() -> None:
    """4 + 2x key chars + per property 8 + 2x name + value (string 4 + 2x chars, int 4) bytes."""
    entity = {"PartitionKey": "pk", "RowKey": "row", "name": "abc", "count": 3}
    assert entity_size(entity) == 4 + 2 * 5 + (8 + 8 + 4 + 6) + (8 + 10 + 4)


def test_entity_over_one_mib_is_refused() -> None:
    """Strings each within 64 KiB can still add up past 1 MiB; that entity is refused."""
    entity: dict[str, Any] = {"PartitionKey": "pk", "RowKey": "row"}
    entity.update({f"p{i}": "b" * 32_000 for i in range(17)})
    assert entity_size(entity) > MAX_ENTITY_BYTES
    with pytest.raises(StateLimitExceeded, match="1 MiB"):
        check_entity(entity, what="test entity")


def test_more_than_252_properties_are_refused() -> None:
    """An entity has at most 252 properties of its own besides PartitionKey, RowKey and Timestamp."""
    entity: dict[str, Any] = {"PartitionKey": "pk", "RowKey": "row"}
    entity.update({f"p{i}": i for i in range(253)})
    with pytest.raises(StateLimitExceeded, match="252"):
        check_entity(entity, what="test entity")


@pytest.fixture
async def scratch_table(azurite_connection_string: str, table_prefix: str) -> Any:
    async with TableServiceClient.from_connection_string(azurite_connection_string) as service:
        table = await service.create_table(f"{table_prefix}Scratch")
        try:
            yield table
        finally:
            await table.close()
            await service.delete_table(f"{table_prefix}Scratch")


def creates(count: int, partition: str = "p") -> list[Operation]:
    return [("create", {"PartitionKey": partition, "RowKey": f"r{i:03}"}) for i in range(count)]


async def _rows(table: Any) -> list[str]:
    return [row["RowKey"] async for row in table.list_entities()]


async def test_transaction_of_101_operations_is_refused_and_writes_nothing(scratch_table: Any) -> None:
    """Over 100 operations is refused before sending, never split: splitting would lose atomicity."""
    with pytest.raises(StateLimitExceeded, match="100"):
        await submit(scratch_table, creates(101), what="bulk")
    assert await _rows(scratch_table) == []


async def test_transaction_of_100_operations_is_committed(scratch_table: Any) -> None:
    """Exactly 100 operations in one partition is within the limit and commits as one."""
    results = await submit(scratch_table, creates(100), what="bulk")
    assert len(results) == 100
    assert len(await _rows(scratch_table)) == 100


async def test_transaction_across_partitions_is_refused(scratch_table: Any) -> None:
    """A transaction spanning two partitions is refused before sending."""
    with pytest.raises(StateLimitExceeded, match="partitions"):
        await submit(scratch_table, creates(2, "p1") + creates(1, "p2"), what="mixed")
    assert await _rows(scratch_table) == []


async def test_transaction_touching_one_entity_twice_is_refused(scratch_table: Any) -> None:
    """The same entity twice in one transaction is refused before sending."""
    with pytest.raises(StateLimitExceeded, match="twice"):
        await submit(scratch_table, creates(2) + creates(1), what="duplicate")
    assert await _rows(scratch_table) == []
