"""Reading what a run plans with: the mailbox's calendar changes, the ERP feed, items offered again, the
meeting claims and the copies a run must see (R4, R9, R10, R31). Reads only; nothing here writes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from shared.core.activities import ActivityChange, ErpUser
from shared.core.links import Link, LinkState
from shared.core.m365 import DeltaEntry
from shared.core.mapping import rooms_unresolved, with_booked_rooms
from shared.core.meetings import LinkRole, Meeting, shared
from shared.core.run import erp_gone
from shared.errors import ErpNotFound, GraphNotFound, GraphSyncStateLost
from shared.state.model import DeltaCursor, Issue, IssueKind
from shared.sync.context import Ports, RunContext

log = logging.getLogger(__name__)
# A delta window is renewed (a fresh initial pull, which never deletes) when less than this is left of it.
WINDOW_RENEW_BEFORE = timedelta(days=7)
# Issues whose item is offered again on every run until it syncs (R31, R10).
RETRIED = (IssueKind.REFUSED_ITEM, IssueKind.FAILURE, IssueKind.WAITING)
# Stamped events per page of ``CalendarPort.stamped_events`` (the Graph adapter asks for this many).
STAMPED_PAGE = 500
CLAIM_READS_AT_ONCE = 16  # meeting claims read side by side (point reads of different partitions)


def missing_for_sync(user: ErpUser | None) -> list[str]:
    """R2: what an ERP user lacks to be synced (empty when syncable)."""
    return (
        ([] if user else ["ERP user"])
        + ([] if user and user.enabled else ["enabled"])
        + ([] if user and user.email else ["mailbox address"])
        + ([] if user and user.default_company_id else ["default company"])
        + ([] if user and user.default_location_id else ["default location"])
    )


@dataclass(frozen=True)
class CalendarRead:
    """What a run read of the mailbox: the entries, the cursor to store, and what kind of read it was."""

    entries: list[DeltaEntry]
    cursor: DeltaCursor
    # Events Graph shows were made outside this sync (``DeltaResult.foreign``): no stamp to read on them.
    foreign: frozenset[str]
    # R4: the very first pull of the mailbox; it never deletes anything.
    initial: bool
    # When the stored cursor was saved (None without one): a link saved after it was saved by a run that died
    # before its own cursor (``linked_after``).
    since: datetime | None
    # A fresh pull of the window that replaced a stored token (lost, 410; or a window renewed): a snapshot,
    # so linked events missing from it must be looked at one by one (``missing_from_snapshot``).
    resynced: bool


async def m365_changes(ports: Ports, mailbox: str, now: datetime, window_days: int) -> CalendarRead:
    """The calendar-view delta since the stored token, or a fresh pull of the window (R4) when there is none
    or it is lost."""
    cursor = await ports.state.get_delta_cursor(mailbox)
    result = None
    if cursor is not None and cursor.window_end - now > WINDOW_RENEW_BEFORE:
        try:
            result = await ports.calendar.delta_follow(cursor.delta_link)
        except GraphSyncStateLost:
            log.warning("delta token lost for a mailbox; restarting its window (R4)")
    fresh = result is None
    if result is None:  # R4: from today to the window's end
        start = datetime.combine(now.date(), time.min, tzinfo=now.tzinfo)
        end = start + timedelta(days=window_days)
        result = await ports.calendar.delta_start(mailbox, start=start, end=end)
        window = (start, end)
    else:
        assert cursor is not None
        window = (cursor.window_start, cursor.window_end)
    new_cursor = DeltaCursor(
        mailbox=mailbox,
        delta_link=result.delta_link,
        window_start=window[0],
        window_end=window[1],
        updated_at=now,
        etag=cursor.etag if cursor else None,
    )
    return CalendarRead(
        entries=list(result.entries),
        cursor=new_cursor,
        foreign=result.foreign,
        since=cursor.updated_at if cursor is not None else None,
        initial=fresh and cursor is None,
        resynced=fresh and cursor is not None,
    )


# Up to this many changed records without an active link are looked up one by one (index reads); more (an
# initial pull, a resync) take one query of all the user's ended links instead.
ENDED_LINK_READS = 20


async def ended_links(
    ports: Ports, user_id: str, active: Sequence[Link], m365: Sequence[DeltaEntry], erp: Sequence[ActivityChange]
) -> list[Link]:
    """The retired and detached links of the records this run sees changed, which no active link names: a late
    echo finds its tombstone (R5), a copy its ended link (R10). A run reads the active links only, so a quiet
    run's cost does not grow with history (issue 12); tombstones are read for what changed, never all of them."""
    events = {e.event_id for e in m365} - {link.event_id for link in active}
    activities = {c.activity_id for c in erp} - {link.activity_id for link in active}
    if not events and not activities:
        return []
    if len(events) + len(activities) > ENDED_LINK_READS:
        return [link for link in await ports.state.links_for_user(user_id) if link.state is not LinkState.ACTIVE]
    found: dict[str, Link] = {}
    for event_id in sorted(events):
        link = await ports.state.link_by_event(user_id, event_id)
        if link is not None and link.state is not LinkState.ACTIVE:
            found[link.link_id] = link
    for activity_id in sorted(activities):
        link = await ports.state.link_by_activity(user_id, activity_id)
        if link is not None and link.state is not LinkState.ACTIVE:
            found[link.link_id] = link
    return list(found.values())


