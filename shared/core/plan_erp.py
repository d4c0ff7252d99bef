"""One side changed: an ERP activity (owned by this user, or one they take part in) and what the calendar
gets (R4, R5, R8, R10, R19-R21)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from shared.core.actions import (
    Action,
    CreateEvent,
    DeleteEvent,
    Demote,
    DetachLink,
    Relink,
    Remember,
    Skip,
    UpdateEvent,
)
from shared.core.activities import Activity, ActivityChange, ActivityState
from shared.core.fingerprint import changed_fields, fingerprint
from shared.core.items import ItemKind, Side
from shared.core.links import Link, LinkState
from shared.core.mapping import item_from_activity
from shared.core.meetings import LinkRole
from shared.core.plan_copies import copy_activity_changed
from shared.core.policy import NEVER_WRITTEN_TO_M365
from shared.core.run import Index, RunInput, Ways, erp_gone


def erp_side(run: RunInput, change: ActivityChange, link: Link | None, index: Index, ways: Ways) -> Iterator[Action]:
    activity = change.activity
    if link is not None and link.role is LinkRole.COPY:
        yield from copy_activity_changed(run, change, link)
        return
    if erp_gone(change):
        yield from activity_gone(run, change, link, ways)
        return
    assert activity is not None  # narrowed by erp_gone
    if activity.owner_id != run.user_id:
        if link is not None and link.state is LinkState.ACTIVE:
            yield Demote(link=link, activity=activity)  # R10: taken over by the organizer's mailbox
        elif link is None:
            yield Skip(side=Side.ERP, record_id=activity.id, reason="a meeting another mailbox owns (R10)")
        return
    if link is None:
        yield from new_activity(run, activity, index, ways)
        return
    if link.state is not LinkState.ACTIVE:
        yield Skip(side=Side.ERP, record_id=activity.id, reason=f"link is {link.state.value}")
        return
    item = item_from_activity(activity)
    changed = changed_fields(fingerprint(item), link.erp_fields)
    if not changed:
        return
    writable = changed - NEVER_WRITTEN_TO_M365
    if not ways.to_m365 or not writable:
        yield Remember(link=link, activity=activity)
        return
    yield UpdateEvent(link=link, activity=activity, item=item, fields=writable)


def activity_gone(run: RunInput, change: ActivityChange, link: Link | None, ways: Ways) -> Iterator[Action]:
    if link is None or link.state is LinkState.RETIRED:
        return
    if not ways.to_m365 or link.state is LinkState.DETACHED or not link.event_id:
        yield (
            DetachLink(link=link, vanished_on=Side.ERP)
            if link.state is LinkState.ACTIVE
            else Skip(side=Side.ERP, record_id=change.activity_id, reason="event already gone")
        )
        return
    if run.erp_initial:
        yield Skip(side=Side.ERP, record_id=change.activity_id, reason="initial pull never deletes (R4)")
        return
    yield DeleteEvent(link=link, reason="activity voided or removed in the ERP (R8)", vanished_on=Side.ERP)


def new_activity(run: RunInput, activity: Activity, index: Index, ways: Ways) -> Iterator[Action]:
    policy = run.policy
    origin = activity.origin
    if origin is not None and origin.mailbox.lower() == run.mailbox.lower():
        if origin.event_id not in index.by_event:
            # R10: we created this activity from one of this mailbox's events; pair them again.
            yield Relink(event_id=origin.event_id, activity_id=activity.id, origin=Side.M365)
        return
    kind = ItemKind(activity.type.value)
    checks: list[tuple[bool, str]] = [
        (not ways.to_m365, "direction does not write to M365 (R1)"),
        (kind not in policy.activity_kinds, f"{kind.value} is not a synced activity type (R3)"),
        (origin is not None, "created from another mailbox's event"),
        (activity.state is ActivityState.CLOSED, "closed activity"),
        (kind is ItemKind.MEETING and activity.state is ActivityState.DRAFT, "meeting not confirmed yet (R21)"),
        (
            _ended_before(activity, run.now - timedelta(hours=policy.erp_lookback_hours)),
            "ended more than the look-back ago (R4)",
        ),
    ]
    reason = next((r for failed, r in checks if failed), None)
    if reason:
        yield Skip(side=Side.ERP, record_id=activity.id, reason=reason)
        return
    item = item_from_activity(activity)
    yield CreateEvent(activity=activity, item=item, invite=item.end > run.now)


def _ended_before(activity: Activity, moment: datetime) -> bool:
    return item_from_activity(activity).end < moment
