"""Map an M365 event and an ERP activity to the neutral item, and neutral fields back to each side.

Rules: R12 (fields), R13 (all-day free/busy), R14 (all-day dates), R15/R16 (attendees, rooms), R17 (access
level), R19/R21 (titles and bodies of ERP-born items), R27 (responses).

All-day bounds are dates on both sides (``shared.core.timezones``): they are read by their own wall-clock
date and written as midnights of those dates, never converted between zones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, time

from shared.core.activities import (
    AccessLevel,
    Activity,
    ActivityFields,
    ActivityPatch,
    ActivityType,
    ErpUser,
    Facility,
    Origin,
    Participant,
    ParticipantKind,
    Response,
    ShowAs,
)
from shared.core.directory import Directory
from shared.core.items import Attendee, AttendeeRole, CalendarItem, Field, ItemKind, Sensitivity, Side
from shared.core.m365 import EventWrite, M365Event
from shared.core.participants import answers_only, participants_from, references_from
from shared.core.timezones import covered_days, day_bounds, localize, wall_clock, zone

_GRAPH_RESPONSE = {
    Response.NONE: "none",
    Response.ORGANIZER: "organizer",
    Response.ACCEPTED: "accepted",
    Response.TENTATIVE: "tentativelyAccepted",
    Response.DECLINED: "declined",
}
TYPE_TITLES = {ItemKind.TASK: "Task", ItemKind.PHONE_CALL: "Phone call", ItemKind.MEETING: "Meeting"}
_ERP_SHOW_AS = {s.value for s in ShowAs}


# --- to neutral ------------------------------------------------------------------------------------


def item_from_event(event: M365Event, *, kind: ItemKind, conflict_category: str) -> CalendarItem:
    """The neutral view of an event. The sync's own conflict marker is not a user category (R7)."""
    free_all_day = event.is_all_day and event.show_as == "free"
    if event.is_all_day:  # R14: the event's dates, at midnight in its zone (not instants to convert)
        start, end = day_bounds(*covered_days(event.start, event.end), event.time_zone)
    else:
        start, end = event.start.astimezone(zone(event.time_zone)), event.end.astimezone(zone(event.time_zone))
    return CalendarItem(
        kind=kind,
        subject=event.subject,
        body=event.body,
        start=start,
        end=end,
        time_zone=event.time_zone,
        all_day=event.is_all_day,
        no_specified_time=free_all_day,  # R13: all-day + free = no specified time
        location=event.location,
        attendees=event.attendees,
        categories=tuple(c for c in event.categories if c.lower() != conflict_category.lower()),
        show_as=event.show_as,
        sensitivity=Sensitivity.NORMAL if event.sensitivity == "normal" else Sensitivity.PRIVATE,
        modified_at=event.last_modified,
    )


def _attendees_from_participants(participants: Iterable[Participant]) -> tuple[Attendee, ...]:
    return tuple(
        Attendee(
            email=p.email.lower(),
            name=p.name or "",
            role=AttendeeRole.RESOURCE
            if p.kind is ParticipantKind.FACILITY
            else (AttendeeRole.REQUIRED if p.required else AttendeeRole.OPTIONAL),
            response=_GRAPH_RESPONSE[p.response],
        )
        for p in participants
        if p.response is not Response.ORGANIZER
    )


def rooms_unresolved(activity: Activity) -> bool:
    """Whether the activity books a facility that has no participant row (booked in the ERP directly): only
    then are the facilities' room mailboxes needed (R16)."""
    rows = {p.ref_id for p in activity.participants if p.kind is ParticipantKind.FACILITY}
    return any(f not in rows for f in activity.facility_ids)


def with_booked_rooms(activity: Activity, facilities: Mapping[str, Facility]) -> Activity:
    """R16: the activity with a facility participant row for each facility it books that has a room mailbox
    and no row yet, so ``item_from_activity`` invites the room (a resource attendee, and the location) as
    Outlook does it. ``facilities`` by id; one without a room mailbox, unknown, or already a participant
    (by row or address) adds nothing. Apply it wherever an activity enters a run, so every view of the
    activity (plan, fingerprints, writes) is the same."""
    rows = {p.ref_id for p in activity.participants if p.kind is ParticipantKind.FACILITY}
    emails = {p.email.lower() for p in activity.participants}
    added: list[Participant] = []
    for facility_id in activity.facility_ids:
        facility = facilities.get(facility_id)
        if facility is None or not facility.room_mailbox or facility_id in rows:
            continue
        email = facility.room_mailbox.lower()
        if email in emails:
            continue
        emails.add(email)
        added.append(Participant(email=email, name=facility.name, kind=ParticipantKind.FACILITY, ref_id=facility.id))
    if not added:
        return activity
    return activity.model_copy(update={"participants": (*activity.participants, *added)})