async def missing_from_snapshot(
    ports: Ports, mailbox: str, snapshot: Sequence[DeltaEntry], links: Sequence[Link]
) -> list[DeltaEntry]:
    """R9/R4/R32: after a resync, every linked event the fresh snapshot lacks is read directly: gone (404)
    means deleted while the token was dead, and goes through the delete rules (R8, under R11's guard); one
    that still exists moved out of the window, and is offered as it is (a change like any other)."""
    seen = {e.event_id for e in snapshot}
    missing = [
        link.event_id
        for link in links
        if link.state is LinkState.ACTIVE and link.event_id and link.event_id not in seen
    ]
    found = await _read_many(ports, mailbox, missing)
    return [found[event_id] for event_id in missing]


async def linked_after(
    ports: Ports, mailbox: str, entries: Sequence[DeltaEntry], links: Sequence[Link], since: datetime
) -> list[DeltaEntry]:
    """R9/R10: a run that saved links and died before saving its delta cursor leaves the next run on the older
    token, which may never report an event that run made and a person then deleted. Each active link saved
    after the stored cursor (only a run that died leaves one: a run saves its cursor after its last write) and
    not in this delta is read directly: gone means deleted (R8), else it is offered as it is."""
    seen = {e.event_id for e in entries}
    return [
        await _read(ports, mailbox, link.event_id)
        for link in links
        if link.state is LinkState.ACTIVE
        and link.event_id
        and link.event_id not in seen
        and link.updated_at is not None
        and link.updated_at > since
    ]


async def confirmed(
    ports: Ports,
    mailbox: str,
    entries: Sequence[DeltaEntry],
    links: Sequence[Link],
    foreign: frozenset[str] = frozenset(),
) -> list[DeltaEntry]:
    """Delta entries ready to plan: removals confirmed by a direct read (R9), and our ERP stamp read on events
    we have no link for, since delta answers carry no extended properties and Graph refuses ``$expand`` on a
    calendar-view delta (R10; page "event: delta", https://learn.microsoft.com/en-us/graph/api/event-delta).
    A few such events are read one by one; more (an initial pull, a lost token) take one listing of every
    stamped event instead, and a stamp found there is then matched against the links like any other. Events in
    ``foreign`` (made outside the sync, ``DeltaResult.foreign``) cannot carry the stamp and are not looked up."""
    linked = {link.event_id for link in links}
    unknown = {
        e.event_id
        for e in entries
        if e.event is not None
        and e.event_id not in linked
        and e.event_id not in foreign
        and e.event.erp_stamp is None
        and not e.event.series_master_id  # R28: an occurrence carries no stamp; its series' master is read
    }
    # One listing of the stamped events costs a request per STAMPED_PAGE of them (about one per page of
    # links); it replaces one read per unknown event when there are more of those (an initial pull).
    stamps = await ports.calendar.stamped_events(mailbox) if len(unknown) > 1 + len(links) // STAMPED_PAGE else None
    # Removals to confirm and (without the listing) stamps to read: all at once, 20 to a Graph JSON batch.
    to_read = [e.event_id for e in entries if e.removed or (stamps is None and e.event_id in unknown)]
    read = await _read_many(ports, mailbox, to_read)
    out = []
    for entry in entries:
        if stamps is not None and entry.event is not None and entry.event_id in unknown:
            stamp = stamps.get(entry.event_id)
            if stamp is not None:
                entry = entry.model_copy(update={"event": entry.event.model_copy(update={"erp_stamp": stamp})})
        elif entry.event_id in read:
            entry = read[entry.event_id]
        out.append(entry)
    return out


