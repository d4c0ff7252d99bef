"""Asking for a user's sync: one run per burst (issue 12).

Every notification, hook call, timer and admin button asks through ``request_sync``. The first request of a
burst marks the user as pending (``StateStore.mark_sync_pending``, insert-if-absent) and queues one message;
the others find the mark and queue nothing, since that message's run will read their changes too. The
worker takes the mark away as it starts the run (``started``), so a change made during the run queues
exactly one follow-up. A busy user's message is queued again the same way, so at most one message per user
waits at any time. A mark whose message was lost (its host died between the mark and the send) goes stale
after ``PENDING_STALE_AFTER`` and the next request queues again.
"""

from __future__ import annotations

from datetime import timedelta

from shared.composition import Services
from shared.queueing import SyncRequest

# Longer than a message can wait or run: the function timeout (10 minutes) plus the queue's visibility.
PENDING_STALE_AFTER = timedelta(minutes=15)


async def request_sync(services: Services, request: SyncRequest, *, delay_seconds: int = 0) -> bool:
    """Queue the user's sync unless a message for them is pending already; whether this call queued one."""
    user_id = request.user_id
    if not await services.state.mark_sync_pending(user_id, now=services.clock(), stale_after=PENDING_STALE_AFTER):
        return False
    try:
        await services.queue.enqueue(request, delay_seconds=delay_seconds)
    except BaseException:
        await services.state.clear_sync_pending(user_id)  # not queued: the next request must queue
        raise
    return True


async def started(services: Services, user_id: str) -> None:
    """The user's pending message is being handled: requests from now on queue a follow-up."""
    await services.state.clear_sync_pending(user_id)