def item_from_activity(activity: Activity) -> CalendarItem:
    """The neutral view of an activity (R17: private and show-as-busy are both private in Outlook)."""
    all_day = activity.all_day or activity.no_specified_time
    start, end = localize(activity.start, activity.time_zone), localize(activity.end, activity.time_zone)
    if all_day:  # R14: the dates the activity covers in its own zone, midnight to midnight
        start, end = day_bounds(*covered_days(start, end), activity.time_zone)
    return CalendarItem(
        kind=ItemKind(activity.type.value),
        subject=activity.subject,
        body=activity.description,
        start=start,
        end=end,
        time_zone=activity.time_zone,
        all_day=all_day,
        no_specified_time=activity.no_specified_time,
        location=activity.location,
        attendees=_attendees_from_participants(activity.participants),
        categories=activity.categories,
        show_as=ShowAs.FREE.value if activity.no_specified_time else activity.show_as.value,
        sensitivity=Sensitivity.NORMAL if activity.access_level is AccessLevel.PUBLIC else Sensitivity.PRIVATE,
        modified_at=activity.modified_at,
    )


# --- neutral to ERP --------------------------------------------------------------------------------


def _wall_clock_when(item: CalendarItem) -> tuple[datetime, datetime]:
    """The item's start and end as wall-clock times in its zone; an all-day item's are the midnights of its
    dates (R14), read from its own bounds, never converted."""
    if item.all_day:
        first, last = covered_days(item.start, item.end)
        return datetime.combine(first, time(0)), datetime.combine(last, time(0))
    return wall_clock(item.start, item.time_zone), wall_clock(item.end, item.time_zone)


def _erp_when(item: CalendarItem) -> dict[str, object]:
    start, end = _wall_clock_when(item)
    return {
        "start": start,
        "end": end,
        "time_zone": item.time_zone,
        "all_day": item.all_day and not item.no_specified_time,
        "no_specified_time": item.no_specified_time,
    }


def _erp_values(
    item: CalendarItem, field: Field, directory: Directory, owner_id: str, current: Activity | None
) -> dict[str, object]:
    match field:
        case Field.SUBJECT:
            return {"subject": item.subject}
        case Field.BODY:
            return {"description": item.body}
        case Field.WHEN:
            return _erp_when(item)
        case Field.LOCATION:
            return {"location": item.location}
        case Field.ATTENDEES | Field.RESPONSES:
            return {
                "participants": participants_from(item, directory, current),
                **references_from(item, directory, owner_id, current),
            }
        case Field.CATEGORIES:
            return {"categories": item.categories}
        case Field.SHOW_AS:
            return {"show_as": ShowAs(item.show_as) if item.show_as in _ERP_SHOW_AS else ShowAs.BUSY}
        case Field.SENSITIVITY:  # R17, M365 to ERP: normal → public, anything else → show as busy
            level = AccessLevel.PUBLIC if item.sensitivity is Sensitivity.NORMAL else AccessLevel.SHOW_AS_BUSY
            return {"access_level": level}


def activity_fields(item: CalendarItem, *, user: ErpUser, origin: Origin, directory: Directory) -> ActivityFields:
    """A new ERP activity for an M365 event (R23: a meeting, with the user's defaults, R2)."""
    values: dict[str, object] = {}
    for field in Field:
        values.update(_erp_values(item, field, directory, user.id, None))
    return ActivityFields.model_validate(
        {
            **values,
            "type": ActivityType(item.kind.value),
            "owner_id": user.id,
            "company_id": values.get("company_id") or user.default_company_id,
            "company_location_id": user.default_location_id,
            "origin": origin,
        }
    )