async def _read_many(ports: Ports, mailbox: str, event_ids: Sequence[str]) -> dict[str, DeltaEntry]:
    """``_read`` for several events in one go (``CalendarPort.read_events``): a gone one is a removal (R9)."""
    if not event_ids:
        return {}
    found = await ports.calendar.read_events(mailbox, event_ids)
    return {i: DeltaEntry(event_id=i, event=found.get(i)) for i in event_ids}


async def _read(ports: Ports, mailbox: str, event_id: str) -> DeltaEntry:
    """The event as it is now; a failed read means it is gone (R9: ``@removed`` may only mean "moved away")."""
    try:
        return DeltaEntry(event_id=event_id, event=await ports.calendar.get_event(mailbox, event_id))
    except GraphNotFound:
        return DeltaEntry(event_id=event_id)


async def retries(
    run: RunContext,
    links: Sequence[Link],
    m365: Sequence[DeltaEntry],
    erp: Sequence[ActivityChange],
    open_issues: Sequence[Issue],
) -> tuple[list[DeltaEntry], list[ActivityChange]]:
    """R31: items refused earlier (and copies waiting for their owner, R10) are offered again."""
    ports = run.ports
    seen_events = {e.event_id for e in m365}
    seen_activities = {c.activity_id for c in erp}
    linked_events = {link.event_id for link in links}
    m365_retries: list[DeltaEntry] = []
    erp_retries: list[ActivityChange] = []
    for issue in open_issues:
        if issue.kind not in RETRIED:
            continue
        if issue.event_id and issue.event_id not in seen_events and issue.event_id not in linked_events:
            entry = await _read(ports, run.mailbox, issue.event_id)
            if entry.removed:
                await ports.state.resolve_issue(run.user.id, issue.key, now=run.now())
            else:
                m365_retries.append(entry)
        elif issue.activity_id and issue.activity_id not in seen_activities:
            try:
                activity = await ports.erp.get_activity(issue.activity_id)
            except ErpNotFound:
                await ports.state.resolve_issue(run.user.id, issue.key, now=run.now())
                continue
            erp_retries.append(
                ActivityChange(seq=0, activity_id=activity.id, owner_id=activity.owner_id, activity=activity)
            )
    return m365_retries, erp_retries


async def booked_rooms(run: RunContext, changes: Sequence[ActivityChange]) -> list[ActivityChange]:
    """R16: the ERP changes with the facilities each activity books directly (no participant row) resolved
    into facility rows, so the plan invites their rooms in Outlook. Facilities are read once per run, and
    only when an activity books one without a row. Every activity the plan sees must come through here, or
    its fingerprints would differ with and without the rooms."""
    if not any(c.activity is not None and rooms_unresolved(c.activity) for c in changes):
        return list(changes)
    if run.facilities is None:
        run.facilities = list(await run.ports.erp.list_facilities())
    by_id = {f.id: f for f in run.facilities}
    return [
        c if c.activity is None else c.model_copy(update={"activity": with_booked_rooms(c.activity, by_id)})
        for c in changes
    ]


