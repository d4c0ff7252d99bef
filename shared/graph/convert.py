"""msgraph-sdk models ⇄ the core's ``M365Event`` / ``EventWrite`` (the only place that knows both)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from msgraph.generated.models.attendee import Attendee as GraphAttendee
from msgraph.generated.models.attendee_type import AttendeeType
from msgraph.generated.models.body_type import BodyType
from msgraph.generated.models.date_time_time_zone import DateTimeTimeZone
from msgraph.generated.models.email_address import EmailAddress
from msgraph.generated.models.event import Event
from msgraph.generated.models.free_busy_status import FreeBusyStatus
from msgraph.generated.models.item_body import ItemBody
from msgraph.generated.models.location import Location
from msgraph.generated.models.location_type import LocationType
from msgraph.generated.models.sensitivity import Sensitivity
from msgraph.generated.models.single_value_legacy_extended_property import SingleValueLegacyExtendedProperty

from shared.core.items import Attendee, AttendeeRole
from shared.core.m365 import EventType, EventWrite, M365Event
from shared.core.timezones import UnknownTimeZone, covered_days, day_bounds, to_iana, to_windows, zone

# Our named property in the PS_PUBLIC_STRINGS-like namespace of this product (a fixed GUID of our own).
ERP_STAMP_PROPERTY = "String {5b0c8e36-1d7a-4f0e-9c55-8a2f3d6e7b91} Name erpActivityId"
_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_graph_datetime(value: DateTimeTimeZone | None) -> datetime:
    """Graph's ``{"dateTime": "…​.0000000", "timeZone": "UTC"}`` as an aware datetime (we ask for UTC)."""
    if value is None or not value.date_time:
        raise ValueError("event without start or end")
    text = _FRACTION.sub(r"\1", value.date_time.rstrip("Z"))
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone(value.time_zone or "UTC"))
    return moment.astimezone(UTC)


def parse_graph_days(
    start: DateTimeTimeZone | None, end: DateTimeTimeZone | None, zone_name: str
) -> tuple[datetime, datetime]:
    """An all-day event's start and end: DATES. Graph returns them as midnight of the event's dates in
    whatever zone was asked for (``Prefer: outlook.timezone``, UTC for us), not as instants (page "event
    resource type": all-day start and end are midnight). So the dates are taken as written and become
    midnights in the event's own zone; reading them as UTC instants would move them (R14)."""
    if start is None or end is None or not start.date_time or not end.date_time:
        raise ValueError("event without start or end")
    first = datetime.fromisoformat(_FRACTION.sub(r"\1", start.date_time.rstrip("Z")))
    last = datetime.fromisoformat(_FRACTION.sub(r"\1", end.date_time.rstrip("Z")))
    return day_bounds(*covered_days(first, last), zone_name)


def _enum_value(value: object, default: str) -> str:
    raw = getattr(value, "value", value)
    return raw if isinstance(raw, str) and raw else default


def event_from_graph(event: Event) -> M365Event:
    """The core's view of a Graph event. An unknown time zone name keeps the exact instants in UTC."""
    try:
        zone_name = to_iana(event.original_start_time_zone)
    except UnknownTimeZone:
        zone_name = "UTC"  # times are instants (we ask for UTC), so nothing is lost but the display zone
    attendees = tuple(
        Attendee(
            email=(a.email_address.address or "").lower(),
            name=a.email_address.name or "",
            role=AttendeeRole(_enum_value(a.type, "required")),
            response=_enum_value(a.status.response if a.status else None, "none"),
        )
        for a in (event.attendees or [])
        if a.email_address and a.email_address.address
    )
    stamp = next(
        (
            p.value
            for p in (event.single_value_extended_properties or [])
            if (p.id or "").lower() == ERP_STAMP_PROPERTY.lower()
        ),
        None,
    )
    location = event.location
    if event.is_all_day:
        start, end = parse_graph_days(event.start, event.end, zone_name)
    else:
        start, end = parse_graph_datetime(event.start), parse_graph_datetime(event.end)
    return M365Event(
        id=event.id or "",
        ical_uid=event.i_cal_u_id,
        change_key=event.change_key,
        type=EventType(_enum_value(event.type, "singleInstance")),
        series_master_id=event.series_master_id,
        subject=event.subject or "",
        body=(event.body.content or "") if event.body else "",
        start=start,
        end=end,
        time_zone=zone_name,
        is_all_day=bool(event.is_all_day),
        is_cancelled=bool(event.is_cancelled),
        is_organizer=event.is_organizer is not False,
        response=_enum_value(event.response_status.response if event.response_status else None, "organizer"),
        show_as=_enum_value(event.show_as, "busy"),
        sensitivity=_enum_value(event.sensitivity, "normal"),
        location=(location.display_name or "") if location else "",
        location_email=(location.location_email_address or None) if location else None,
        attendees=attendees,
        categories=tuple(event.categories or ()),
        organizer_email=(
            event.organizer.email_address.address if event.organizer and event.organizer.email_address else None
        ),
        last_modified=event.last_modified_date_time,
        web_link=event.web_link,
        erp_stamp=stamp,
    )


def graph_from_write(write: EventWrite) -> Event:
    """A Graph event carrying exactly the fields set on ``write``."""
    event = Event()
    fields = write.model_fields_set
    if "subject" in fields:
        event.subject = write.subject
    if "body" in fields:
        event.body = ItemBody(content_type=BodyType.Text, content=write.body or "")
    if "start" in fields or "end" in fields:
        zone_name = to_windows(write.time_zone or "UTC")
        if write.start is not None:
            event.start = DateTimeTimeZone(date_time=write.start.isoformat(), time_zone=zone_name)
        if write.end is not None:
            event.end = DateTimeTimeZone(date_time=write.end.isoformat(), time_zone=zone_name)
    if "is_all_day" in fields:
        event.is_all_day = write.is_all_day
    if "show_as" in fields and write.show_as:
        event.show_as = FreeBusyStatus(write.show_as)
    if "sensitivity" in fields and write.sensitivity:
        event.sensitivity = Sensitivity(write.sensitivity)
    if "location" in fields or "location_email" in fields:
        event.location = Location(
            display_name=write.location or "",
            location_email_address=write.location_email,
            location_type=LocationType.ConferenceRoom if write.location_email else LocationType.Default,
        )
    if "attendees" in fields:
        event.attendees = [
            GraphAttendee(
                email_address=EmailAddress(address=a.email, name=a.name or None), type=AttendeeType(a.role.value)
            )
            for a in (write.attendees or ())
        ]
    if "categories" in fields:
        event.categories = list(write.categories or ())
    if write.erp_stamp is not None:
        event.single_value_extended_properties = [
            SingleValueLegacyExtendedProperty(id=ERP_STAMP_PROPERTY, value=write.erp_stamp)
        ]
    if write.transaction_id is not None:
        event.transaction_id = write.transaction_id
    return event
