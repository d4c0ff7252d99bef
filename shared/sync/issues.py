"""Issues the admin sees (R31): recording them, and the stable key each action's issue has."""

from __future__ import annotations

import json
import logging
from datetime import datetime

from shared.core.actions import (
    Action,
    ClaimMeeting,
    CreateActivity,
    CreateEvent,
    LinkCopy,
    Relink,
    TakeOver,
    UpdateActivity,
    UpdateEvent,
    Wait,
)
from shared.core.links import Link
from shared.core.series_actions import CreateSeriesActivity, CreateSeriesEvent
from shared.safe_log import outside
from shared.state.model import Issue, IssueKind
from shared.state.port import IssueLog
from shared.sync.context import RunContext
from shared.sync.report import RunReport

log = logging.getLogger(__name__)


async def record(
    run: RunContext,
    key: str,
    kind: IssueKind,
    reason: str,
    *,
    event_id: str | None = None,
    activity_id: str | None = None,
    payload: str | None = None,
) -> None:
    await record_for(
        run.ports.state,
        run.now(),
        run.user.id,
        run.report,
        key,
        kind,
        reason,
        event_id=event_id,
        activity_id=activity_id,
        payload=payload,
    )


async def record_for(
    state: IssueLog,
    now: datetime,
    user_id: str,
    report: RunReport,
    key: str,
    kind: IssueKind,
    reason: str,
    *,
    event_id: str | None = None,
    activity_id: str | None = None,
    payload: str | None = None,
) -> None:
    """Record (or count again) the issue the admin sees, and say so in the run's report."""
    await state.record_issue(
        Issue(
            user_id=user_id,
            key=key or kind.value,
            kind=kind,
            reason=reason,
            event_id=event_id,
            activity_id=activity_id,
            payload=payload,
            first_seen=now,
            last_seen=now,
        )
    )
    report.issues.append(f"{kind.value}: {reason}")
    log.warning("sync issue for user %s: %s: %s", outside(user_id), kind.value, outside(reason, limit=300))


def event_id_of(action: Action) -> str | None:
    if isinstance(action, CreateActivity | UpdateActivity | LinkCopy | TakeOver | Wait):
        return action.event.id
    if isinstance(action, CreateSeriesActivity):  # R28: its master, read again on the next run (R31)
        return action.master.id
    if isinstance(action, Relink):
        return action.event_id
    link = getattr(action, "link", None)
    return link.event_id if isinstance(link, Link) else None


def activity_id_of(action: Action) -> str | None:
    if isinstance(action, CreateEvent | UpdateEvent | CreateSeriesEvent):
        return action.activity.id
    if isinstance(action, Relink):
        return action.activity_id
    if isinstance(action, LinkCopy | TakeOver):
        return action.meeting.activity_id
    link = getattr(action, "link", None)
    return link.activity_id if isinstance(link, Link) else None


def key_of(action: Action) -> str:
    """One key per item: a repeat of the same trouble updates the admin's row instead of adding one."""
    if isinstance(action, CreateActivity | LinkCopy | TakeOver | Wait):
        return f"item|{action.event.id}|"  # the event's first link, however it comes about
    if isinstance(action, ClaimMeeting):  # its own row: the update that follows must not resolve it
        return f"claim|{action.link.link_id}|"
    return f"item|{event_id_of(action) or ''}|{activity_id_of(action) or ''}"


def payload_of(action: Action) -> str | None:
    """The version that could not be applied, kept so nothing is lost (R7, R31)."""
    if isinstance(action, CreateActivity | UpdateActivity):
        return action.event.model_dump_json()
    if isinstance(action, CreateEvent | UpdateEvent):
        return action.activity.model_dump_json()
    return json.dumps({"action": type(action).__name__})