async def copies_to_link(
    run: RunContext, erp: Sequence[ActivityChange], links: Sequence[Link], m365: Sequence[DeltaEntry]
) -> list[DeltaEntry]:
    """R10: activities this person takes part in but another mailbox owns, with no link here yet: their copy
    in this mailbox (found by the meeting's iCalUId) is offered to the plan, so it is linked as a copy. A
    copy whose activity was voided or removed is offered too: the plan tells whether the meeting passes on."""
    linked = {link.activity_id for link in links}
    seen = {e.event_id for e in m365}
    out: list[DeltaEntry] = []
    copies = {link.activity_id: link for link in links if link.role is LinkRole.COPY and link.state is LinkState.ACTIVE}
    for change in erp:
        copy = copies.get(change.activity_id)
        if copy is not None and copy.event_id and copy.event_id not in seen and erp_gone(change):
            seen.add(copy.event_id)
            entry = await _read(run.ports, run.mailbox, copy.event_id)
            if not entry.removed:
                out.append(entry)
            continue
        activity = change.activity
        if activity is None or activity.owner_id == run.user.id or change.activity_id in linked:
            continue
        meeting = await run.ports.state.meeting_by_activity(change.activity_id)
        if meeting is None or meeting.activity_id != change.activity_id:
            continue
        for event in await run.ports.calendar.events_by_ical_uid(run.mailbox, meeting.ical_uid):
            if event.id not in seen:
                seen.add(event.id)
                out.append(DeltaEntry(event_id=event.id, event=event))
    return out


async def meetings_of(
    ports: Ports,
    mailbox: str,
    entries: Sequence[DeltaEntry],
    links: Sequence[Link],
    erp: Sequence[ActivityChange] = (),
) -> dict[str, Meeting]:
    """R10: the tenant-wide claims of the meetings among the events with no active link that another mailbox
    may hold too (``meetings.shared``: a meeting of one's own with nobody invited has no claim to read; the
    organizer's own event never linked before reads its claim when it claims it), and of
    the claimed meetings whose activity this run sees voided or removed (one point read each,
    ``CLAIM_READS_AT_ONCE`` at a time: an initial pull of a thousand events would otherwise wait on a thousand
    reads one after the other)."""
    linked = {link.event_id for link in links if link.state is LinkState.ACTIVE}
    ever_linked = {link.event_id for link in links}
    gone = {c.activity_id for c in erp if erp_gone(c)}
    wanted = sorted(
        {
            e.event.ical_uid
            for e in entries
            if e.event is not None
            and e.event.ical_uid
            and e.event_id not in linked
            and shared(is_organizer=e.event.is_organizer, attendees=e.event.attendees, mailbox=mailbox)
            # The organizer's own new event: its create claims the meeting first and reads the claim only if
            # another mailbox holds it (write_erp.create_activity), so no read is spent on it here.
            and (not e.event.is_organizer or e.event_id in ever_linked)
        }
        | {link.ical_uid for link in links if link.ical_uid and link.claimed and link.activity_id in gone}
    )
    gate = asyncio.Semaphore(CLAIM_READS_AT_ONCE)

    async def read(ical_uid: str) -> Meeting | None:
        async with gate:
            return await ports.state.get_meeting(ical_uid)

    claims = await asyncio.gather(*(read(ical_uid) for ical_uid in wanted))
    return {ical_uid: meeting for ical_uid, meeting in zip(wanted, claims, strict=True) if meeting is not None}


async def synced_mailboxes(run: RunContext, entries: Sequence[DeltaEntry], links: Sequence[Link]) -> frozenset[str]:
    """R10: the syncable users' addresses, asked of the ERP only when an unlinked copy of someone else's
    meeting is in the run (is its organizer one of ours?)."""
    linked = {link.event_id for link in links}
    if not any(e.event is not None and not e.event.is_organizer and e.event_id not in linked for e in entries):
        return frozenset()
    return frozenset(u.email.lower() for u in await run.erp_users() if u.email and not missing_for_sync(u))
