"""``GET /api/health`` for Azure's health check: the settings load and storage answers, nothing more.

Anonymous, so it says nothing but ``ok`` or ``unavailable`` (the log has the reason, never a secret). The
storage check is one cheap call (the state store's last-runs query, one small partition) under a short timeout.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable

from shared.composition import Services
from shared.handlers.common import Answer

log = logging.getLogger(__name__)
STORAGE_TIMEOUT_SECONDS = 5.0


# A plain timeout argument: tests give a short one; it bounds the whole check.
async def health(
    get_services: Callable[[], Awaitable[Services]],
    *,
    timeout: float = STORAGE_TIMEOUT_SECONDS,  # noqa: ASYNC109
) -> Answer:
    """200 ``{"status": "ok"}`` when the services build (settings valid) and storage answers in time, else 503."""
    try:
        async with asyncio.timeout(timeout):
            services = await get_services()
            await services.state.job_runs()
    except Exception as error:  # any failure is "unavailable"; the class alone is logged
        log.warning("health check failed (%s)", type(error).__name__)
        return Answer(503, json.dumps({"status": "unavailable"}), "application/json", (("Cache-Control", "no-store"),))
    return Answer(200, json.dumps({"status": "ok"}), "application/json", (("Cache-Control", "no-store"),))
