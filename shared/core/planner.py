"""The decision table: given what changed on each side and the stored links, what to do (pure).

One public function, ``plan``. It reads no clock (``now`` is an input) and does no I/O; the engine
feeds it the changes of one user's run and executes the actions it returns, in order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shared.core.actions import (
    Action,
    CreateActivity,
    CreateEvent,
    DeleteEvent,
    DetachLink,
    Plan,
    Relink,
    Remember,
    Skip,
    UpdateActivity,
    UpdateEvent,
    VoidActivity,
)
from shared.core.fingerprint import changed_fields, fingerprint
from shared.core.items import ItemKind, Side
from shared.core.links import Link, LinkState
from shared.core.m365 import DeltaEntry, EventType, M365Event
from shared.core.mapping import item_from_activity, item_from_event
from shared.core.policy import PrivateEvents, SyncPolicy
from shared.core.activities import Activity, ActivityChange, ActivityState


@dataclass(frozen=True, kw_only=True)
class RunInput:
    """Everything one user's run knows. Removed events were already confirmed gone by a direct read (R9)."""

    user_id: str
    mailbox: str
    policy: SyncPolicy
    now: datetime
    links: Sequence[Link]
    m365_changes: Sequence[DeltaEntry] = ()
    erp_changes: Sequence[ActivityChange] = ()
    # R4: an initial pull (first run, or after a lost delta token) never deletes anything.
    m365_initial: bool = False
    erp_initial: bool = False


@dataclass
class _Index:
    by_event: dict[str, Link] = field(default_factory=dict)
    by_activity: dict[str, Link] = field(default_factory=dict)

    @classmethod
    def of(cls, links: Sequence[Link]) -> _Index:
        index = cls()
        for link in links:
            if link.event_id:
                index.by_event[link.event_id] = link
            if link.activity_id:
                index.by_activity[link.activity_id] = link
        return index


def plan(run: RunInput) -> Plan:
    """The actions that bring both sides together for one user (R1, R4-R11, R20-R27)."""
    index = _Index.of(run.links)
    direction = run.policy.direction_for(run.mailbox, run.user_id)
    to_erp, to_m365 = direction.writes_to(Side.ERP), direction.writes_to(Side.M365)
    erp_by_activity = {c.activity_id: c for c in run.erp_changes}
    m365_by_event = {e.event_id: e for e in run.m365_changes}

    actions: list[Action] = []
    handled_activities: set[str] = set()
    # R10: activities this mailbox's events already gave birth to (a create whose answer was lost).
    born_here = {
        c.activity.origin.event_id: c.activity_id
        for c in run.erp_changes
        if c.activity is not None
        and c.activity.origin is not None
        and c.activity.origin.mailbox.lower() == run.mailbox.lower()
        and c.activity_id not in index.by_activity
    }
    for entry in _dedupe(run.m365_changes):
        link = index.by_event.get(entry.event_id)
        if link is None and entry.event is not None and entry.event_id in born_here:
            handled_activities.add(born_here[entry.event_id])
            actions.append(Relink(event_id=entry.event_id, activity_id=born_here[entry.event_id], origin=Side.M365))
            continue
        other = erp_by_activity.get(link.activity_id) if link and link.activity_id else None
        if (
            other is not None
            and other.activity is not None
            and not _erp_gone(other)
            and entry.event is not None
            and link is not None
            and link.state is LinkState.ACTIVE
        ):
            handled_activities.add(other.activity_id)
            actions.extend(_merge_both(run, link, entry.event, other.activity, to_erp=to_erp, to_m365=to_m365))
            continue
        actions.extend(_m365_side(run, entry, link, to_erp=to_erp))
    for change in _dedupe_erp(run.erp_changes):
        if change.activity_id in handled_activities:
            continue
        link = index.by_activity.get(change.activity_id)
        if (
            link is not None
            and link.event_id in m365_by_event
            and m365_by_event[link.event_id].event is None
            and _erp_gone(change)
        ):
            continue  # both sides removed it; the M365 branch already retires the link
        actions.extend(_erp_side(run, change, link, index, to_m365=to_m365))

    halted = _mass_delete_check(run, actions)
    if halted:
        return Plan(
            actions=tuple(a for a in actions if not isinstance(a, _REMOVALS)),
            halted=halted,
        )
    return Plan(actions=tuple(actions))


def _erp_gone(change: ActivityChange) -> bool:
    """Removed from the ERP, or voided there (R8): either way its event leaves the calendar."""
    return change.deleted or change.activity is None or change.activity.state is ActivityState.VOIDED


