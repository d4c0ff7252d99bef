"""The whole service in one process (emulators.stack): Graph emulator and reference ERP over in-process
HTTP, state on Azurite."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from emulators.stack import InProcessStack, start_stack

Stack = InProcessStack


@pytest.fixture
async def stack(azurite_connection_string: str) -> AsyncIterator[InProcessStack]:
    started = await start_stack(azurite_connection_string)
    try:
        yield started
    finally:
        await started.aclose()
