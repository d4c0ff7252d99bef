"""Shared fixtures. Storage tests use a real Azurite: the one ``make test`` started, or one of their own."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from emulators.azurite import running_azurite


@pytest.fixture(scope="session")
def azurite_connection_string() -> Iterator[str]:
    """Connection string of a running Azurite (Table and Queue), shared by the whole session."""
    existing = os.environ.get("AZURITE_CONNECTION_STRING")
    if existing:
        yield existing
        return
    with running_azurite() as conn:
        yield conn
