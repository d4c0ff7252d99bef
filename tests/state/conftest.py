"""A fresh ``TableStateStore`` on Azurite per test: a unique table prefix keeps tests independent."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from azure.data.tables.aio import TableServiceClient

from shared.state.tables import TableStateStore

NOW = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)


@pytest.fixture
def table_prefix() -> str:
    return "t" + uuid.uuid4().hex[:16]


@pytest.fixture
async def store(azurite_connection_string: str, table_prefix: str) -> AsyncIterator[TableStateStore]:
    """The store with its tables created; the tables are dropped afterwards."""
    state = TableStateStore.from_connection_string(azurite_connection_string, prefix=table_prefix)
    await state.ensure_tables()
    yield state
    names = state.table_names
    await state.aclose()
    async with TableServiceClient.from_connection_string(azurite_connection_string) as service:
        for name in names:
            await service.delete_table(name)


@pytest.fixture
async def other_store(azurite_connection_string: str, table_prefix: str) -> AsyncIterator[TableStateStore]:
    """A second client on the same tables, as a second worker would have."""
    state = TableStateStore.from_connection_string(azurite_connection_string, prefix=table_prefix)
    yield state
    await state.aclose()
