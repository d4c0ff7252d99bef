"""The daily jobs: close ended activities that came from Outlook (R29), and clean up what no run reads any more.

Both run once a night (``SYNC_CLOSE_SCHEDULE``, ``SYNC_CLEANUP_SCHEDULE``, UTC) and return their counts, which
the timer stores as the job's last run (``shared.handlers.runs.record_job``: the status page) and logs.

**Close (R29).** Per enabled user, under the user's lease (the same lease a sync run takes, so the job never
writes while that user's run does; a user whose run holds it is left for the next night, and the look-back
``SYNC_CLOSE_LOOKBACK_DAYS`` catches it up): one read of the user's activity feed as a snapshot of what ended
within the look-back, then ``close`` for each activity ``core.closing`` picks, with its version (If-Match).
A closed activity is read-only: a later Outlook edit of its event is an R7 conflict, as for any read-only one.

**Clean-up.** Each step bounded (``STEP_LIMIT`` records a night) and idempotent, its count logged:
replay rows older than the hook's window; retired and detached links and resolved issues older than
``SYNC_RETENTION_DAYS`` (a detached link only once its ERP record can no longer come back to the sync: gone,
read-only, or ended before the look-back, else the sync would write its event again); subscriptions of users
no longer enabled (Graph's, then the record); delta cursors of disabled users. Links go under their user's
lease, so a run never finds a link it read deleted under it. After it, a quiet run reads no tombstones.

A step that fails is recorded for the admin (R31) under the tenant (``daily_close`` / ``daily_cleanup``) and
the job goes on; the row resolves on the next clean night.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import datetime, timedelta
from typing import Any

from shared.composition import Services
from shared.core.closing import to_close
from shared.core.leave import is_leave_key
from shared.core.links import Link, LinkState
from shared.core.mapping import item_from_activity
from shared.erp.hook import DEFAULT_WINDOW_SECONDS
from shared.errors import ErpConflict, ErpNotFound, ErpReadOnly, GraphNotFound
from shared.handlers.common import TENANT
from shared.handlers.failures import secrets_of
from shared.safe_log import outside, safe_text
from shared.state.model import Issue, IssueKind
from shared.sync.engine import LEASE_RENEW_SECONDS, LEASE_SECONDS
from shared.sync.lease import LeaseLost, run_under_lease

log = logging.getLogger(__name__)

CLOSE_JOB = "daily_close"
CLEANUP_JOB = "daily_cleanup"
CLOSE_ISSUE = "close-job"  # a user's activities could not be closed (R29, R31)
STEP_LIMIT = 5000  # records one clean-up step deletes in a night; the rest go the next night
_WORKER = f"{socket.gethostname()}:{os.getpid()}"


async def daily_close(services: Services) -> dict[str, int]:
    """R29: close every enabled user's ended activities that the sync created from Outlook events."""
    counts: Counter[str] = Counter()
    now = services.clock()
    since = now - timedelta(days=services.settings.sync_close_lookback_days)
    for user in await services.erp.list_users(enabled_only=True):

        async def close_for(user_id: str = user.id) -> None:
            await _close_for(services, user_id, since, now, counts)

        outcome = await _under_lease(services, user.id, CLOSE_JOB, close_for)
        counts[f"users {outcome}"] += 1
        if outcome == "failed":
            continue
        if outcome == "done":
            await services.state.resolve_issue(user.id, CLOSE_ISSUE, now=services.clock())
    _log(CLOSE_JOB, counts)
    return {name: count for name, count in counts.items() if count}


async def _close_for(services: Services, user_id: str, since: datetime, now: datetime, counts: Counter[str]) -> None:
    feed = await services.erp.activity_changes(user_id=user_id, cursor=None, ends_after=since)
    closed: list[str] = []
    for activity in to_close(feed.items, owner_id=user_id, now=now):
        try:
            await services.erp.close_activity(activity.id, version=activity.version)
        except (ErpReadOnly, ErpConflict, ErpNotFound) as error:  # changed since the snapshot: next night
            counts["left (changed meanwhile)"] += 1
            log.info("%s: activity %s left open (%s)", CLOSE_JOB, outside(activity.id), type(error).__name__)
            continue
        closed.append(activity.id)
    counts["closed"] += len(closed)
    if closed:
        log.info("%s: closed for user %s: %s", CLOSE_JOB, outside(user_id), outside(", ".join(closed), limit=2000))


async def daily_cleanup(services: Services) -> dict[str, int]:
    """Delete what no run reads any more, each step bounded and idempotent."""
    counts: Counter[str] = Counter()
    now = services.clock()
    retention = now - timedelta(days=services.settings.sync_retention_days)
    steps: list[tuple[str, Callable[[], Awaitable[None]]]] = [
        ("replays", lambda: _replays(services, now, counts)),
        ("links", lambda: _links(services, retention, now, counts)),
        ("issues", lambda: _issues(services, retention, counts)),
        ("users no longer enabled", lambda: _disabled_users(services, counts)),
    ]
    failed: list[str] = []
    for name, step in steps:
        try:
            await step()
        except Exception as error:  # one step's failure (ERP, Graph, storage) leaves the others to run
            failed.append(f"{name}: {type(error).__name__}: {error}")
            counts["steps failed"] += 1
    await _tenant_issue(services, CLEANUP_JOB, failed)
    _log(CLEANUP_JOB, counts)
    return {name: count for name, count in counts.items() if count}


