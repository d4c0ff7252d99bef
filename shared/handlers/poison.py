"""Sync requests the host set aside on ``sync-user-poison`` after every try failed, turned into issues (R31).

The safety net drains the poison queue every 15 minutes: each message becomes (or counts again on) the
user's ``run`` issue and is deleted, so a user whose runs always fail is listed for the admin and the poison
queue never piles up. The worker already recorded the run's error on its first failed try; this is the
backstop for tries that ended without it (a crash, a timeout) and says that the request was set aside. A
message that is no sync request is recorded under the tenant. The next run that completes resolves the issue.
"""

from __future__ import annotations

from pydantic import ValidationError

from shared.composition import Services
from shared.handlers.common import record_bad_input
from shared.handlers.failures import RUN_ISSUE
from shared.queueing import NotificationBatch, SetAside, read_message
from shared.state.model import Issue, IssueKind

SET_ASIDE_NOTE = "; every try failed and the request was set aside (poison queue)"
NO_ERROR_RECORDED = (
    "every try of a sync run failed without an error recorded (the worker crashed or timed out) and the request"
    " was set aside (poison queue); the safety net tries again every 15 minutes"
)


async def drain_poison(services: Services) -> int:
    """Record every set-aside sync request for the admin and remove it; how many there were."""

    async def handle(item: SetAside) -> None:
        await record_set_aside(services, item)

    return await services.queue.drain_poison(handle)


async def record_set_aside(services: Services, item: SetAside) -> None:
    try:
        request = read_message(item.body) if item.body is not None else None
    except (ValueError, ValidationError):
        request = None
    if isinstance(request, NotificationBatch):
        await record_bad_input(
            services,
            "poison-message",
            f"{len(request.notes)} Graph notification(s) could not be handled on any try and were set aside; the"
            " safety net's delta runs read the changes they announced (R32)",
        )
        return
    if request is None:
        await record_bad_input(
            services, "poison-message", "a message set aside on the poison queue was no sync request"
        )
        return
    now = services.clock()
    stored = next(
        (issue for issue in await services.state.open_issues(request.user_id) if issue.key == RUN_ISSUE), None
    )
    if stored is None:
        reason = NO_ERROR_RECORDED
    elif stored.reason.endswith(SET_ASIDE_NOTE) or stored.reason == NO_ERROR_RECORDED:
        reason = stored.reason
    else:
        reason = stored.reason + SET_ASIDE_NOTE
    await services.state.record_issue(
        Issue(
            user_id=request.user_id, key=RUN_ISSUE, kind=IssueKind.FAILURE, reason=reason, first_seen=now, last_seen=now
        )
    )
