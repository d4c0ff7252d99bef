"""The queue worker: one user's sync per message."""

from __future__ import annotations

from pydantic import ValidationError

from shared.composition import Services
from shared.handlers.common import record_bad_input
from shared.queueing import SyncRequest
from shared.sync.report import RunReport

BUSY_RETRY_SECONDS = 30


async def sync_message(services: Services, text: str | bytes) -> RunReport | None:
    """The queue worker: sync the user named in the message (a busy user is re-queued for later)."""
    try:
        request = SyncRequest.from_json(text)
    except (ValueError, ValidationError):
        await record_bad_input(services, "queue-message", "a sync queue message was not a valid SyncRequest")
        return None
    report = await services.engine.sync_user(request.user_id)
    if report.status == "busy":
        await services.queue.enqueue(request, delay_seconds=BUSY_RETRY_SECONDS)
    return report
