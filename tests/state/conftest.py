"""State stores for the contract tests: every test taking ``store`` runs on both implementations.

- ``tables``: a fresh ``TableStateStore`` on Azurite; a unique table prefix keeps tests independent.
- ``memory``: ``emulators.fakes.state.InMemoryStateStore``, held to the same contract.

``other_store`` is a second client on the same data, as a second worker would have. Tests about Table
Storage itself (limits, keys, raw rows) take ``table_store`` and run on Azurite only.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from azure.data.tables.aio import TableServiceClient

from emulators.fakes.state import InMemoryStateStore
from shared.state.port import StateStore
from shared.state.tables import TableStateStore

NOW = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)


@pytest.fixture
def table_prefix() -> str:
    return "t" + uuid.uuid4().hex[:16]


@pytest.fixture
async def table_store(azurite_connection_string: str, table_prefix: str) -> AsyncIterator[TableStateStore]:
    """The Table store with its tables created; the tables are dropped afterwards."""
    state = TableStateStore.from_connection_string(azurite_connection_string, prefix=table_prefix)
    await state.ensure_tables()
    yield state
    names = state.table_names
    await state.aclose()
    async with TableServiceClient.from_connection_string(azurite_connection_string) as service:
        for name in names:
            await service.delete_table(name)


@pytest.fixture(params=["tables", "memory"])
def store(request: pytest.FixtureRequest) -> StateStore:
    """The store under contract test; Azurite is only started for the ``tables`` variant."""
    if request.param == "memory":
        return InMemoryStateStore()
    table_state: TableStateStore = request.getfixturevalue("table_store")
    return table_state


@pytest.fixture
async def other_store(store: StateStore, request: pytest.FixtureRequest) -> AsyncIterator[StateStore]:
    """A second client on the same data as ``store``, as a second worker would have."""
    if isinstance(store, InMemoryStateStore):
        yield store.sharing()
        return
    connection_string: str = request.getfixturevalue("azurite_connection_string")
    state = TableStateStore.from_connection_string(connection_string, prefix=request.getfixturevalue("table_prefix"))
    yield state
    await state.aclose()
