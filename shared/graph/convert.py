"""msgraph-sdk models ⇄ the core's ``M365Event`` / ``EventWrite`` (the only place that knows both)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from msgraph.generated.models.attendee import Attendee as GraphAttendee
from msgraph.generated.models.attendee_type import AttendeeType
from msgraph.generated.models.body_type import BodyType
from msgraph.generated.models.date_time_time_zone import DateTimeTimeZone
from msgraph.generated.models.day_of_week import DayOfWeek as GraphDayOfWeek
from msgraph.generated.models.email_address import EmailAddress
from msgraph.generated.models.event import Event
from msgraph.generated.models.free_busy_status import FreeBusyStatus
from msgraph.generated.models.item_body import ItemBody
from msgraph.generated.models.location import Location
from msgraph.generated.models.location_type import LocationType
from msgraph.generated.models.patterned_recurrence import PatternedRecurrence
from msgraph.generated.models.recurrence_pattern import RecurrencePattern as GraphPattern
from msgraph.generated.models.recurrence_pattern_type import RecurrencePatternType
from msgraph.generated.models.recurrence_range import RecurrenceRange as GraphRange
from msgraph.generated.models.recurrence_range_type import RecurrenceRangeType
from msgraph.generated.models.sensitivity import Sensitivity
from msgraph.generated.models.single_value_legacy_extended_property import SingleValueLegacyExtendedProperty
from msgraph.generated.models.week_index import WeekIndex as GraphWeekIndex

from shared.core.activities import (
    DayOfWeek,
    PatternType,
    RangeType,
    Recurrence,
    RecurrencePattern,
    RecurrenceRange,
    WeekIndex,
)
from shared.core.items import Attendee, AttendeeRole
from shared.core.m365 import EventType, EventWrite, M365Event
from shared.core.timezones import UnknownTimeZone, covered_days, day_bounds, to_iana, to_windows, zone

# Our named property in the PS_PUBLIC_STRINGS-like namespace of this product (a fixed GUID of our own).
ERP_STAMP_PROPERTY = "String {5b0c8e36-1d7a-4f0e-9c55-8a2f3d6e7b91} Name erpActivityId"
_FRACTION = re.compile(r"(\.\d{6})\d+")
# Exchange keeps a pattern's days as a bit mask: Graph lists them in week order, whatever order was sent.
WEEK = tuple(DayOfWeek)
# Which pattern fields each pattern type uses (page "recurrencePattern resource type"); the others are not sent.
DAYS_PATTERNS = (PatternType.WEEKLY, PatternType.RELATIVE_MONTHLY, PatternType.RELATIVE_YEARLY)
DAY_OF_MONTH_PATTERNS = (PatternType.ABSOLUTE_MONTHLY, PatternType.ABSOLUTE_YEARLY)
MONTH_PATTERNS = (PatternType.ABSOLUTE_YEARLY, PatternType.RELATIVE_YEARLY)
INDEX_PATTERNS = (PatternType.RELATIVE_MONTHLY, PatternType.RELATIVE_YEARLY)


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


def recurrence_of(
    pattern_type: str,
    *,
    interval: int | None,
    days: list[str],
    day_of_month: int | None,
    month: int | None,
    index: str | None,
    first_day: str | None,
    range_type: str,
    start_date: date,
    end_date: date | None,
    occurrences: int | None,
    time_zone: str | None,
) -> Recurrence:
    """The core's ``Recurrence`` from a patternedRecurrence's values (page "patternedRecurrence resource type").

    Graph fills the fields a pattern type does not use with defaults (``endDate`` 0001-01-01 for a range
    without end date, ``numberOfOccurrences`` 0, ``index`` first): those are dropped, so a series reads back
    as it was written. ``recurrenceTimeZone`` (a Windows name as Graph answers it) becomes IANA (R12); an
    unknown one is left out (the event's own zone applies, as Graph says for a range without one)."""
    rtype = RangeType(range_type)
    try:
        zone_name = to_iana(time_zone) if time_zone else None
    except UnknownTimeZone:
        zone_name = None
    return Recurrence(
        pattern=RecurrencePattern(
            type=PatternType(pattern_type),
            interval=interval or 1,
            days_of_week=tuple(d for d in WEEK if d.value in {x.lower() for x in days}),
            day_of_month=day_of_month or 0,
            month=month or 0,
            index=WeekIndex(index or "first"),
            first_day_of_week=DayOfWeek(first_day or "sunday"),
        ),
        range=RecurrenceRange(
            type=rtype,
            start_date=start_date,
            end_date=end_date if rtype is RangeType.END_DATE else None,
            number_of_occurrences=(occurrences or 0) if rtype is RangeType.NUMBERED else 0,
            recurrence_time_zone=zone_name,
        ),
    )


def recurrence_from_graph(value: PatternedRecurrence | None) -> Recurrence | None:
    """A series master's ``recurrence``; None for any other event (Graph answers null there)."""
    if value is None or value.pattern is None or value.range is None:
        return None
    p, r = value.pattern, value.range
    if p.type is None or r.type is None or r.start_date is None:
        return None
    return recurrence_of(
        _enum_value(p.type, "daily"),
        interval=p.interval,
        days=[_enum_value(d, "") for d in p.days_of_week or []],
        day_of_month=p.day_of_month,
        month=p.month,
        index=_enum_value(p.index, "first"),
        first_day=_enum_value(p.first_day_of_week, "sunday"),
        range_type=_enum_value(r.type, "noEnd"),
        start_date=r.start_date,
        end_date=r.end_date,
        occurrences=r.number_of_occurrences,
        time_zone=r.recurrence_time_zone,
    )


def recurrence_zone(write: EventWrite) -> str | None:
    """The Windows name sent as ``range.recurrenceTimeZone``: the recurrence's own zone, else the event's.

    Graph answers with Windows names (page "Create event", recurring example: "Eastern Standard Time") and
    the adapter sends start and end zones as Windows names too, so the range's zone is sent the same way.
    Without either, none is sent and Graph uses the event's zone (page "recurrenceRange resource type")."""
    rec = write.recurrence
    name = (rec.range.recurrence_time_zone if rec else None) or write.time_zone
    return to_windows(name) if name else None


def graph_recurrence(write: EventWrite) -> PatternedRecurrence | None:
    """``write.recurrence`` as msgraph-sdk's patternedRecurrence: only the fields its pattern and range types use."""
    if write.recurrence is None:
        return None
    p, r = write.recurrence.pattern, write.recurrence.range
    return PatternedRecurrence(
        pattern=GraphPattern(
            type=RecurrencePatternType(p.type.value),
            interval=p.interval,
            days_of_week=[GraphDayOfWeek(d.value) for d in WEEK if d in p.days_of_week]
            if p.type in DAYS_PATTERNS
            else None,
            day_of_month=p.day_of_month if p.type in DAY_OF_MONTH_PATTERNS else None,
            month=p.month if p.type in MONTH_PATTERNS else None,
            index=GraphWeekIndex(p.index.value) if p.type in INDEX_PATTERNS else None,
            first_day_of_week=GraphDayOfWeek(p.first_day_of_week.value) if p.type is PatternType.WEEKLY else None,
        ),
        range=GraphRange(
            type=RecurrenceRangeType(r.type.value),
            start_date=r.start_date,
            end_date=r.end_date if r.type is RangeType.END_DATE else None,
            number_of_occurrences=r.number_of_occurrences if r.type is RangeType.NUMBERED else None,
            recurrence_time_zone=recurrence_zone(write),
        ),
    )


def original_start(moment: datetime | None) -> datetime | None:
    """An occurrence's ``originalStart``: an instant (DateTimeOffset, in UTC; page "event resource type")."""
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


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
        recurrence=recurrence_from_graph(event.recurrence),
        original_start=original_start(event.original_start),
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
        has_attachments=bool(event.has_attachments),
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
    if "recurrence" in fields and write.recurrence is not None:
        event.recurrence = graph_recurrence(write)
    return event