async def _replays(services: Services, now: datetime, counts: Counter[str]) -> None:
    """A hook call's delivery id is looked up only while its timestamp is inside the window (R5)."""
    before = now - timedelta(seconds=DEFAULT_WINDOW_SECONDS)
    counts["replays deleted"] += await services.state.prune_replays(before=before, limit=STEP_LIMIT)


async def _links(services: Services, before: datetime, now: datetime, counts: Counter[str]) -> None:
    stale = await services.state.stale_links(before=before, limit=STEP_LIMIT)
    by_user: dict[str, list[Link]] = defaultdict(list)
    for link in stale:
        if await _can_go(services, link, now):
            by_user[link.user_id].append(link)
        else:
            counts["links kept (record still syncable)"] += 1
    for user_id, links in sorted(by_user.items()):

        async def delete(chosen: Sequence[Link] = links) -> None:
            counts["links deleted"] += await services.state.delete_links(chosen)

        outcome = await _under_lease(services, user_id, CLEANUP_JOB, delete)
        if outcome != "done":
            counts[f"links left (user {outcome})"] += len(links)


async def _can_go(services: Services, link: Link, now: datetime) -> bool:
    """A retired link's records are gone on both sides. A detached one's ERP record lives on (R8): its link
    may go only when the feed can no longer bring that record back as new (it would get an event again)."""
    if link.state is not LinkState.DETACHED or not link.activity_id or is_leave_key(link.activity_id):
        return True
    try:
        activity = await services.erp.get_activity(link.activity_id)
    except ErpNotFound:
        return True
    lookback = now - timedelta(hours=services.settings.sync_erp_lookback_hours)
    return activity.read_only or item_from_activity(activity).end < lookback


async def _issues(services: Services, before: datetime, counts: Counter[str]) -> None:
    counts["issues deleted"] += await services.state.prune_resolved_issues(before=before, limit=STEP_LIMIT)


async def _disabled_users(services: Services, counts: Counter[str]) -> None:
    """R2/R32: a user switched off keeps no subscription (Graph's and ours) and no delta cursor."""
    users = await services.erp.list_users(enabled_only=False)
    enabled = {user.id for user in users if user.enabled}
    for record in list(await services.state.subscriptions())[:STEP_LIMIT]:
        if record.user_id in enabled:
            continue
        with contextlib.suppress(GraphNotFound):  # Graph had dropped it already
            await services.calendar.delete_subscription(record.subscription_id)
        await services.state.delete_subscription(record.subscription_id)
        counts["subscriptions dropped"] += 1
    for user in users:
        if user.enabled or not user.email:
            continue
        if await services.state.get_delta_cursor(user.email) is not None:
            await services.state.clear_delta_cursor(user.email)
            counts["delta cursors removed"] += 1


async def _under_lease(
    services: Services, user_id: str, job: str, work: Callable[[], Coroutine[Any, Any, None]]
) -> str:
    """Run ``work`` holding the user's lease, so it never races the user's sync: ``done``, ``busy`` (a run holds
    it: left for the next night) or ``failed`` (recorded for the admin, R31)."""
    state = services.state
    owner = f"{job}:{_WORKER}"
    lease = await state.acquire_lease(user_id, owner=owner, now=services.clock(), ttl_seconds=LEASE_SECONDS)
    if lease is None:
        return "busy"
    try:
        await run_under_lease(
            state, lease, work(), clock=services.clock, ttl_seconds=LEASE_SECONDS, renew_every=LEASE_RENEW_SECONDS
        )
    except LeaseLost:
        return "busy"
    except Exception as error:  # this user's failure (ERP, Graph, storage) leaves the other users to run
        reason = safe_text(f"the {job} job failed for this user: {error}", secrets=secrets_of(services.settings))
        now = services.clock()
        key = CLOSE_ISSUE if job == CLOSE_JOB else job
        await state.record_issue(
            Issue(user_id=user_id, key=key, kind=IssueKind.FAILURE, reason=reason, first_seen=now, last_seen=now)
        )
        log.warning("sync issue for user %s: failure: %s", outside(user_id), outside(reason, limit=300))
        return "failed"
    return "done"


async def _tenant_issue(services: Services, job: str, failed: list[str]) -> None:
    """R31: a failed step is listed for the admin under the tenant; a clean night resolves it."""
    now = services.clock()
    if not failed:
        await services.state.resolve_issue(TENANT, job, now=now)
        return
    reason = safe_text(f"the {job} job: " + "; ".join(failed), secrets=secrets_of(services.settings))
    await services.state.record_issue(
        Issue(user_id=TENANT, key=job, kind=IssueKind.FAILURE, reason=reason, first_seen=now, last_seen=now)
    )
    log.warning("sync issue for user %s: failure: %s", TENANT, outside(reason, limit=300))


def _log(job: str, counts: Counter[str]) -> None:
    summary = ", ".join(f"{name}={count}" for name, count in sorted(counts.items())) or "nothing to do"
    log.info("%s: %s", job, summary, extra={f"job.count.{k}": v for k, v in counts.items()} | {"job.name": job})