def _dedupe(entries: Sequence[DeltaEntry]) -> Iterator[DeltaEntry]:
    """Delta pages may repeat an item (graph-facts §1): the last report of each id wins."""
    latest = {e.event_id: e for e in entries}
    yield from latest.values()


def _dedupe_erp(changes: Sequence[ActivityChange]) -> Iterator[ActivityChange]:
    latest: dict[str, ActivityChange] = {}
    for change in sorted(changes, key=lambda c: c.seq):
        latest[change.activity_id] = change
    yield from latest.values()


# --- M365 → ERP ------------------------------------------------------------------------------------


def _m365_side(run: RunInput, entry: DeltaEntry, link: Link | None, *, to_erp: bool) -> Iterator[Action]:
    policy = run.policy
    event = entry.event
    if event is None:
        yield from _event_gone(run, entry.event_id, link, to_erp=to_erp)
        return
    if event.type is EventType.SERIES_MASTER:
        yield Skip(side=Side.M365, record_id=event.id, reason="series master: its occurrences sync (R28)")
        return
    if link is None or link.state is not LinkState.ACTIVE:
        if link is not None:
            yield Skip(side=Side.M365, record_id=event.id, reason=f"link is {link.state.value}")
            return
        yield from _new_event(run, event, to_erp=to_erp)
        return
    if event.is_cancelled or event.response == "declined":
        # R27: a declined or cancelled meeting is not shown in the ERP.
        if to_erp and link.activity_id and not run.m365_initial:
            yield VoidActivity(link=link, reason="declined" if event.response == "declined" else "cancelled")
        return
    item = item_from_event(event, kind=link.kind, conflict_category=policy.conflict_category)
    changed = changed_fields(fingerprint(item), link.m365_fields)
    if not changed:
        return  # an echo of our own write, or a change in nothing we sync (R5)
    owned = changed & policy.fields_m365_may_change(link.kind, link.origin)
    if not to_erp or not owned:
        yield Remember(link=link, event=event)
        return
    yield UpdateActivity(link=link, event=event, item=item, fields=owned)


def _event_gone(run: RunInput, event_id: str, link: Link | None, *, to_erp: bool) -> Iterator[Action]:
    if link is None or link.state is not LinkState.ACTIVE:
        return
    if run.m365_initial:
        yield Skip(side=Side.M365, record_id=event_id, reason="initial pull never deletes (R4)")
        return
    if not to_erp:
        yield DetachLink(link=link, vanished_on=Side.M365)
        return
    if run.policy.void_on_event_delete.get(link.kind, False) or link.origin is Side.M365:
        yield VoidActivity(link=link, reason="event deleted in M365 (R8)", vanished_on=Side.M365)
    else:
        yield DetachLink(link=link, vanished_on=Side.M365)  # R8: ERP-born tasks and calls stay in the ERP


def _new_event(run: RunInput, event: M365Event, *, to_erp: bool) -> Iterator[Action]:
    policy = run.policy
    if event.erp_stamp:
        # R10: we wrote this event for an ERP record but never saved the link (crash): pair, don't copy.
        yield Relink(event_id=event.id, activity_id=event.erp_stamp, origin=Side.ERP)
        return
    reason = _why_not_create_activity(run, event, to_erp=to_erp)
    if reason:
        yield Skip(side=Side.M365, record_id=event.id, reason=reason)
        return
    item = item_from_event(event, kind=ItemKind.MEETING, conflict_category=policy.conflict_category)
    if policy.private_events is PrivateEvents.SYNC_AS_BUSY and event.sensitivity != "normal":
        item = item.model_copy(update={"subject": "Busy", "body": "", "attendees": ()})
    yield CreateActivity(event=event, item=item)


def _why_not_create_activity(run: RunInput, event: M365Event, *, to_erp: bool) -> str | None:
    policy = run.policy
    categories = {c.lower() for c in event.categories}
    attendee_domains = {a.email.rsplit("@", 1)[-1].lower() for a in event.attendees}
    checks: list[tuple[bool, str]] = [
        (not to_erp, "direction does not write to the ERP (R1)"),
        (ItemKind.MEETING not in policy.activity_kinds, "meetings are not a synced activity type (R3)"),
        (event.is_cancelled, "cancelled"),
        (event.response == "declined", "declined by the user (R27)"),
        (event.sensitivity != "normal" and policy.private_events is PrivateEvents.SKIP, "private event (R25)"),
        (bool(categories & {c.lower() for c in policy.exclude_categories}), "excluded category (R24)"),
        (
            bool(policy.include_categories) and not categories & {c.lower() for c in policy.include_categories},
            "not in an included category (R24)",
        ),
        (
            policy.skip_internal_only
            and bool(policy.internal_domains)
            and bool(attendee_domains)
            and attendee_domains <= policy.internal_domains,
            "internal-only meeting (R26)",
        ),
    ]
    return next((reason for failed, reason in checks if failed), None)


