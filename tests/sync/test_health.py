"""``GET /api/health`` (issue 13, item 3): anonymous, cheap, no secrets: 200 when settings and storage are fine,
503 otherwise."""

from __future__ import annotations

import asyncio
import json

from shared import admin
from shared.composition import Services
from shared.errors import SettingsError
from tests.sync.conftest import Stack


async def test_settings_valid_and_storage_reachable_is_200_ok(stack: Stack) -> None:
    """The stack's storage (Azurite) answers: {"status": "ok"}, nothing else."""

    async def built() -> Services:
        return stack.services

    answer = await admin.health(built)
    assert (answer.status, json.loads(answer.body)) == (200, {"status": "ok"})


async def test_invalid_settings_are_503_without_the_reason(stack: Stack) -> None:
    """The services cannot be built: unavailable, and the body names no setting (the log does)."""

    async def broken() -> Services:
        raise SettingsError("Invalid app settings: ERP_API_KEY: must be at least 16 characters")

    answer = await admin.health(broken)
    assert (answer.status, json.loads(answer.body)) == (503, {"status": "unavailable"})


async def test_storage_that_does_not_answer_in_time_is_503(stack: Stack, monkeypatch: object) -> None:
    """A hanging storage call is cut by the short timeout instead of hanging Azure's probe."""

    async def hangs() -> list[object]:
        await asyncio.sleep(30)
        return []

    stack.services.state.job_runs = hangs  # type: ignore[method-assign]

    async def built() -> Services:
        return stack.services

    answer = await admin.health(built, timeout=0.2)
    assert answer.status == 503
