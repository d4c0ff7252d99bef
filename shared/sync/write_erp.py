"""Executors of the actions that write to the ERP: create (after claiming the meeting), update, void, a
person's answer, and a meeting taken over by its organizer. Each stores what ``core.records`` says."""

from __future__ import annotations

import hashlib
import uuid

from shared.core import records
from shared.core.actions import (
    Action,
    AnswerInErp,
    CreateActivity,
    Relink,
    TakeOver,
    UpdateActivity,
    VoidActivity,
)
from shared.core.activities import Activity, ActivityPatch, ActivityState, ActivityType, Origin
from shared.core.fingerprint import changed_fields, fingerprint
from shared.core.items import Field, Side
from shared.core.links import Link
from shared.core.mapping import activity_fields, activity_patch
from shared.core.meetings import (
    ANSWERS,
    LinkRole,
    Meeting,
    answer,
    fields_with_answer,
    participant_answer,
    shared,
    with_answer,
)
from shared.core.plan_copies import after_lost_claim
from shared.core.plan_m365 import after_ended_claim
from shared.core.plan_merge import after_relink
from shared.core.run import Ways
from shared.errors import ErpConflict, ErpNotFound, ErpReadOnly
from shared.sync.context import RunContext


async def create_activity(action: CreateActivity, run: RunContext) -> Action | None:
    """R23, R10: claim the meeting, create its activity once, record the claim's activity and the link.

    Returns what to do instead when another mailbox holds the claim."""
    event, item = action.event, action.item
    meeting: Meeting | None = None
    directory = await run.directory(item)
    # R10: a meeting no other synced mailbox can hold (its own, nobody invited but customers and rooms) is not
    # claimed until it invites someone else (core.plan_claims); a retry after a crash finds its first activity
    # by the idempotency key below.
    claims = shared(
        is_organizer=event.is_organizer, attendees=event.attendees, mailbox=run.mailbox, outside=directory.outside()
    )
    if event.ical_uid and claims:
        mine = records.claim(
            ical_uid=event.ical_uid,
            user_id=run.user.id,
            mailbox=run.mailbox,
            activity_id=None,
            now=run.now(),
            source_change_key=event.change_key,
        )
        meeting = await run.ports.state.claim_meeting(mine)
        if meeting is None:
            meeting = await run.ports.state.get_meeting(event.ical_uid)
            if meeting is not None and meeting.owner_user_id != run.user.id:
                return after_lost_claim(event, meeting)
            if meeting is not None and meeting.activity_id:  # created, but the link was never saved (crash)
                return Relink(event_id=event.id, activity_id=meeting.activity_id, origin=Side.M365)
    if not run.meeting_type_ready:  # R23: the planner creates meetings only, so their type must exist
        await run.ports.erp.ensure_activity_type(ActivityType.MEETING)
        run.meeting_type_ready = True
    fields = activity_fields(
        item,
        user=run.user,
        directory=directory,
        origin=Origin(mailbox=run.mailbox, event_id=event.id, ical_uid=event.ical_uid),
    )
    own = answer(event.response)
    if not event.is_organizer and own in ANSWERS:  # R27: the owner answered someone else's meeting
        fields = fields_with_answer(
            fields, user_id=run.user.id, mailbox=run.mailbox, name=run.user.display_name, response=own
        )
    # R10: a retry after a crash sends the same key (the ERP answers with the first create); a meeting that
    # passed back to this person after its activity ended is a new claim, so a new activity.
    generation = f"|{meeting.updated_at.isoformat()}" if meeting is not None else ""
    key = "m365-" + hashlib.sha256(f"{run.mailbox.lower()}|{event.id}{generation}".encode()).hexdigest()[:40]
    activity = await run.ports.erp.create_activity(fields, idempotency_key=key)  # R10: a retry returns the first
    if meeting is not None and meeting.activity_id != activity.id:
        await run.ports.state.save_meeting(
            records.claimed_with(meeting, activity_id=activity.id, now=run.now()), read=meeting
        )
    await run.save(
        records.paired(
            user_id=run.user.id,
            link_id=str(uuid.uuid4()),
            origin=Side.M365,
            event=event,
            activity=activity,
            policy=run.ports.policy,
            now=run.now(),
            m365_fields=fingerprint(item),
            claimed=claims,
        )
    )
    run.report.count("erp created")
    return None


async def _write(run: RunContext, activity_id: str, patch: ActivityPatch, version: int | None) -> Activity:
    """Write with the version last synced; only when the ERP changed meanwhile (stale version) re-read and try
    once more. A read-only record answers ErpReadOnly either way (R7)."""
    for attempt in (1, 2):
        if version is None:
            current = await run.ports.erp.get_activity(activity_id)
            if current.read_only:
                raise ErpReadOnly(f"activity is {current.state.value}", status=409)
            version = current.version
        try:
            return await run.ports.erp.update_activity(activity_id, patch, version=version)
        except ErpConflict:
            if attempt == 2:
                raise
            version = None
    raise AssertionError("unreachable")


