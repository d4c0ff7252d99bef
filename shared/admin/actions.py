"""What the status page's buttons do. Each is safe to repeat (a refresh that POSTs again does no harm):

- **sync**: queue a sync of the user now (the same message a notification queues).
- **release**: R11. The open ``mass-delete`` row becomes kind RELEASED; the user's next run (queued at once)
  lets its removals through once and then resolves the row (``SyncEngine``: ``RunInput.removals_released``).
- **retry**: queue a sync of the user. The item's open issue is what makes every run offer it again
  (``shared.sync.inputs.retries``), so the row stays open until the item syncs; resolving it first would drop
  the item from the retry.
"""

from __future__ import annotations

from collections.abc import Mapping

from shared.admin.auth import Admin
from shared.admin.view import MASS_DELETE_ISSUE, RETRYABLE
from shared.composition import Services
from shared.queueing import SyncRequest
from shared.safe_log import safe_text
from shared.state.model import Issue, IssueKind
from shared.sync.leave import MASS_DELETE_ISSUE as LEAVE_MASS_DELETE_ISSUE
from shared.sync_requests import request_sync
from shared.telemetry import current_correlation_id

# R11: the halted deletions a person may release: the activities' and the leave events'.
RELEASABLE = frozenset({MASS_DELETE_ISSUE, LEAVE_MASS_DELETE_ISSUE})

MAX_ID_CHARS = 512


async def perform(services: Services, admin: Admin, form: Mapping[str, str]) -> str:
    """Do what the form asks; the notice the page shows (escaped by the page)."""
    action, user_id = form.get("action", ""), form.get("user", "")
    if action == "refresh":
        return ""
    if not user_id or len(user_id) > MAX_ID_CHARS:
        return "Nothing done: the form named no user."
    if action == "sync":
        await _queue(services, user_id, "admin")
        return f"A sync of {user_id} is queued."
    if action == "release":
        return await _release(services, admin, user_id, form.get("key", MASS_DELETE_ISSUE))
    if action == "retry":
        issue = await _open_issue(services, user_id, form.get("key", ""))
        if issue is None or issue.kind not in RETRYABLE:
            return f"Nothing to retry: {user_id} has no such open item (it may have synced meanwhile)."
        await _queue(services, user_id, "admin-retry")
        return f"A sync of {user_id} is queued; it offers the item again."
    return "Nothing done: unknown action."


async def _release(services: Services, admin: Admin, user_id: str, key: str) -> str:
    if key not in RELEASABLE:
        return "Nothing done: that is not a halted deletion."
    halted = await _open_issue(services, user_id, key)
    if halted is None or halted.kind is not IssueKind.MASS_DELETE:
        return f"Nothing to release: {user_id} has no halted deletion waiting."
    now = services.clock()
    reason = safe_text(
        f"released by {admin.name} at {now:%Y-%m-%d %H:%M UTC}; the next run lets these removals through once"
        f" ({halted.reason})"
    )
    await services.state.record_issue(
        halted.model_copy(update={"kind": IssueKind.RELEASED, "reason": reason, "last_seen": now})
    )
    await _queue(services, user_id, "admin-release")
    return f"The halted deletion of {user_id} is released; a sync is queued to apply it."


async def _open_issue(services: Services, user_id: str, key: str) -> Issue | None:
    return next((issue for issue in await services.state.open_issues(user_id) if issue.key == key), None)


async def _queue(services: Services, user_id: str, reason: str) -> None:
    await request_sync(services, SyncRequest(user_id=user_id, reason=reason, correlation_id=current_correlation_id()))
