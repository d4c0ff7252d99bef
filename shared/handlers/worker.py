"""The queue worker: one user's sync per message (and a batch of Graph notifications turned into syncs).

- A busy user (another worker holds the lease) or a run that lost its lease is queued again, hidden until the
  holder's lease ends: it comes back once, when the user is free, not every few seconds.
- A run that raises is recorded for the admin at once (R31: issue ``run``, kind FAILURE, the error's class
  and a safe message) and raised again, so the host retries it and, after ``maxDequeueCount`` tries, sets it
  aside on ``sync-user-poison`` (which the safety net drains, ``shared/handlers/poison.py``). The exception
  the host sees carries the safe message only. A run that completes resolves the issue.
- A run Graph throttled with a Retry-After (a big mailbox can spend its 10,000 requests per 10 minutes) is
  queued again for when Graph said, and recorded as a failed run with that reason, but not raised: it is no
  failed try of the message, so a long first sync never ends on the poison queue.
- A run that spent its time budget (a big mailbox's first sync, ``shared/sync/budget.py``) is stored like any
  other and its next invocation is queued at once; it carries on where the saved links say.
- Every run that was not requeued is stored as the user's last run (the status page's read model) and logged
  once, with its attributes and the correlation id the message carried (``shared/handlers/runs.py``).
"""

from __future__ import annotations

import math
from datetime import datetime

from pydantic import ValidationError

from shared import sync_requests
from shared.composition import Services
from shared.errors import GraphTransient
from shared.handlers.common import record_bad_input
from shared.handlers.echoes import noted_echoes_only
from shared.handlers.failures import RUN_ISSUE, record_run_failure
from shared.handlers.runs import log_run, record_run
from shared.handlers.webhooks import dispatch_notifications
from shared.queueing import NotificationBatch, SyncRequest, read_message
from shared.state.model import RunRecord
from shared.sync.report import RunReport
from shared.sync_requests import request_sync
from shared.telemetry import correlated

BUSY_RETRY_SECONDS = 1  # the least a busy user's message waits (its lease may end any moment)
BUSY_RETRY_MAX_SECONDS = 3600  # and the most, whatever lease a worker of an older version holds
REQUEUED = ("busy", "lease-lost")


class SyncRunFailed(Exception):
    """A run failed; the message is the safe text the admin sees (no secrets, outside text escaped)."""


async def sync_message(services: Services, text: str | bytes) -> RunReport | None:
    """The queue worker: sync the user named in the message (a busy user is queued for when it is free)."""
    try:
        request = read_message(text)
    except (ValueError, ValidationError):
        await record_bad_input(services, "queue-message", "a sync queue message was not a valid SyncRequest")
        return None
    if isinstance(request, NotificationBatch):  # the webhook's notifications: which users to sync
        with correlated(request.correlation_id):
            await dispatch_notifications(services, request)
        return None
    with correlated(request.correlation_id) as correlation_id:
        request = request.model_copy(update={"correlation_id": correlation_id})  # kept if queued again
        started = services.clock()
        await sync_requests.started(services, request.user_id)  # a change from now on queues a follow-up
        try:
            report = await services.engine.sync_user(request.user_id)
        except GraphTransient as error:
            if error.retry_after is None:
                raise await _failed(services, request, started, error) from None
            # Graph said when to come back (429 with Retry-After: a big mailbox's first sync can spend the
            # mailbox's 10,000 requests per 10 minutes): queued again for then, not counted as a failed try.
            wait = min(BUSY_RETRY_MAX_SECONDS, max(BUSY_RETRY_SECONDS, math.ceil(error.retry_after)))
            detail = f"Graph asked to wait {wait} s (throttled); the sync carries on then"
            await record_run(services, None, user_id=request.user_id, started=started, detail=detail)
            await request_sync(services, request, delay_seconds=wait)
            return None
        except Exception as error:
            raise await _failed(services, request, started, error) from None
        if report.status in REQUEUED:
            # Not a run of its own: the lease holder records its run; this one is only logged.
            finished = services.clock()
            log_run(RunRecord(user_id=request.user_id, outcome=report.status, started_at=started, finished_at=finished))
            # Queued again for when the user is free, unless another message for the user is pending already.
            await request_sync(services, request, delay_seconds=await busy_delay(services, request.user_id))
        else:
            await services.state.resolve_issue(request.user_id, RUN_ISSUE, now=services.clock())
            await record_run(services, report, user_id=request.user_id, started=started)
            if report.status == "continues":  # a big mailbox: its next invocation carries on (sync/budget.py)
                await request_sync(services, request)
            await _follow_up_noted_changes(services, request)
        return report


async def _follow_up_noted_changes(services: Services, request: SyncRequest) -> None:
    """The ERP changes the hook noted during the run (the lease is released by now): a follow-up run unless each
    was the run's own write (shared/handlers/echoes.py)."""
    notes = await services.state.take_run_notes(request.user_id)
    if notes and not await noted_echoes_only(services.state, request.user_id, notes):
        await request_sync(services, request.model_copy(update={"reason": "erp-hook"}))


async def _failed(services: Services, request: SyncRequest, started: datetime, error: Exception) -> SyncRunFailed:
    """Record the failed run for the admin; the exception the host sees (the safe message only)."""
    reason = await record_run_failure(services, request.user_id, error)
    await record_run(services, None, user_id=request.user_id, started=started, detail=reason)
    return SyncRunFailed(reason).with_traceback(error.__traceback__)


async def busy_delay(services: Services, user_id: str) -> int:
    """Seconds until the user's current lease ends (and one more), within the bounds above."""
    lease = await services.state.get_lease(user_id)
    if lease is None:
        return BUSY_RETRY_SECONDS
    left = (lease.expires_at - services.clock()).total_seconds()
    return min(BUSY_RETRY_MAX_SECONDS, max(BUSY_RETRY_SECONDS, math.ceil(left) + 1))
