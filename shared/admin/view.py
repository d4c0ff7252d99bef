"""What the status page shows, read from the small read models, never by scanning the sync's tables:

- the enabled users (the ERP's user list) with each one's last run (``RunRecord``, one row per user) and
  lease (one point read per user);
- the open issues (the issue table's open rows only), sorted into what a person acts on;
- the subscriptions (one row per user) and the jobs' last runs (one row per job).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from shared.composition import Services
from shared.handlers.failures import RUN_ISSUE
from shared.state.model import Issue, IssueKind, JobRecord, Lease, RunRecord, SubscriptionRecord
from shared.sync.engine import MASS_DELETE_ISSUE

__all__ = ["MASS_DELETE_ISSUE", "RETRYABLE", "StatusView", "UserRow", "read_view"]

log = logging.getLogger(__name__)
RETRYABLE = (IssueKind.REFUSED_ITEM, IssueKind.FAILURE, IssueKind.WAITING)  # offered again by every run


@dataclass(frozen=True)
class UserRow:
    user_id: str
    name: str
    mailbox: str
    last_run: RunRecord | None
    lease: Lease | None


@dataclass(frozen=True)
class StatusView:
    now: datetime
    users: Sequence[UserRow]
    conflicts: Sequence[Issue] = ()
    refused: Sequence[Issue] = ()
    unsyncable: Sequence[Issue] = ()
    halted: Sequence[Issue] = ()  # kinds MASS_DELETE (waiting for a person) and RELEASED (let through next run)
    failed_runs: Sequence[Issue] = ()  # the user's ``run`` issue: failed runs and poisoned work
    waiting: Sequence[Issue] = ()
    other: Sequence[Issue] = ()
    subscriptions: Sequence[SubscriptionRecord] = ()
    jobs: Sequence[JobRecord] = ()
    problems: Sequence[str] = field(default_factory=tuple)  # what could not be read (the page shows the rest)


async def read_view(services: Services) -> StatusView:
    now = services.clock()
    problems: list[str] = []
    runs = {record.user_id: record for record in await services.state.last_runs()}
    try:
        enabled = [
            (u.id, u.display_name or u.id, u.email or "") for u in await services.erp.list_users(enabled_only=True)
        ]
    except Exception as error:
        log.warning("status page: the ERP's user list could not be read (%s)", type(error).__name__)
        problems.append(
            f"The ERP's user list could not be read ({type(error).__name__}); users with a recorded run are shown."
        )
        enabled = [(user_id, user_id, "") for user_id in runs]
    leases = await asyncio.gather(*(services.state.get_lease(user_id) for user_id, _, _ in enabled))
    users = [
        UserRow(user_id=user_id, name=name, mailbox=mailbox, last_run=runs.get(user_id), lease=lease)
        for (user_id, name, mailbox), lease in zip(enabled, leases, strict=True)
    ]
    issues = sorted(await services.state.open_issues(), key=lambda issue: issue.last_seen, reverse=True)
    return StatusView(
        now=now,
        users=sorted(users, key=lambda row: row.name.lower()),
        conflicts=[i for i in issues if i.kind is IssueKind.CONFLICT],
        refused=[i for i in issues if i.kind is IssueKind.REFUSED_ITEM],
        unsyncable=[i for i in issues if i.kind is IssueKind.UNSYNCABLE_USER],
        halted=[i for i in issues if i.kind in (IssueKind.MASS_DELETE, IssueKind.RELEASED)],
        failed_runs=[i for i in issues if i.kind is IssueKind.FAILURE and i.key == RUN_ISSUE],
        waiting=[i for i in issues if i.kind is IssueKind.WAITING],
        other=[i for i in issues if i.kind in (IssueKind.BAD_INPUT, IssueKind.FAILURE) and i.key != RUN_ISSUE],
        subscriptions=sorted(await services.state.subscriptions(), key=lambda record: record.expires_at),
        jobs=sorted(await services.state.job_runs(), key=lambda job: job.name),
        problems=problems,
    )
