"""Recurring series (R28): what a run does with the series its changes touch (pure).

``plan_series`` runs before the planner's per-item table (``planner.plan``) and takes out of it what it plans:

- **An ERP with series** (capability ``series``): every delta entry of a series (its occurrences and
  exceptions, an occurrence removed, the master itself) is planned once per series, against the link of its
  master and the ``SeriesView`` the engine read, together with the series activity's ERP change (R6 per
  series: fields, pattern with times, exceptions). A recurring ERP activity with no link becomes a series.
  A series deleted in Outlook voids its activity (R8); a voided activity's master is deleted by the usual
  ERP branch (``plan_erp.activity_gone``), which removes the whole series.
- **An ERP without series**: each occurrence is an activity of its own (the usual table), linked to its
  occurrence with its series and original start. When a series moves, Graph gives its occurrences new ids:
  the links of the occurrences gone are matched, in order of original start, with the series' new unlinked
  occurrences (``FollowOccurrence``), so the same activities are updated, never voided and made again.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from shared.core.actions import Action, CreateEvent, DeleteEvent, Skip, VoidActivity
from shared.core.activities import Activity, ActivityChange, RangeType
from shared.core.fingerprint import changed_fields, fingerprint
from shared.core.guards import why_not_create_activity
from shared.core.items import Field, ItemKind, Side
from shared.core.links import Link, LinkState
from shared.core.m365 import DeltaEntry, M365Event
from shared.core.mapping import item_from_activity, item_from_event
from shared.core.meetings import LinkRole
from shared.core.plan_copies import copy_changed, new_meeting_event
from shared.core.plan_erp import new_activity
from shared.core.plan_m365 import ended_for_owner, removal_for
from shared.core.plan_merge import m365_is_latest
from shared.core.policy import NEVER_WRITTEN_TO_M365, SyncPolicy
from shared.core.run import Index, RunInput, Ways, erp_gone
from shared.core.series import (
    SeriesMemo,
    SeriesView,
    by_original,
    changed_originals,
    erp_exceptions,
    exceptions_hash,
    known_after,
    m365_exceptions,
    master_of,
    memo_index,
    pattern_changed,
    pattern_hash,
    remembered_ids,
)
from shared.core.series_actions import (
    CreateSeriesActivity,
    CreateSeriesEvent,
    FollowOccurrence,
    RelinkSeries,
    SeriesSeen,
    SeriesToErp,
    SeriesToM365,
)

_EARLIEST = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class SeriesDispatch:
    """What ``plan_series`` planned, and what the per-item table must leave alone."""

    actions: tuple[Action, ...]
    index: Index  # the run's links, with occurrences' links following their occurrences
    events: frozenset[str]  # delta entries planned here (or whose link followed another occurrence)
    activities: frozenset[str]  # ERP changes planned here


def plan_series(run: RunInput, index: Index, ways: Ways) -> SeriesDispatch:
    return _as_series(run, index, ways) if run.erp_series else _by_occurrence(run, index)


# --- an ERP with series --------------------------------------------------------------------------------


def _as_series(run: RunInput, index: Index, ways: Ways) -> SeriesDispatch:
    series_links = {link.event_id: link for link in run.links if link.series is not None and link.event_id}
    by_occurrence = memo_index((master, link.series) for master, link in series_links.items())
    groups: dict[str, list[str]] = {}
    for entry in run.m365_changes:
        master = master_of(entry, by_occurrence, frozenset(series_links))
        if master is not None:
            groups.setdefault(master, []).append(entry.event_id)
    erp = _latest(run.erp_changes)
    actions: list[Action] = []
    events: set[str] = set()
    activities: set[str] = _paired_by_outlook(run, groups, index, erp)
    for master_id, entry_ids in groups.items():
        events.update(entry_ids)
        view = run.series.get(master_id)
        if view is None:
            actions.append(Skip(side=Side.M365, record_id=master_id, reason="series not read this run (R28)"))
            continue
        link = index.by_event.get(master_id)
        change = erp.get(link.activity_id) if link is not None and link.activity_id else None
        if change is not None:
            activities.add(change.activity_id)
        actions.extend(_outlook_series(run, view, link, change, ways))
    for change in erp.values():
        link = index.by_activity.get(change.activity_id)
        activity = change.activity
        if change.activity_id in activities or activity is None or erp_gone(change):
            continue  # a removal: the usual ERP branch deletes the master, so the series (R8)
        if (link is None or link.series is None) and activity.recurrence is None:
            continue  # a single activity
        if activity.owner_id != run.user_id or (link is not None and link.role is LinkRole.COPY):
            continue  # another mailbox's meeting (R10): the usual table
        activities.add(change.activity_id)
        if link is None:
            actions.extend(_new_erp_series(run, activity, index, ways))
        elif link.state is LinkState.ACTIVE:
            actions.extend(merge_series(run.policy, link, None, activity, ways))
    return SeriesDispatch(tuple(actions), index, frozenset(events), frozenset(activities))


def _paired_by_outlook(
    run: RunInput, groups: dict[str, list[str]], index: Index, erp: dict[str, ActivityChange]
) -> set[str]:
    """R10: unlinked series activities a crash left, which this run's Outlook series pair again (one plan per
    pair, never two links for one event): one made from a master planned here (its create is repeated, and the
    ERP's idempotency key returns it), and one whose master, stamped with it, is planned here (the ERP side
    repeats the create, and Graph's transactionId returns the master)."""
    stamped = {v.master.erp_stamp for m, v in run.series.items() if m in groups and v.master is not None}
    paired: set[str] = set()
    for change in erp.values():
        activity = change.activity
        if activity is None or change.activity_id in index.by_activity or activity.recurrence is None:
            continue
        if activity.origin is not None and activity.origin.event_id in groups:
            paired.add(change.activity_id)
    return paired - {s for s in stamped if s}


def _latest(changes: Sequence[ActivityChange]) -> dict[str, ActivityChange]:
    latest: dict[str, ActivityChange] = {}
    for change in sorted(changes, key=lambda c: c.seq):
        latest[change.activity_id] = change
    return latest


def _outlook_series(
    run: RunInput, view: SeriesView, link: Link | None, change: ActivityChange | None, ways: Ways
) -> Iterator[Action]:
    master = view.master
    if link is not None and link.kind is ItemKind.LEAVE:
        yield Skip(side=Side.M365, record_id=view.master_id, reason="a leave event: its leave request owns it (R30)")
        return
    if link is not None and link.role is LinkRole.COPY:  # R10/R27: a copy of someone's series: its answer only
        yield from copy_changed(run, DeltaEntry(event_id=view.master_id, event=master), link, change)
        return
    if master is None:  # R8: the series was deleted in Outlook (R9: its master read directly)
        if link is not None and link.state is LinkState.ACTIVE:
            if run.m365_initial:
                yield Skip(side=Side.M365, record_id=view.master_id, reason="initial pull never deletes (R4)")
            else:
                yield removal_for(run.policy, link, ways)
        return
    if link is None:
        yield from _new_outlook_series(run, view, master, ways)
        return
    if link.state is not LinkState.ACTIVE:
        yield Skip(side=Side.M365, record_id=master.id, reason=f"link is {link.state.value}")
        return
    if ended_for_owner(master):  # R27/R8: cancelled or declined
        if ways.to_erp and link.activity_id and not run.m365_initial:
            yield VoidActivity(
                link=link, reason="series cancelled or declined (R27)", ends_claim=not master.is_organizer
            )
        return
    if change is not None and erp_gone(change):  # R8: voided in the ERP: the whole series leaves the calendar
        if ways.to_m365 and not run.erp_initial:
            yield DeleteEvent(link=link, reason="series voided or removed in the ERP (R8)", vanished_on=Side.ERP)
        return
    yield from merge_series(run.policy, link, view, change.activity if change is not None else None, ways)


def _new_outlook_series(run: RunInput, view: SeriesView, master: M365Event, ways: Ways) -> Iterator[Action]:
    if master.erp_stamp:  # R10: written by us for an ERP record whose link a crash lost: pair, never copy
        if any(c.activity_id == master.erp_stamp and c.activity is not None for c in run.erp_changes):
            return  # the ERP side makes it again, which finds this master (transactionId) and links the series
        yield RelinkSeries(view=view, master=master, activity_id=master.erp_stamp, origin=Side.ERP)
        return
    made = _made_for(run, view, master) if master.is_organizer else None
    if made is not None:
        # R10: this mailbox made the series activity and a crash lost the link (a repeated create would be refused
        # when Outlook changed since, the ERP's idempotency key naming the first body, or would pair the two as if
        # the ERP had not changed it since).
        yield RelinkSeries(view=view, master=master, activity_id=made, origin=Side.M365)
        return
    if master.ical_uid and not master.is_organizer:
        # R10: a copy of a series another mailbox claimed is linked to its activity (or waits for it).
        claims = {**run.meetings, master.ical_uid: view.claim} if view.claim is not None else run.meetings
        decided = new_meeting_event(replace(run, meetings=claims), master, ways)
        if decided is not None:
            yield decided
            return
    reason = why_not_create_activity(run.policy, master, to_erp=ways.to_erp)
    if reason:
        yield Skip(side=Side.M365, record_id=master.id, reason=reason)
        return
    item = item_from_event(master, kind=ItemKind.MEETING, conflict_category=run.policy.conflict_category)
    yield CreateSeriesActivity(view=view, master=master, item=item)


def _made_for(run: RunInput, view: SeriesView, master: M365Event) -> str | None:
    """The series activity this mailbox made from ``master`` before a crash lost the link: named by the series'
    claim, or found in the ERP's feed by its origin (the crash came before the claim named it)."""
    claim = view.claim
    if claim is not None and claim.owner_user_id == run.user_id and claim.activity_id:
        return claim.activity_id
    for change in run.erp_changes:
        activity = change.activity
        origin = activity.origin if activity is not None else None
        if activity is not None and activity.recurrence is not None and origin and origin.event_id == master.id:
            return change.activity_id
    return None


def _new_erp_series(run: RunInput, activity: Activity, index: Index, ways: Ways) -> Iterator[Action]:
    """The usual checks of a new ERP activity (R1, R3, R10, R21); R4's look-back weighs the series' end, not its
    first occurrence's."""
    lookback = run.now - timedelta(hours=run.policy.erp_lookback_hours)
    for action in new_activity(run, activity, index, ways):
        if isinstance(action, CreateEvent):
            yield CreateSeriesEvent(activity=activity, item=action.item, invite=not _ended(activity, run.now))
        elif isinstance(action, Skip) and "(R4)" in action.reason and not _ended(activity, lookback):
            yield CreateSeriesEvent(activity=activity, item=item_from_activity(activity), invite=True)
        else:
            yield action


def _ended(activity: Activity, moment: datetime) -> bool:
    """Whether the series has no occurrence after ``moment`` (known only for a range with an end date)."""
    rec = activity.recurrence
    if rec is None or rec.range.type is not RangeType.END_DATE or rec.range.end_date is None:
        return False
    return rec.range.end_date < moment.date()


def merge_series(
    policy: SyncPolicy, link: Link, view: SeriesView | None, activity: Activity | None, ways: Ways
) -> Iterator[Action]:
    """R6 per series: fields changed on one side come from it; the pattern (with the times) and the exceptions
    are one group each; a group changed on both sides goes to the latest change (ties: Outlook)."""
    memo = link.series or SeriesMemo()
    master = view.master if view is not None else None
    m_fields: frozenset[Field] = frozenset()
    e_fields: frozenset[Field] = frozenset()
    m_pattern = e_pattern = m_exc = e_exc = False
    m_each: dict[str, str] = {}
    e_each: dict[str, str] = {}
    if view is not None and master is not None:
        m_item = item_from_event(master, kind=link.kind, conflict_category=policy.conflict_category)
        m_fields = changed_fields(fingerprint(m_item), link.m365_fields) & policy.fields_m365_may_change(
            link.kind, link.origin
        )
        m_pattern = pattern_changed(view, link.series) or Field.WHEN in m_fields
        m_list = m365_exceptions(view, link.series, reset=m_pattern)
        m_exc, m_each = exceptions_hash(m_list) != memo.m365_exceptions, by_original(m_list)
    if activity is not None:
        e_item = item_from_activity(activity)
        e_fields = changed_fields(fingerprint(e_item), link.erp_fields)
        e_pattern = pattern_hash(activity.recurrence) != memo.erp_pattern or Field.WHEN in e_fields
        e_list = erp_exceptions(activity)
        e_exc, e_each = exceptions_hash(e_list) != memo.erp_exceptions, by_original(e_list)
    if master is not None and activity is not None:
        m365_wins = m365_is_latest(master, activity, policy.clock_skew_seconds)
    else:
        m365_wins = master is not None
    both = m_fields & e_fields
    to_erp_pattern = ways.to_erp and m_pattern and (not e_pattern or m365_wins)
    to_m365_pattern = ways.to_m365 and e_pattern and not to_erp_pattern and not (m_pattern and m365_wins)
    to_erp_exc = ways.to_erp and (to_erp_pattern or (m_exc and (not e_exc or m365_wins) and not to_m365_pattern))
    to_m365_exc = ways.to_m365 and not to_erp_exc and (e_exc or (to_m365_pattern and activity is not None))
    to_erp_only = to_m365_only = None
    if m_exc and e_exc and not (m_pattern or e_pattern) and ways.to_erp and ways.to_m365:
        # R6 occurrence by occurrence: each side's exceptions of the occurrences only it changed go across; an
        # occurrence changed on both sides goes to the latest change.
        m_changed = changed_originals(m_each, memo.m365_each)
        e_changed = changed_originals(e_each, memo.erp_each)
        both_changed = m_changed & e_changed
        to_erp_only = (m_changed - e_changed) | (both_changed if m365_wins else frozenset())
        to_m365_only = (e_changed - m_changed) | (frozenset() if m365_wins else both_changed)
        to_erp_exc, to_m365_exc = bool(to_erp_only), bool(to_m365_only)
    to_erp = (m_fields - e_fields) | (both if m365_wins else frozenset())
    to_m365 = ((e_fields - m_fields) | (frozenset() if m365_wins else both)) - NEVER_WRITTEN_TO_M365
    to_erp = (to_erp | {Field.WHEN}) if to_erp_pattern else to_erp - {Field.WHEN}
    to_m365 = (to_m365 | {Field.WHEN}) if to_m365_pattern else to_m365 - {Field.WHEN}
    wrote = False
    if view is not None and master is not None and ways.to_erp and (to_erp or to_erp_exc):
        wrote = True
        yield SeriesToErp(
            link=link,
            view=view,
            master=master,
            item=item_from_event(master, kind=link.kind, conflict_category=policy.conflict_category),
            fields=frozenset(to_erp),
            pattern=to_erp_pattern,
            exceptions=to_erp_exc,
            reset=m_pattern,
            only=to_erp_only,
        )
    if activity is not None and ways.to_m365 and (to_m365 or to_m365_exc):
        wrote = True
        yield SeriesToM365(
            link=link,
            activity=activity,
            item=item_from_activity(activity),
            fields=frozenset(to_m365),
            pattern=to_m365_pattern,
            exceptions=to_m365_exc,
            only=to_m365_only,
        )
    if wrote:
        return
    changed = bool(m_fields or e_fields or m_pattern or e_pattern or m_exc or e_exc)
    tracking = view is not None and (
        remembered_ids(view) != memo.occurrence_ids or known_after(view, link.series, reset=m_pattern) != memo.known
    )
    if changed or tracking:
        yield SeriesSeen(link=link, view=view, activity=activity, reset=m_pattern)


# --- an ERP without series -----------------------------------------------------------------------------


def _by_occurrence(run: RunInput, index: Index) -> SeriesDispatch:
    removed = {e.event_id for e in run.m365_changes if e.event is None}
    events = {e.event_id: e.event for e in run.m365_changes if e.event is not None}
    gone: dict[str, list[Link]] = {}
    rebound: list[Link] = []
    for link in run.links:
        if link.state is LinkState.ACTIVE and link.series_master_id and link.event_id in removed:
            current = index.by_activity.get(link.activity_id or "")
            if current is not None and current.event_id != link.event_id:
                continue  # already following a new copy of its meeting (the planner's Rebind, R10)
            gone.setdefault(link.series_master_id, []).append(link)
    # A link that follows its occurrence (the planner's Rebind: a series moved within its days keeps its
    # occurrences' iCalUIds; or an earlier run that died before this) names its new original start too.
    for shown in events.values():
        known = index.by_event.get(shown.id)
        if known is not None and known.series_master_id and shown.original_start not in (None, known.original_start):
            rebound.append(known.evolve({"original_start": shown.original_start}))
    if rebound:
        index = _following(index, rebound)
    fresh: dict[str, list[M365Event]] = {}
    for entry in run.m365_changes:
        event = entry.event
        if event is None or not event.series_master_id or event.is_cancelled or event.id in index.by_event:
            continue
        if _made_before_a_crash(run, event):
            continue  # R10: its activity exists (a crash lost its link): the usual table relinks it, none follows it
        fresh.setdefault(event.series_master_id, []).append(event)
    actions: list[Action] = [FollowOccurrence(link=link) for link in rebound]
    if not gone or not fresh:
        return SeriesDispatch(tuple(actions), index, frozenset(), frozenset())
    by_event, by_activity = dict(index.by_event), dict(index.by_activity)
    followed: set[str] = set()
    for master_id, links in gone.items():
        olds = sorted(links, key=lambda link: link.original_start or _EARLIEST)
        news = sorted(fresh.get(master_id, []), key=lambda e: e.original_start or e.start)
        for old, new in zip(olds, news, strict=False):
            moved = old.evolve({"event_id": new.id, "ical_uid": new.ical_uid, "original_start": new.original_start})
            actions.append(FollowOccurrence(link=moved))
            by_event.pop(old.event_id or "", None)
            by_event[new.id] = moved
            if moved.activity_id:
                by_activity[moved.activity_id] = moved
            followed.add(old.event_id or "")
    return SeriesDispatch(
        tuple(actions), Index(by_event=by_event, by_activity=by_activity), frozenset(followed), frozenset()
    )


def _following(index: Index, links: Sequence[Link]) -> Index:
    """The run's links with ``links`` in place of the ones with their ids."""
    by_event, by_activity = dict(index.by_event), dict(index.by_activity)
    for link in links:
        by_event[link.event_id or ""] = link
        if link.activity_id:
            by_activity[link.activity_id] = link
    return Index(by_event=by_event, by_activity=by_activity)


def _made_before_a_crash(run: RunInput, event: M365Event) -> bool:
    """Whether this mailbox already made the occurrence's activity (its claim names it) and lost the link."""
    claim = run.meetings.get(event.ical_uid or "")
    return claim is not None and claim.owner_user_id == run.user_id and claim.activity_id is not None
