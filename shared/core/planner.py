"""The decision table: given what changed on each side and the stored links, what to do (pure).

One public function, ``plan``. It reads no clock (``now`` is an input) and does no I/O; the engine feeds it
one user's run (``RunInput``) and executes the actions it returns, in order. The table, by what changed
and what the run's link for it says (each case's code lives in the module named):

| changed               | no link                           | owner's link                     | copy's link         |
|-----------------------|-----------------------------------|----------------------------------|---------------------|
| M365 event, new/edit  | create activity (claim first),    | update activity or remember;     | answer in ERP;      |
|                       | link as copy, take over, wait,    | declined/cancelled: void (R27)   | cancelled: retire   |
|                       | relink, skip (plan_m365,          | (plan_m365.m365_side)            | (plan_copies)       |
|                       | plan_copies.new_meeting_event)    |                                  |                     |
| M365 event gone (R9)  | nothing                           | void or detach (R8)              | retire              |
| ERP activity new/edit | create event, relink, skip        | update event or remember; owner  | answer in Outlook   |
|                       | (plan_erp.new_activity)           | changed: demote (plan_erp)       | (plan_copies)       |
| ERP voided/removed    | nothing                           | delete event or detach (R8)      | retire              |
| both sides            | -                                 | field by field, latest wins (R6, | latest answer wins  |
|                       |                                   | plan_merge); declined: void      | (R27)               |

A link that is retired or detached only absorbs late echoes (skip). R11's guard (``guards``) halts a plan
that would remove most of the user's items at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from shared.core.actions import Action, AnswerInOutlook, Demote, Plan, Rebind, Relink
from shared.core.activities import ActivityChange
from shared.core.guards import REMOVALS, mass_delete_check
from shared.core.items import Side
from shared.core.links import Link, LinkState
from shared.core.m365 import DeltaEntry
from shared.core.meetings import ANSWERS, LinkRole, answer
from shared.core.plan_claims import claims_first
from shared.core.plan_copies import copy_changed
from shared.core.plan_erp import erp_side
from shared.core.plan_m365 import ended_for_owner, m365_side, own_answer
from shared.core.plan_merge import merge_both
from shared.core.plan_series import plan_series
from shared.core.run import Index, RunInput, Ways, erp_gone

__all__ = ["Plan", "RunInput", "plan"]


def plan(run: RunInput) -> Plan:
    """The actions that bring both sides together for one user (R1, R4-R11, R20-R27)."""
    index = Index.of(run.links)
    ways = Ways.of(run)
    erp_by_activity = {c.activity_id: c for c in _dedupe_erp(run.erp_changes)}
    m365_by_event = {e.event_id: e for e in run.m365_changes}
    rebinds, index, replaced = _rebinds(run, index)
    series = plan_series(run, index, ways)  # R28: series and their occurrences (plan_series), taken out below
    index, replaced = series.index, set(replaced) | series.events
    actions: list[Action] = [*rebinds, *series.actions]
    handled: set[str] = set(series.activities)  # activities whose change was planned together with their event's
    born_here = _born_here(run, index)
    for entry in _dedupe(run.m365_changes):
        if entry.event_id in replaced:
            continue  # its link now follows the copy that replaced it (Rebind)
        link = index.by_event.get(entry.event_id)
        if link is None and entry.event is not None and entry.event_id in born_here:
            handled.add(born_here[entry.event_id])
            actions.append(Relink(event_id=entry.event_id, activity_id=born_here[entry.event_id], origin=Side.M365))
            continue
        other = erp_by_activity.get(link.activity_id) if link and link.activity_id else None
        if link is not None and link.role is LinkRole.COPY:
            if other is not None:
                handled.add(other.activity_id)
            actions.extend(copy_changed(run, entry, link, other))
            continue
        event = entry.event
        if (
            link is not None
            and link.state is LinkState.ACTIVE
            and other is not None
            and other.activity is not None
            and not erp_gone(other)
            and other.activity.owner_id != run.user_id
        ):
            # R10: the organizer's mailbox took this meeting over: this copy is a copy from now on, in this run too
            # (its cancel or decline is its own, never the meeting's).
            handled.add(other.activity_id)
            actions.append(Demote(link=link, activity=other.activity))
            actions.extend(copy_changed(run, entry, link.evolve({"role": LinkRole.COPY}), other))
            continue
        if (
            other is not None
            and other.activity is not None
            and not erp_gone(other)
            and other.activity.owner_id == run.user_id  # otherwise taken over elsewhere: the ERP side demotes
            and link is not None
            and link.state is LinkState.ACTIVE
            and event is not None
        ):
            handled.add(other.activity_id)
            if ended_for_owner(event):  # R27: a decline or cancel voids, whatever the ERP changed meanwhile
                actions.extend(m365_side(run, entry, link, ways))
            else:
                actions.extend(own_answer(event, link, ways))
                actions.extend(merge_both(run.policy, link, event, other.activity, ways))
            continue
        planned = list(m365_side(run, entry, link, ways, erp_voided=other is not None and erp_gone(other)))
        # R10: an activity this event is relinked to is handled with it, never created again from the ERP side.
        handled.update(a.activity_id for a in planned if isinstance(a, Relink))
        actions.extend(planned)
    for change in erp_by_activity.values():
        if change.activity_id in handled:
            continue
        link = index.by_activity.get(change.activity_id)
        if _both_removed(link, change, m365_by_event):
            continue  # both sides removed it; the M365 branch already retires the link
        actions.extend(erp_side(run, change, link, index, ways))
    ordered = claims_first(run, index, actions)  # R10: a meeting gaining attendees is claimed before anything
    halted = mass_delete_check(run.policy, run.links, ordered)
    if halted and not run.removals_released:
        return Plan(actions=tuple(a for a in ordered if not isinstance(a, REMOVALS)), halted=halted)
    return Plan(actions=ordered)


def _rebinds(run: RunInput, index: Index) -> tuple[list[Action], Index, set[str]]:
    """R10: a linked copy that was cancelled or removed while a new, live copy of the same meeting (same
    iCalUId) appeared in this mailbox (taken off and invited again): the link moves to the new copy, which is
    then planned as that link's change; nothing is voided, retired or created."""
    fresh = {
        e.event.ical_uid: e.event
        for e in run.m365_changes
        if e.event is not None and e.event.ical_uid and not e.event.is_cancelled and e.event_id not in index.by_event
    }
    rebinds: list[Action] = []
    by_event, by_activity = dict(index.by_event), dict(index.by_activity)
    replaced: set[str] = set()
    for entry in run.m365_changes:
        link = index.by_event.get(entry.event_id)
        gone = entry.event is None or entry.event.is_cancelled
        if link is None or link.state is not LinkState.ACTIVE or not gone or link.ical_uid not in fresh:
            continue
        new = fresh.pop(link.ical_uid)
        moved = link.evolve({"event_id": new.id})
        rebinds.append(Rebind(link=moved))
        if not new.is_organizer and answer(new.response) == "none" and link.response in ANSWERS:
            # The new invitation has no answer yet: the person's answer is given on it again (R27).
            rebinds.append(AnswerInOutlook(link=moved, response=link.response))
        by_event[new.id] = moved
        by_activity[moved.activity_id or ""] = moved
        replaced.add(entry.event_id)
    if not replaced:
        return [], index, set()
    return rebinds, Index(by_event=by_event, by_activity=by_activity), replaced


def _born_here(run: RunInput, index: Index) -> dict[str, str]:
    """R10: activities this mailbox's events already gave birth to (a create whose answer was lost)."""
    return {
        c.activity.origin.event_id: c.activity_id
        for c in run.erp_changes
        if c.activity is not None
        and c.activity.origin is not None
        and c.activity.origin.mailbox.lower() == run.mailbox.lower()
        and c.activity_id not in index.by_activity
    }


def _both_removed(link: Link | None, change: ActivityChange, m365_by_event: dict[str, DeltaEntry]) -> bool:
    if link is None or link.event_id not in m365_by_event:
        return False
    return m365_by_event[link.event_id].event is None and erp_gone(change)


def _dedupe(entries: Sequence[DeltaEntry]) -> Iterator[DeltaEntry]:
    """Delta pages may repeat an item (graph-facts §1): the last report of each id wins."""
    latest = {e.event_id: e for e in entries}
    yield from latest.values()


def _dedupe_erp(changes: Sequence[ActivityChange]) -> list[ActivityChange]:
    latest: dict[str, ActivityChange] = {}
    for change in sorted(changes, key=lambda c: c.seq):
        latest[change.activity_id] = change
    return list(latest.values())