async def update_activity(action: UpdateActivity, run: RunContext) -> None:
    link = run.current(action.link)
    assert link.activity_id is not None
    current = None
    if action.fields & {Field.ATTENDEES, Field.RESPONSES}:
        # Attendee changes keep what only the ERP knows: directly linked contacts, people's own answers.
        current = await run.ports.erp.get_activity(link.activity_id)
    patch = activity_patch(
        action.item, action.fields, owner_id=run.user.id, directory=await run.directory(action.item), current=current
    )
    if current is not None and _changes_nothing(patch, current):
        if current.read_only and _still_differs(action, link, current, run):
            # R7: nothing to write, yet the event still differs from the read-only record (e.g. times moved
            # after the close): the conflict stays listed.
            raise ErpReadOnly(f"activity is {current.state.value}", status=409)
        updated = current  # e.g. an answer the ERP holds already: no write, no echo for the others
    else:
        version = current.version if current is not None and not current.read_only else link.erp_version
        updated = await _write(run, link.activity_id, patch, version)
    await run.save(
        records.after_activity_update(
            link, event=action.event, item=action.item, fields=action.fields, updated=updated, now=run.now()
        )
    )
    run.report.count("erp updated")


def _still_differs(action: UpdateActivity, link: Link, current: Activity, run: RunContext) -> bool:
    """Whether the event differs from the activity in a field Outlook may change (R7)."""
    mine = run.ports.policy.fields_m365_may_change(link.kind, link.origin)
    return bool(changed_fields(fingerprint(action.item), records.erp_fingerprint(current)) & mine)


def _changes_nothing(patch: ActivityPatch, current: Activity) -> bool:
    return all(getattr(patch, name) == getattr(current, name) for name in patch.model_fields_set)


async def void_activity(action: VoidActivity, run: RunContext) -> None:
    link = run.current(action.link)
    assert link.activity_id is not None
    try:
        activity = await run.ports.erp.get_activity(link.activity_id)
        if activity.state is not ActivityState.VOIDED:
            if activity.read_only:
                raise ErpReadOnly(f"activity is {activity.state.value}; cannot void it", status=409)
            await run.ports.erp.void_activity(activity.id, version=activity.version)
    except ErpNotFound:
        pass
    if action.ends_claim and link.ical_uid:
        claim = await run.ports.state.get_meeting(link.ical_uid)
        if claim is not None and claim.owner_user_id == run.user.id and claim.activity_id == link.activity_id:
            await run.ports.state.delete_meeting(claim)
    await run.save(records.retired(link, now=run.now()))
    run.report.count("erp voided")


async def answer_in_erp(action: AnswerInErp, run: RunContext) -> None:
    """R27: the person's participant row takes the answer they gave in their copy."""
    link = run.current(action.link)
    assert link.activity_id is not None
    try:
        activity = await run.ports.erp.get_activity(link.activity_id)
    except ErpNotFound:
        await run.save(records.retired(link, now=run.now()))
        return
    if participant_answer(activity, run.user.id, run.mailbox) != action.response:
        if activity.read_only:
            raise ErpReadOnly(f"activity is {activity.state.value}", status=409)
        patch = with_answer(
            activity, user_id=run.user.id, mailbox=run.mailbox, name=run.user.display_name, response=action.response
        )
        activity = await _write(run, activity.id, patch, activity.version)
        run.report.count("erp answered")
    await run.save(records.answered(link, response=action.response, erp_version=activity.version, now=run.now()))


async def take_over(action: TakeOver, run: RunContext) -> list[Action]:
    """R10: the organizer's copy becomes the owner. Only the owner changes; the two records are then merged
    like a relink (fields they agree on are synced, the newer record's wins elsewhere, R6). A claim whose
    activity is gone has ended: the organizer's meeting starts afresh. An activity a person voided in the ERP
    stays voided (R8): the organizer's event is remembered as done with, nothing is made again."""
    meeting, event = action.meeting, action.event
    assert meeting.activity_id is not None
    ways = Ways.for_user(run.ports.policy, run.mailbox, run.user.id)
    try:
        activity = await run.ports.erp.get_activity(meeting.activity_id)
    except ErpNotFound:
        await run.ports.state.delete_meeting(meeting)
        return after_ended_claim(run.ports.policy, event, ways)
    origin = Side.M365 if activity.origin else Side.ERP
    if activity.state is ActivityState.VOIDED:
        done = records.paired(
            user_id=run.user.id,
            link_id=str(uuid.uuid4()),
            origin=origin,
            event=event,
            activity=activity,
            policy=run.ports.policy,
            now=run.now(),
        )
        await run.save(records.retired(done, now=run.now()))
        run.report.skipped.append(f"m365 {event.id}: its meeting was voided in the ERP (R8)")
        return []
    updated = await _write(run, activity.id, ActivityPatch(owner_id=run.user.id), activity.version)
    await run.ports.state.save_meeting(
        records.taken_over(meeting, user_id=run.user.id, mailbox=run.mailbox, now=run.now()), read=meeting
    )
    former = await run.ports.state.link_by_activity(meeting.owner_user_id, activity.id)
    link = await run.save(
        records.succeeding(
            former if former is not None and former.role is LinkRole.OWNER else None,
            user_id=run.user.id,
            link_id=str(uuid.uuid4()),
            origin=origin,
            event=event,
            activity=updated,
            policy=run.ports.policy,
            now=run.now(),
        )
    )
    run.report.count("meetings taken over")
    # The owner change itself is no edit: the merge weighs the activity as it was before it (R6).
    before = updated.model_copy(update={"modified_at": activity.modified_at})
    return after_relink(run.ports.policy, link, event, before, ways)
