"""Executors of the actions that write to the calendar: create (and claim the meeting it starts), update,
delete, and a person's answer given on their copy. Each stores what ``core.records`` says."""

from __future__ import annotations

import uuid

from shared.core import records
from shared.core.actions import Action, AnswerInOutlook, CreateEvent, DeleteEvent, Relink, UpdateEvent
from shared.core.fingerprint import fingerprint
from shared.core.items import Field, Side
from shared.core.m365 import M365Event
from shared.core.mapping import event_write
from shared.core.meetings import Meeting, outside_of, shared
from shared.core.plan_m365 import removal_for
from shared.core.run import Ways
from shared.errors import GraphNotFound, StateConflict
from shared.sync.context import RunContext

_NAMESPACE = uuid.UUID("0f5b9a9e-6c1e-4c55-a3e4-2f6a4b7d9c10")


async def create_event(action: CreateEvent, run: RunContext) -> list[Action]:
    activity, item = action.activity, action.item
    write = event_write(
        item,
        tuple(f for f in Field if action.invite or f is not Field.ATTENDEES),
        origin=Side.ERP,
        company_name=await run.company_name(activity),
        web_url=activity.web_url,
        contact_lines=await run.contact_lines(activity),
        erp_stamp=activity.id,
        transaction_id=str(uuid.uuid5(_NAMESPACE, f"{run.mailbox.lower()}|{activity.id}")),
    )
    earlier = (await run.made_before()).get(activity.id)
    if earlier is not None:
        # R10: this mailbox made an event for the activity before, and a crash lost its link (the run's note of
        # the events it made says which: shared/state/events_made.py).
        try:
            found: M365Event | None = await run.ports.calendar.get_event(run.mailbox, earlier)
        except GraphNotFound:
            found = None
        if found is not None and not found.is_cancelled:
            return [Relink(event_id=found.id, activity_id=activity.id, origin=Side.ERP)]
        # R8: a person deleted that event before the sync could link it: a deletion like any other.
        orphan = await run.save(
            records.orphan(
                user_id=run.user.id, link_id=str(uuid.uuid4()), activity=activity, origin=Side.ERP, now=run.now()
            )
        )
        return [removal_for(run.ports.policy, orphan, Ways.for_user(run.ports.policy, run.mailbox, run.user.id))]
    event = await run.ports.calendar.create_event(run.mailbox, write)
    run.wrote_m365 = True
    await run.note_made({activity.id: event.id})  # a batch noted its events already (batch_writes)
    # R10: an event that invites nobody but the activity's customer contacts and rooms is a meeting no other
    # synced mailbox can hold: no claim until it invites someone else (core.plan_claims). A retried create
    # returns the first event (same transactionId, graph-facts §3).
    claims = shared(
        is_organizer=True, attendees=write.attendees or (), mailbox=run.mailbox, outside=outside_of(activity)
    )
    if claims:
        await claim_created(run, event.ical_uid, activity.id)
    await run.save(
        records.paired(
            user_id=run.user.id,
            link_id=str(uuid.uuid4()),
            origin=Side.ERP,
            event=event,
            activity=activity,
            policy=run.ports.policy,
            now=run.now(),
            erp_fields=fingerprint(item),
            claimed=claims,
        )
    )
    run.report.count("m365 created")
    return []


async def claim_created(run: RunContext, ical_uid: str | None, activity_id: str) -> Meeting | None:
    """R10: the meeting this mailbox's event carries is its own; copies in other mailboxes link to it. The
    claim as stored afterwards (None without an iCalUId)."""
    if not ical_uid:
        return None
    state = run.ports.state
    claim = records.claim(
        ical_uid=ical_uid, user_id=run.user.id, mailbox=run.mailbox, activity_id=activity_id, now=run.now()
    )
    try:
        claimed = await state.claim_meeting(claim)
    except StateConflict:
        # The activity's earlier event (made before a crash, then deleted) still holds its claim: it moves to
        # this event, so later runs do not fail on it (R10).
        earlier = await state.meeting_by_activity(activity_id)
        if earlier is None or earlier.owner_user_id != run.user.id or earlier.ical_uid == ical_uid:
            raise
        await state.delete_meeting(earlier)
        claimed = await state.claim_meeting(claim)
    if claimed is not None:
        return claimed
    existing = await state.get_meeting(ical_uid)
    if existing is not None and existing.activity_id is None and existing.owner_user_id == run.user.id:
        return await state.save_meeting(
            records.claimed_with(existing, activity_id=activity_id, now=run.now()), read=existing
        )
    return existing


async def update_event(action: UpdateEvent, run: RunContext) -> None:
    link = run.current(action.link)
    assert link.event_id is not None
    activity = action.activity
    write = event_write(
        action.item,
        action.fields,
        origin=link.origin,
        company_name=await run.company_name(activity) if Field.SUBJECT in action.fields else None,
        web_url=activity.web_url,
        contact_lines=await run.contact_lines(activity),
    )
    written = await run.ports.calendar.update_event(run.mailbox, link.event_id, write)
    run.wrote_m365 = True
    await run.save(
        records.after_event_update(
            link,
            item=action.item,
            fields=action.fields,
            activity=activity,
            written=written,
            policy=run.ports.policy,
            now=run.now(),
        )
    )
    run.report.count("m365 updated")


async def delete_event(action: DeleteEvent, run: RunContext) -> None:
    link = run.current(action.link)
    if link.event_id:
        await run.ports.calendar.delete_event(run.mailbox, link.event_id)
        run.wrote_m365 = True
    await run.save(records.retired(link, now=run.now()))
    run.report.count("m365 deleted")


async def answer_in_outlook(action: AnswerInOutlook, run: RunContext) -> None:
    """R27: the answer set in the ERP is given on the person's copy, without a response mail."""
    link = run.current(action.link)
    assert link.event_id is not None
    try:
        await run.ports.calendar.respond(run.mailbox, link.event_id, action.response)
    except GraphNotFound:
        await run.save(records.retired(link, now=run.now()))
        return
    run.wrote_m365 = True
    await run.save(records.answered(link, response=action.response, erp_version=None, now=run.now()))
    run.report.count("m365 answered")
