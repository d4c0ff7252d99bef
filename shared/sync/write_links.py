"""Executors of the actions that mostly pair records: relink after a crash, remember, detach, a copy of a
meeting linked or retired, an owner's link demoted, a copy waiting for its owner, a meeting claimed once it
has attendees. ``core.records`` says
what each link records."""

from __future__ import annotations

import uuid

from shared.core import records
from shared.core.actions import (
    Action,
    ClaimMeeting,
    Demote,
    DetachLink,
    LinkCopy,
    Rebind,
    Relink,
    Remember,
    RetireCopy,
    Skip,
    VoidActivity,
    Wait,
)
from shared.core.activities import ActivityState
from shared.core.items import Side
from shared.core.meetings import ANSWERS, answer, participant_answer, with_answer
from shared.core.plan_merge import after_relink
from shared.core.run import Ways
from shared.errors import ErpNotFound, GraphNotFound, MeetingHeldElsewhere
from shared.state.model import IssueKind
from shared.sync import issues
from shared.sync.context import RunContext
from shared.sync.write_m365 import claim_created


async def relink(action: Relink, run: RunContext) -> list[Action]:
    """R10: both records exist (a crash fell between a write and saving its link): pair them, then merge what
    differs. An activity made from an event that is gone since is voided (R8)."""
    try:
        activity = await run.ports.erp.get_activity(action.activity_id)
    except ErpNotFound:
        run.report.skipped.append(f"relink {action.event_id}: the activity is gone")
        return []
    try:
        event = await run.ports.calendar.get_event(run.mailbox, action.event_id)
    except GraphNotFound:
        if action.origin is not Side.M365 or activity.state is ActivityState.VOIDED:
            run.report.skipped.append(f"relink {action.event_id}: the event is gone")
            return []
        orphan = await run.save(
            records.orphan(
                user_id=run.user.id, link_id=str(uuid.uuid4()), activity=activity, origin=Side.M365, now=run.now()
            )
        )
        return [VoidActivity(link=orphan, reason="its event was deleted before the relink (R8)")]
    source = None
    if activity.owner_id == run.user.id:
        claim = await claim_created(run, event.ical_uid, activity.id)
        source = claim.source_change_key if claim is not None else None
    link = await run.save(
        records.relinked(
            user_id=run.user.id,
            link_id=str(uuid.uuid4()),
            origin=action.origin,
            event=event,
            activity=activity,
            policy=run.ports.policy,
            now=run.now(),
            source_change_key=source,
        )
    )
    run.report.count("relinked")
    ways = Ways.for_user(run.ports.policy, run.mailbox, run.user.id)
    return after_relink(run.ports.policy, link, event, activity, ways)


async def rebind(action: Rebind, run: RunContext) -> None:
    """R10: the link follows the copy of the meeting that replaced the one it named."""
    await run.save(run.current(action.link).evolve({"event_id": action.link.event_id}))
    run.report.count("relinked to a new copy")


async def remember(action: Remember, run: RunContext) -> None:
    link = run.current(action.link)
    await run.save(
        records.remembered(link, event=action.event, activity=action.activity, policy=run.ports.policy, now=run.now())
    )


async def detach(action: DetachLink, run: RunContext) -> None:
    await run.save(records.detached(run.current(action.link), now=run.now()))
    run.report.count("detached")


async def link_copy(action: LinkCopy, run: RunContext) -> None:
    """R10/R27: this mailbox's copy joins the meeting's one activity; the person's answer is made equal."""
    event, meeting = action.event, action.meeting
    assert meeting.activity_id is not None
    try:
        activity = await run.ports.erp.get_activity(meeting.activity_id)
    except ErpNotFound:
        activity = None
    if activity is None or activity.state is ActivityState.VOIDED:
        run.report.skipped.append(f"m365 {event.id}: copy of a meeting whose activity is gone")
        return
    # None: not a participant (yet). When the organizer's mailbox owns the meeting, either its run adds the
    # person from its attendees, and their answer then fills the new row (R27), or the ERP took them off, and
    # that run takes them off the meeting (R6): writing their row here would undo that removal. When an
    # attendee owns it (the organizer is outside), nobody can take them off in Outlook: their row is written.
    theirs = participant_answer(activity, run.user.id, run.mailbox)
    by_organizer = meeting.owner_mailbox.lower() == (event.organizer_email or "").lower()
    mine = answer(event.response)
    response = mine
    answered_here = theirs is not None and mine in ANSWERS and mine != theirs
    if (answered_here or (theirs is None and not by_organizer)) and not activity.read_only:
        patch = with_answer(
            activity, user_id=run.user.id, mailbox=run.mailbox, name=run.user.display_name, response=mine
        )
        activity = await run.ports.erp.update_activity(activity.id, patch, version=activity.version)
    elif mine not in ANSWERS and theirs is not None and theirs in ANSWERS:
        await run.ports.calendar.respond(run.mailbox, event.id, theirs)
        run.wrote_m365 = True
        response = theirs
    await run.save(
        records.copied(
            user_id=run.user.id,
            link_id=str(uuid.uuid4()),
            event=event,
            activity=activity,
            response=response,
            now=run.now(),
        )
    )
    run.report.count("copies linked")


async def retire_copy(action: RetireCopy, run: RunContext) -> None:
    await run.save(records.retired(run.current(action.link), now=run.now()))
    run.report.count("copies retired")


async def demote(action: Demote, run: RunContext) -> None:
    link = run.current(action.link)
    await run.save(records.demoted(link, activity=action.activity, mailbox=run.mailbox, now=run.now()))
    run.report.count("demoted to copy")


async def wait(action: Wait, run: RunContext) -> None:
    """R10/R31: offered again on every run (as an open issue) until the owner's activity exists."""
    await issues.record(run, issues.key_of(action), IssueKind.WAITING, action.reason, event_id=action.event.id)


async def skip(action: Skip, run: RunContext) -> None:
    run.report.skipped.append(f"{action.side.value} {action.record_id}: {action.reason}")


async def claim_meeting(action: ClaimMeeting, run: RunContext) -> None:
    """R10: the owner's meeting, made with nobody invited, has (or is about to get) attendees: its claim names
    this mailbox and the link's activity, before any colleague's copy looks for it."""
    link = run.current(action.link)
    if link.claimed or not link.ical_uid or not link.activity_id:
        return
    claim = await claim_created(run, link.ical_uid, link.activity_id)
    if claim is not None and (claim.owner_user_id, claim.activity_id) != (run.user.id, link.activity_id):
        raise MeetingHeldElsewhere(
            f"another synced mailbox (user {claim.owner_user_id}) made activity {claim.activity_id} for this "
            f"meeting while this person's sync was off; activity {link.activity_id} is a second one (R10)"
        )
    await run.save(records.claim_recorded(link, now=run.now()))
    run.report.count("meetings claimed")
