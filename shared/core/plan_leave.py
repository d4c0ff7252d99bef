"""The leave decision table (R30, pure): given the leave requests a run looks at and the leave events that
changed in the mailbox, what to write to the calendar. The ERP owns every leave request; nothing here ever
writes to the ERP.

| request            | no live event                  | its event, unchanged     | its event edited/deleted in Outlook |
|--------------------|--------------------------------|--------------------------|-------------------------------------|
| approved           | create (R4: unless long ended) | ERP changed: update      | put back (update / create again)    |
| requested          | nothing (never shown)          | -                        | -                                   |
| rejected/cancelled | nothing                        | delete (R4: not initial) | delete                              |
| removed            | nothing                        | delete                   | delete                              |

An event of ours found without its link (a crash between the create and the link) is adopted when its
request shows, deleted otherwise. R11: most of the user's leave events removed at once halts the plan.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.core.actions import Skip
from shared.core.activities import LeaveRequest, LeaveStatus
from shared.core.fingerprint import fingerprint
from shared.core.items import Side
from shared.core.leave import (
    AdoptLeaveEvent,
    CreateLeaveEvent,
    DeleteLeaveEvent,
    LeaveAction,
    UpdateLeaveEvent,
    differing,
    event_fingerprint,
    is_leave_key,
    leave_id_of,
    leave_item,
    leave_key,
    shows,
)
from shared.core.links import Link, LinkState
from shared.core.m365 import DeltaEntry
from shared.core.policy import SyncPolicy

LeavePlanned = LeaveAction | Skip


@dataclass(frozen=True, kw_only=True)
class LeaveRunInput:
    """One user's leave run: the requests looked at (by id; None when removed from the ERP), the user's leave
    links and the leave events that changed in the mailbox (removals confirmed by a direct read, R9)."""

    user_id: str
    requester_zone: str
    policy: SyncPolicy
    now: datetime
    links: Sequence[Link]
    requests: Mapping[str, LeaveRequest | None]
    events: Sequence[DeltaEntry] = ()
    # R4: the first read of the leave feed (a snapshot) never deletes anything.
    erp_initial: bool = False
    # R11: a person released the halted removal of these leave events (status page): let it through once.
    removals_released: bool = False


@dataclass(frozen=True)
class LeavePlan:
    actions: tuple[LeavePlanned, ...] = ()
    # R11: set when the ERP reported most of the user's leave events' requests gone at once; nothing is written.
    halted: str | None = None


def plan_leave(run: LeaveRunInput) -> LeavePlan:
    """The calendar writes that make the mailbox show the user's approved leave, and only that (R30)."""
    by_key = {link.activity_id: link for link in run.links if link.activity_id}
    by_event = {link.event_id: link for link in run.links if link.event_id}
    events: dict[str, list[DeltaEntry]] = {}
    for entry in {e.event_id: e for e in run.events}.values():  # the last report of an event wins
        link = by_event.get(entry.event_id)
        key = link.activity_id if link is not None else (entry.event.erp_stamp if entry.event else None)
        if key is not None and is_leave_key(key):
            events.setdefault(leave_id_of(key), []).append(entry)
    actions: list[LeavePlanned] = []
    for leave_id in sorted(set(run.requests) | set(events)):
        link = by_key.get(leave_key(leave_id))
        actions.extend(_decide(run, leave_id, run.requests.get(leave_id), link, events.get(leave_id, [])))
    halted = _mass_removal(run.policy, run.links, actions)
    if halted and not run.removals_released:
        return LeavePlan(halted=halted)
    return LeavePlan(actions=tuple(actions))


def _decide(
    run: LeaveRunInput, leave_id: str, leave: LeaveRequest | None, link: Link | None, entries: list[DeltaEntry]
) -> Iterator[LeavePlanned]:
    live = link if link is not None and link.state is LinkState.ACTIVE and link.event_id else None
    mine = next((e for e in entries if live is not None and e.event_id == live.event_id), None)
    strays = [e for e in entries if e is not mine and e.event is not None]
    if not shows(leave):
        if live is not None and run.erp_initial:
            yield Skip(side=Side.ERP, record_id=leave_key(leave_id), reason="initial pull never deletes (R4)")
        elif live is not None and live.event_id:
            reason = "removed in the ERP" if leave is None else f"{leave.status.value} in the ERP (R30)"
            yield DeleteLeaveEvent(leave_request_id=leave_id, event_id=live.event_id, link=live, reason=reason)
        elif link is None and leave is not None and leave.status is LeaveStatus.REQUESTED:
            yield Skip(side=Side.ERP, record_id=leave_key(leave_id), reason="not approved yet (R30)")
        yield from _drop_strays(leave_id, strays)
        return
    assert leave is not None  # narrowed by shows()
    item = leave_item(leave, requester_zone=run.requester_zone, private=run.policy.leave_private)
    if mine is not None and mine.event is None:
        live = None  # R30: deleted in Outlook, but the ERP says it shows: put back
    if live is None:
        if not strays and item.end < run.now - timedelta(hours=run.policy.erp_lookback_hours):
            yield Skip(side=Side.ERP, record_id=leave_key(leave_id), reason="ended more than the look-back ago (R4)")
            return
        if strays:
            adopted, *others = strays
            assert adopted.event is not None
            theirs = event_fingerprint(adopted.event, run.policy.conflict_category)
            fields = differing(theirs, fingerprint(item))
            yield AdoptLeaveEvent(event=adopted.event, leave=leave, item=item, link=link, fields=fields)
            yield from _drop_strays(leave_id, others)
            return
        yield CreateLeaveEvent(leave=leave, item=item, link=link)
        return
    changed = differing(fingerprint(item), live.erp_fields)
    if mine is not None and mine.event is not None:  # R30: an Outlook edit is put back as the ERP says
        changed |= differing(event_fingerprint(mine.event, run.policy.conflict_category), live.m365_fields)
    if changed:
        yield UpdateLeaveEvent(link=live, leave=leave, item=item, fields=changed)
    yield from _drop_strays(leave_id, strays)


def _drop_strays(leave_id: str, strays: Sequence[DeltaEntry]) -> Iterator[DeleteLeaveEvent]:
    """Events of ours for this request that no link holds (a crash, a copy): the request has one event."""
    for entry in strays:
        yield DeleteLeaveEvent(
            leave_request_id=leave_id,
            event_id=entry.event_id,
            link=None,
            reason="a second event for one leave request",
            vanished_on=None,
        )


def _mass_removal(policy: SyncPolicy, links: Sequence[Link], actions: Sequence[LeavePlanned]) -> str | None:
    """R11, as for activities: most of the user's leave events removed by one read of the ERP is an accident
    until a person says otherwise."""
    active = sum(1 for link in links if link.state is LinkState.ACTIVE)
    removals = sum(1 for a in actions if isinstance(a, DeleteLeaveEvent) and a.vanished_on is Side.ERP)
    if removals >= policy.mass_delete_minimum and active and removals / active > policy.mass_delete_ratio:
        return f"the ERP reported {removals} of {active} leave requests gone at once (R11)"
    return None
