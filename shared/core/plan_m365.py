"""One side changed: an M365 event (of the owner's copy, or new to the sync) and what the ERP gets (R5, R8,
R9, R23-R27). Copies of meetings another mailbox owns are ``plan_copies``' job."""

from __future__ import annotations

from collections.abc import Iterator

from shared.core.actions import (
    Action,
    AnswerInErp,
    DetachLink,
    Relink,
    Remember,
    Skip,
    UpdateActivity,
    VoidActivity,
)
from shared.core.fingerprint import changed_fields, fingerprint
from shared.core.items import ItemKind, Side
from shared.core.leave import is_leave_key
from shared.core.links import Link, LinkState
from shared.core.m365 import DeltaEntry, EventType, M365Event
from shared.core.mapping import item_from_event
from shared.core.meetings import ANSWERS, answer
from shared.core.plan_copies import after_ended_link, new_meeting_event
from shared.core.plan_create import create_activity
from shared.core.policy import SyncPolicy
from shared.core.run import RunInput, Ways


def m365_side(
    run: RunInput, entry: DeltaEntry, link: Link | None, ways: Ways, *, erp_voided: bool = False
) -> Iterator[Action]:
    """``erp_voided``: the activity was voided or removed in the ERP in the same run (a person's void, final)."""
    event = entry.event
    if link is not None and link.kind is ItemKind.LEAVE:  # R30/R23: the leave sync's (shared/sync/leave.py)
        yield Skip(side=Side.M365, record_id=entry.event_id, reason="a leave event: its leave request owns it (R30)")
        return
    if event is None:
        yield from event_gone(run, entry.event_id, link, ways)
        return
    if event.type is EventType.SERIES_MASTER:
        yield Skip(side=Side.M365, record_id=event.id, reason="series master: its occurrences sync (R28)")
        return
    if link is None:
        yield from new_event(run, event, ways)
        return
    if link.state is not LinkState.ACTIVE:
        yield from after_ended_link(run, event, link)
        return
    if ended_for_owner(event):
        # R27/R8: the owner declined, or the organizer cancelled: the meeting is not shown in the ERP.
        if ways.to_erp and link.activity_id and not run.m365_initial:
            yield VoidActivity(
                link=link,
                reason="declined" if event.response == "declined" else "cancelled",
                # The owning attendee left: the meeting passes on (R10), unless a person voided it (R8).
                ends_claim=not event.is_organizer and not erp_voided,
            )
        return
    yield from own_answer(event, link, ways)
    item = item_from_event(event, kind=link.kind, conflict_category=run.policy.conflict_category)
    changed = changed_fields(fingerprint(item), link.m365_fields)
    if not changed:
        return  # an echo of our own write, or a change in nothing we sync (R5)
    owned = changed & run.policy.fields_m365_may_change(link.kind, link.origin)
    if not ways.to_erp or not owned:
        yield Remember(link=link, event=event)
        return
    yield UpdateActivity(link=link, event=event, item=item, fields=owned)


def own_answer(event: M365Event, link: Link, ways: Ways) -> Iterator[Action]:
    """R27: the owner of a meeting someone outside organises answers it too; their row takes that answer."""
    mine = answer(event.response)
    if ways.to_erp and not event.is_organizer and mine in ANSWERS and mine != (link.response or "none"):
        yield AnswerInErp(link=link, response=mine)


def ended_for_owner(event: M365Event) -> bool:
    """R27: a cancelled meeting, or one its owner declined, is not shown in the ERP."""
    return event.is_cancelled or event.response == "declined"


def event_gone(run: RunInput, event_id: str, link: Link | None, ways: Ways) -> Iterator[Action]:
    if link is None or link.state is not LinkState.ACTIVE:
        return
    if run.m365_initial:
        yield Skip(side=Side.M365, record_id=event_id, reason="initial pull never deletes (R4)")
        return
    yield removal_for(run.policy, link, ways)


def removal_for(policy: SyncPolicy, link: Link, ways: Ways) -> Action:
    """R8: an event deleted in M365 voids its meeting; ERP-born tasks and calls stay in the ERP (detached)."""
    if ways.to_erp and (policy.void_on_event_delete.get(link.kind, False) or link.origin is Side.M365):
        return VoidActivity(link=link, reason="event deleted in M365 (R8)", vanished_on=Side.M365)
    return DetachLink(link=link, vanished_on=Side.M365)


def new_event(run: RunInput, event: M365Event, ways: Ways) -> Iterator[Action]:
    if is_leave_key(event.erp_stamp):  # R23/R30: our leave event (its link lost) is never a meeting
        yield Skip(side=Side.M365, record_id=event.id, reason="a leave event: its leave request owns it (R30)")
        return
    if event.erp_stamp:
        # R10: we wrote this event for an ERP record but never saved the link (crash): pair, don't copy.
        yield Relink(event_id=event.id, activity_id=event.erp_stamp, origin=Side.ERP)
        return
    if event.ical_uid:
        decided = new_meeting_event(run, event, ways)
        if decided is not None:
            yield decided
            return
    yield from create_activity(run.policy, event, ways)


def after_ended_claim(policy: SyncPolicy, event: M365Event, ways: Ways) -> list[Action]:
    """R10/R5: the organizer's copy meets a claim whose activity was voided meanwhile (its attendee owner was
    taken off): the claim is over, and the organizer's live meeting becomes a new activity like any other."""
    return list(create_activity(policy, event, ways))