# --- ERP → M365 ------------------------------------------------------------------------------------


def _erp_side(
    run: RunInput, change: ActivityChange, link: Link | None, index: _Index, *, to_m365: bool
) -> Iterator[Action]:
    activity = change.activity
    if _erp_gone(change):
        if link is None or link.state is LinkState.RETIRED:
            return
        if not to_m365 or link.state is LinkState.DETACHED or not link.event_id:
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
        return
    assert activity is not None  # narrowed by _erp_gone
    if link is None:
        yield from _new_activity(run, activity, index, to_m365=to_m365)
        return
    if link.state is not LinkState.ACTIVE:
        yield Skip(side=Side.ERP, record_id=activity.id, reason=f"link is {link.state.value}")
        return
    item = item_from_activity(activity)
    changed = changed_fields(fingerprint(item), link.erp_fields)
    if not changed:
        return
    if not to_m365:
        yield Remember(link=link, activity=activity)
        return
    yield UpdateEvent(link=link, activity=activity, item=item, fields=changed)


def _new_activity(run: RunInput, activity: Activity, index: _Index, *, to_m365: bool) -> Iterator[Action]:
    policy = run.policy
    origin = activity.origin
    if origin is not None and origin.mailbox.lower() == run.mailbox.lower():
        if origin.event_id not in index.by_event:
            # R10: we created this activity from one of this mailbox's events; pair them again.
            yield Relink(event_id=origin.event_id, activity_id=activity.id, origin=Side.M365)
        return
    kind = ItemKind(activity.type.value)
    checks: list[tuple[bool, str]] = [
        (not to_m365, "direction does not write to M365 (R1)"),
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


# --- both sides changed ----------------------------------------------------------------------------


def _merge_both(
    run: RunInput, link: Link, event: M365Event, activity: Activity, *, to_erp: bool, to_m365: bool
) -> Iterator[Action]:
    """R6: fields changed on one side come from that side; on both, the latest change wins (ties: M365)."""
    policy = run.policy
    m365_item = item_from_event(event, kind=link.kind, conflict_category=policy.conflict_category)
    erp_item = item_from_activity(activity)
    m365_changed = changed_fields(fingerprint(m365_item), link.m365_fields) & policy.fields_m365_may_change(
        link.kind, link.origin
    )
    erp_changed = changed_fields(fingerprint(erp_item), link.erp_fields)
    both = m365_changed & erp_changed
    m365_wins = _m365_is_latest(event, activity, policy.clock_skew_seconds)
    to_erp_fields = (m365_changed - erp_changed) | (both if m365_wins else frozenset())
    to_m365_fields = (erp_changed - m365_changed) | (frozenset() if m365_wins else both)
    if to_erp and to_erp_fields:
        yield UpdateActivity(link=link, event=event, item=m365_item, fields=frozenset(to_erp_fields))
    if to_m365 and to_m365_fields:
        yield UpdateEvent(
            link=link,
            activity=activity,
            item=erp_item,  # the write is limited to to_m365_fields
            fields=frozenset(to_m365_fields),
        )
    wrote = (to_erp and to_erp_fields) or (to_m365 and to_m365_fields)
    if (m365_changed or erp_changed) and not wrote:
        yield Remember(link=link, event=event, activity=activity)


def _m365_is_latest(event: M365Event, activity: Activity, skew_seconds: float) -> bool:
    if event.last_modified is None:
        return False
    return event.last_modified >= activity.modified_at - timedelta(seconds=skew_seconds)


def _mass_delete_check(run: RunInput, actions: Sequence[Action]) -> str | None:
    """R11: most of a user's linked items reported gone at once is an accident until a person says otherwise."""
    active = sum(1 for link in run.links if link.state is LinkState.ACTIVE)
    policy = run.policy
    for side in Side:
        removals = sum(1 for a in actions if isinstance(a, _REMOVALS) and a.vanished_on is side)
        if removals >= policy.mass_delete_minimum and active and removals / active > policy.mass_delete_ratio:
            return f"{side.value} reported {removals} of {active} linked items gone at once (R11)"
    return None


_REMOVALS = (VoidActivity, DetachLink, DeleteEvent)