def activity_patch(
    item: CalendarItem,
    fields: Iterable[Field],
    *,
    owner_id: str,
    directory: Directory,
    current: Activity | None = None,
) -> ActivityPatch:
    """Only ``fields`` of ``item``, as a partial update. With the ``current`` activity, attendee changes keep
    what only the ERP knows: registered users' own answers and references linked there directly."""
    wanted = frozenset(fields)
    only_answers = Field.RESPONSES in wanted and Field.ATTENDEES not in wanted and current is not None
    values: dict[str, object] = {}
    for field in wanted - ({Field.RESPONSES} if only_answers else set()):
        values.update(_erp_values(item, field, directory, owner_id, current))
    if only_answers:
        # R27/R6: answers changed in Outlook, the attendee list did not: only answers are written, onto the
        # ERP's own rows (a person the ERP added or removed meanwhile stays added or removed).
        assert current is not None
        values["participants"] = answers_only(participants_from(item, directory, current), current)
    return ActivityPatch.model_validate(values)


# --- neutral to M365 -------------------------------------------------------------------------------


def event_title(item: CalendarItem, *, origin: Side, company_name: str | None) -> str:
    """R19/R21: ERP-born tasks, calls and meetings carry their type (and a meeting its company)."""
    if origin is Side.M365 or item.kind is ItemKind.LEAVE:
        return item.subject
    title = f"{TYPE_TITLES[item.kind]}: {item.subject}"
    if item.kind is ItemKind.MEETING and company_name:
        title += f" – {company_name}"
    return title


def event_body(item: CalendarItem, *, origin: Side, web_url: str | None, contact_lines: Iterable[str] = ()) -> str:
    """R19: an ERP-born task or call links back to the activity and names its contact."""
    if origin is Side.M365 or item.kind not in (ItemKind.TASK, ItemKind.PHONE_CALL):
        return item.body
    parts = [item.body.strip()] if item.body.strip() else []
    parts.extend(contact_lines)
    if web_url:
        parts.append(f"Open activity: {web_url}")
    return "\n".join(parts)


def _m365_values(
    item: CalendarItem,
    field: Field,
    *,
    origin: Side,
    company_name: str | None,
    web_url: str | None,
    contact_lines: tuple[str, ...],
) -> dict[str, object]:
    match field:
        case Field.SUBJECT:
            return {"subject": event_title(item, origin=origin, company_name=company_name)}
        case Field.BODY:
            return {"body": event_body(item, origin=origin, web_url=web_url, contact_lines=contact_lines)}
        case Field.WHEN:
            start, end = _wall_clock_when(item)  # R14: an all-day item's exact dates, midnight to midnight
            values: dict[str, object] = {
                "start": start,
                "end": end,
                "time_zone": item.time_zone,
                "is_all_day": item.all_day,
            }
            if item.no_specified_time:  # R13 reversed: no specified time is an all-day "free" item
                values["show_as"] = "free"
            return values
        case Field.LOCATION:
            rooms = [a for a in item.attendees if a.role is AttendeeRole.RESOURCE]
            return {
                "location": item.location or (rooms[0].name if rooms else ""),
                "location_email": rooms[0].email if rooms else None,
            }
        case Field.ATTENDEES:
            return {"attendees": item.attendees}
        case Field.RESPONSES:
            return {}  # Graph lets only each attendee answer (R27)
        case Field.CATEGORIES:
            return {"categories": item.categories}
        case Field.SHOW_AS:
            return {"show_as": "free" if item.no_specified_time else item.show_as}
        case Field.SENSITIVITY:  # R17, ERP to M365: public → normal; private and show-as-busy → private
            return {"sensitivity": "normal" if item.sensitivity is Sensitivity.NORMAL else "private"}


def event_write(
    item: CalendarItem,
    fields: Iterable[Field],
    *,
    origin: Side,
    company_name: str | None = None,
    web_url: str | None = None,
    contact_lines: tuple[str, ...] = (),
    erp_stamp: str | None = None,
    transaction_id: str | None = None,
) -> EventWrite:
    """The event values for ``fields`` of ``item`` (all fields plus the stamp for a new event)."""
    values: dict[str, object] = {}
    for field in fields:
        values.update(
            _m365_values(
                item, field, origin=origin, company_name=company_name, web_url=web_url, contact_lines=contact_lines
            )
        )
    if erp_stamp is not None:
        values["erp_stamp"] = erp_stamp
    if transaction_id is not None:
        values["transaction_id"] = transaction_id
    return EventWrite.model_validate(values)
