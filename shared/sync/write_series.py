"""Executors of the series actions (R28): an Outlook series made an ERP series activity and the other way
round, changes to either written to the other, occurrences' links following their occurrences. What each
link records is ``core.series_records``' (pure); the values written are ``core.mapping``'s and ``core.series``'.

Graph requests (counted in ``bench/series.py``): creating an Outlook series from the ERP is one POST, one
``/instances`` read to place its exceptions when it has any, one PATCH or DELETE per exception, and one
``/instances`` read to remember its occurrences. Writing an ERP change to a series is one PATCH of the master,
plus the same for its exceptions when they (or the pattern, which resets them in Graph) changed.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

from shared.core import records, series_records
from shared.core.actions import Action
from shared.core.activities import Activity, ActivityPatch, ActivityState, ActivityType, Origin
from shared.core.items import CalendarItem, Field, Side
from shared.core.links import Link
from shared.core.m365 import EventType, EventWrite, M365Event
from shared.core.mapping import activity_fields, activity_patch, event_body, event_title, event_write
from shared.core.plan_series import merge_series
from shared.core.policy import ALL_FIELDS
from shared.core.run import Ways
from shared.core.series import (
    SeriesException,
    SeriesView,
    canonical,
    erp_exceptions,
    m365_exceptions,
    merged_for_erp,
    original_key,
    with_zone,
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
from shared.core.timezones import wall_clock
from shared.errors import ErpConflict, ErpNotFound
from shared.sync.context import RunContext
from shared.sync.write_m365 import claim_created

_NAMESPACE = uuid.UUID("0f5b9a9e-6c1e-4c55-a3e4-2f6a4b7d9c10")  # the same as write_m365's (one create per activity)


def _window(run: RunContext) -> tuple[datetime, datetime]:
    if run.window is not None:
        return run.window
    start = run.now().astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=run.ports.policy.window_days)


# --- Outlook → ERP -------------------------------------------------------------------------------------


async def create_series_activity(action: CreateSeriesActivity, run: RunContext) -> None:
    """R28/R23: one ERP series activity for the Outlook series, its exceptions in the window included."""
    master, item, view = action.master, action.item, action.view
    if master.ical_uid:  # R10: one activity per meeting: the first synced mailbox to claim it makes it
        mine = records.claim(
            ical_uid=master.ical_uid,
            user_id=run.user.id,
            mailbox=run.mailbox,
            activity_id=None,
            now=run.now(),
            source_change_key=master.change_key,  # R10: tells a relink whether Outlook changed the series since
        )
        if await run.ports.state.claim_meeting(mine) is None:
            held = await run.ports.state.get_meeting(master.ical_uid)
            if held is not None and held.owner_user_id != run.user.id:
                run.report.skipped.append(f"m365 {master.id}: a series another mailbox claimed (R10)")
                return
    if not run.meeting_type_ready:
        await run.ports.erp.ensure_activity_type(ActivityType.MEETING)
        run.meeting_type_ready = True
    fields = activity_fields(
        item,
        user=run.user,
        directory=await run.directory(item),
        origin=Origin(mailbox=run.mailbox, event_id=master.id, ical_uid=master.ical_uid),
    )
    exceptions = merged_for_erp(
        None, view, m365_exceptions(view, None, reset=True), time_zone=item.time_zone, fields=ALL_FIELDS
    )
    fields = fields.model_copy(update={"recurrence": canonical(master.recurrence), "exceptions": exceptions})
    key = "m365-" + hashlib.sha256(f"{run.mailbox.lower()}|{master.id}".encode()).hexdigest()[:40]
    activity = await run.ports.erp.create_activity(fields, idempotency_key=key)  # R10: a retry returns the first
    if master.ical_uid:
        await claim_created(run, master.ical_uid, activity.id)
    await run.save(
        series_records.series_paired(
            user_id=run.user.id,
            link_id=str(uuid.uuid4()),
            origin=Side.M365,
            master=master,
            activity=activity,
            view=view,
            item=item,
            policy=run.ports.policy,
            now=run.now(),
        )
    )
    run.report.count("erp series created")


async def series_to_erp(action: SeriesToErp, run: RunContext) -> None:
    link = run.current(action.link)
    assert link.activity_id is not None
    erp = run.ports.erp
    current = await erp.get_activity(link.activity_id)
    patch = activity_patch(
        action.item, action.fields, owner_id=run.user.id, directory=await run.directory(action.item), current=current
    )
    values = patch.model_dump(exclude_unset=True)
    if action.pattern:
        values["recurrence"] = canonical(action.master.recurrence)
    if action.exceptions:
        allowed = run.ports.policy.fields_m365_may_change(link.kind, link.origin)
        found = m365_exceptions(action.view, link.series, reset=action.reset)
        values["exceptions"] = merged_for_erp(
            current, action.view, found, time_zone=action.item.time_zone, fields=allowed, only=action.only
        )
    updated = await _write_erp(run, current, ActivityPatch.model_validate(values))
    await run.save(
        series_records.after_series_to_erp(
            link,
            view=action.view,
            master=action.master,
            item=action.item,
            fields=action.fields,
            pattern=action.pattern,
            exceptions=action.exceptions,
            reset=action.reset,
            updated=updated,
            now=run.now(),
        )
    )
    run.report.count("erp series updated")


async def _write_erp(run: RunContext, current: Activity, patch: ActivityPatch) -> Activity:
    """Write with the version just read; a stale version (the ERP changed meanwhile) is read again once."""
    try:
        return await run.ports.erp.update_activity(current.id, patch, version=current.version)
    except ErpConflict:
        again = await run.ports.erp.get_activity(current.id)
        return await run.ports.erp.update_activity(current.id, patch, version=again.version)


# --- ERP → Outlook -------------------------------------------------------------------------------------


async def create_series_event(action: CreateSeriesEvent, run: RunContext) -> None:
    """R28: one Outlook series (master with the recurrence, in the activity's zone, R12), exceptions applied."""
    activity, item = action.activity, action.item
    assert activity.recurrence is not None
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
    recurrence = canonical(activity.recurrence)
    assert recurrence is not None
    write = write.model_copy(update={"recurrence": with_zone(recurrence, activity.time_zone)})
    master = await run.ports.calendar.create_event(run.mailbox, write)
    run.wrote_m365 = True
    await claim_created(run, master.ical_uid, activity.id)
    view = await _apply_exceptions(run, master, activity, item, Side.ERP, undo_others=False)
    await run.save(
        series_records.series_paired(
            user_id=run.user.id,
            link_id=str(uuid.uuid4()),
            origin=Side.ERP,
            master=master,
            activity=activity,
            view=view,
            item=item,
            policy=run.ports.policy,
            now=run.now(),
        )
    )
    run.report.count("m365 series created")


async def series_to_m365(action: SeriesToM365, run: RunContext) -> None:
    link = run.current(action.link)
    assert link.event_id is not None
    activity, calendar = action.activity, run.ports.calendar
    write = event_write(
        action.item,
        action.fields,
        origin=link.origin,
        company_name=await run.company_name(activity) if Field.SUBJECT in action.fields else None,
        web_url=activity.web_url,
        contact_lines=await run.contact_lines(activity),
    )
    if action.pattern and activity.recurrence is not None:
        recurrence = canonical(activity.recurrence)
        assert recurrence is not None
        write = write.model_copy(update={"recurrence": with_zone(recurrence, activity.time_zone)})
    if write.model_fields_set:
        master = await calendar.update_event(run.mailbox, link.event_id, write)
        run.wrote_m365 = True
    else:
        master = await calendar.get_event(run.mailbox, link.event_id)
    view = None
    if action.exceptions or action.pattern:
        view = await _apply_exceptions(
            run, master, activity, action.item, link.origin, undo_others=True, only=action.only
        )
    await run.save(
        series_records.after_series_to_m365(
            link,
            activity=activity,
            item=action.item,
            fields=action.fields,
            pattern=action.pattern,
            exceptions=action.exceptions or action.pattern,
            written=master,
            view=view,
            policy=run.ports.policy,
            now=run.now(),
        )
    )
    run.report.count("m365 series updated")


async def _apply_exceptions(
    run: RunContext,
    master: M365Event,
    activity: Activity,
    item: CalendarItem,
    origin: Side,
    *,
    undo_others: bool,
    only: frozenset[str] | None = None,
) -> SeriesView:
    """The activity's exceptions from today on (R4: none in the past) on the series' occurrences: a cancelled one
    deleted, a moved or edited one PATCHed (only where the occurrence differs). ``undo_others``: an occurrence
    moved in Outlook that the ERP no longer moves goes back to its place. Returns the series as it is after."""
    calendar, window = run.ports.calendar, _window(run)
    wanted = [
        e
        for e in erp_exceptions(activity)
        if e.original_start >= window[0] and (only is None or original_key(e.original_start) in only)
    ]
    if wanted or undo_others:
        last = max([window[1], *(e.original_start + timedelta(days=1) for e in wanted)])
        occurrences = await calendar.instances(run.mailbox, master.id, start=window[0], end=last)
        by_original = {o.original_start.astimezone(UTC): o for o in occurrences if o.original_start is not None}
        named = {e.original_start for e in wanted}
        for exception in wanted:
            occurrence = by_original.get(exception.original_start)
            if occurrence is None:
                continue  # cancelled already, or no occurrence of the series
            if exception.cancelled:
                await calendar.delete_event(run.mailbox, occurrence.id)
                run.wrote_m365 = True
                continue
            write = await _occurrence_write(run, exception, occurrence, activity, item, origin)
            if write is not None:
                await calendar.update_event(run.mailbox, occurrence.id, write)
                run.wrote_m365 = True
        if undo_others:
            length = master.end - master.start
            for original, occurrence in by_original.items():
                moved = occurrence.type is EventType.EXCEPTION and occurrence.start.astimezone(UTC) != original
                if moved and original not in named and (only is None or original_key(original) in only):
                    tz = activity.time_zone
                    back = EventWrite(
                        start=wall_clock(original, tz), end=wall_clock(original + length, tz), time_zone=tz
                    )
                    await calendar.update_event(run.mailbox, occurrence.id, back)
                    run.wrote_m365 = True
    occurrences = await calendar.instances(run.mailbox, master.id, start=window[0], end=window[1])
    return SeriesView(
        master_id=master.id, master=master, instances=tuple(occurrences), window_start=window[0], window_end=window[1]
    )


async def _occurrence_write(
    run: RunContext,
    exception: SeriesException,
    occurrence: M365Event,
    activity: Activity,
    item: CalendarItem,
    origin: Side,
) -> EventWrite | None:
    """What an occurrence needs to show the ERP's exception (R19/R21 titles and bodies), None when it does."""
    tz = activity.time_zone
    values: dict[str, object] = {}
    if (
        exception.start is not None
        and exception.end is not None
        and (occurrence.start.astimezone(UTC) != exception.start or occurrence.end.astimezone(UTC) != exception.end)
    ):
        values.update(start=wall_clock(exception.start, tz), end=wall_clock(exception.end, tz), time_zone=tz)
    if exception.subject is not None:
        title = event_title(
            item.model_copy(update={"subject": exception.subject}),
            origin=origin,
            company_name=await run.company_name(activity),
        )
        if title != occurrence.subject:
            values["subject"] = title
    if exception.body is not None:
        body = event_body(item.model_copy(update={"body": exception.body}), origin=origin, web_url=activity.web_url)
        if body.strip() != occurrence.body.strip():
            values["body"] = body
    if exception.location is not None and exception.location != occurrence.location:
        values["location"] = exception.location
    return EventWrite.model_validate(values) if values else None


# --- remembering ---------------------------------------------------------------------------------------


async def series_seen(action: SeriesSeen, run: RunContext) -> None:
    link = run.current(action.link)
    await run.save(
        series_records.series_seen(
            link, view=action.view, activity=action.activity, reset=action.reset, policy=run.ports.policy, now=run.now()
        )
    )


async def relink_series(action: RelinkSeries, run: RunContext) -> list[Action]:
    """R10/R28: pair a series and its series activity again after a crash, then merge what differs (R6)."""
    try:
        activity = await run.ports.erp.get_activity(action.activity_id)
    except ErpNotFound:
        run.report.skipped.append(f"relink series {action.master.id}: the activity is gone")
        return []
    if activity.state is ActivityState.VOIDED:
        run.report.skipped.append(f"relink series {action.master.id}: the activity is voided")
        return []
    claim = await claim_created(run, action.master.ical_uid, activity.id)
    policy = run.ports.policy
    link = records.relinked(
        user_id=run.user.id,
        link_id=str(uuid.uuid4()),
        origin=action.origin,
        event=action.master,
        activity=activity,
        policy=policy,
        now=run.now(),
        source_change_key=claim.source_change_key if claim is not None and action.origin is Side.M365 else None,
    )
    # The activity changed since it was made (a person's edit; one made from the ERP: unknown): both sides' count.
    edited = action.origin is Side.ERP or activity.version > 1
    memo = series_records.relinked_memo(action.view, activity, erp_edited=edited)
    link = await run.save(link.evolve({"series": memo}))
    run.report.count("series relinked")
    ways = Ways.for_user(policy, run.mailbox, run.user.id)
    return list(merge_series(policy, link, action.view, activity, ways))


async def follow_occurrence(action: FollowOccurrence, run: RunContext) -> None:
    """R28 (ERP without series): the link names the occurrence's new id; its change is planned after this."""
    moved: Link = run.current(action.link).evolve(
        {
            "event_id": action.link.event_id,
            "ical_uid": action.link.ical_uid,
            "original_start": action.link.original_start,
        }
    )
    await run.save(series_records.followed(moved, now=run.now()))
    run.report.count("occurrences followed")
