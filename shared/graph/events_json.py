"""Graph's JSON event straight into the core's ``M365Event``, and an ``EventWrite`` as the JSON to send.

The adapter reads delta pages, lists and ``$batch`` answers as raw JSON (``shared.graph.wire``) instead of
kiota models, which cost about 12 ms an event to build (``Entity.get_field_deserializers``). These functions
read exactly what ``shared.graph.convert.event_from_graph`` reads from msgraph-sdk's model, with kiota's rules
for enums (an unknown value is the field's default), and write what msgraph-sdk serialises for
``graph_from_write``; ``tests/graph_port/test_events_json.py`` keeps the pairs equal.
Fields: page "event resource type" (https://learn.microsoft.com/en-us/graph/api/resources/event).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any

from kiota_abstractions.date_utils import datetime_from_iso_format_compat
from msgraph.generated.models.attendee_type import AttendeeType
from msgraph.generated.models.event_type import EventType as GraphEventType
from msgraph.generated.models.free_busy_status import FreeBusyStatus
from msgraph.generated.models.response_type import ResponseType
from msgraph.generated.models.sensitivity import Sensitivity

from shared.core.activities import PatternType, RangeType, Recurrence
from shared.core.items import Attendee, AttendeeRole
from shared.core.m365 import DeltaEntry, EventType, EventWrite, M365Event
from shared.core.timezones import UnknownTimeZone, covered_days, day_bounds, to_iana, to_windows, zone
from shared.graph.convert import (
    DAY_OF_MONTH_PATTERNS,
    DAYS_PATTERNS,
    ERP_STAMP_PROPERTY,
    INDEX_PATTERNS,
    MONTH_PATTERNS,
    WEEK,
    recurrence_of,
    recurrence_zone,
)

_FRACTION = re.compile(r"(\.\d{6})\d+")
_STAMP_ID = ERP_STAMP_PROPERTY.lower()


def _members(cls: type[Enum]) -> dict[str, str]:
    return {name: str(member.value) for name, member in cls.__members__.items()}


_ENUMS: dict[type[Enum], dict[str, str]] = {
    cls: _members(cls) for cls in (AttendeeType, GraphEventType, FreeBusyStatus, ResponseType, Sensitivity)
}


def _enum(cls: type[Enum], raw: Any, default: str) -> str:
    """kiota's enum reading (member ``raw[0].upper() + raw[1:]``, ``none`` is ``None_``); unknown → default."""
    if not isinstance(raw, str) or not raw:
        return default
    key = "None_" if raw.lower() == "none" else raw[0].upper() + raw[1:]
    return _ENUMS[cls].get(key) or default


def _local(value: Any) -> datetime:
    if not isinstance(value, dict) or not value.get("dateTime"):
        raise ValueError("event without start or end")
    return datetime.fromisoformat(_FRACTION.sub(r"\1", str(value["dateTime"]).rstrip("Z")))


def _when(value: Any) -> datetime:
    """A ``dateTimeTimeZone`` as an aware instant (``parse_graph_datetime``)."""
    moment = _local(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone(value.get("timeZone") or "UTC"))
    return moment.astimezone(UTC)


def _date(raw: Any) -> date | None:
    try:
        return date.fromisoformat(str(raw)[:10]) if raw else None
    except ValueError:
        return None


def _instant(raw: Any) -> datetime | None:
    """A DateTimeOffset as kiota reads it, in UTC (``original_start``)."""
    if not isinstance(raw, str) or len(raw) < 10:
        return None
    moment = datetime_from_iso_format_compat(raw)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def stamp_of(d: dict[str, Any]) -> str | None:
    """Our ERP stamp among an event's expanded ``singleValueExtendedProperties`` (None when not there)."""
    for p in d.get("singleValueExtendedProperties") or []:
        if isinstance(p, dict) and str(p.get("id") or "").lower() == _STAMP_ID:
            value = p.get("value")
            return value if isinstance(value, str) else None
    return None


def recurrence_from_json(value: Any) -> Recurrence | None:
    """A series master's ``recurrence`` (``recurrence_from_graph``); None for any other event."""
    if not isinstance(value, dict):
        return None
    p, r = value.get("pattern"), value.get("range")
    if not isinstance(p, dict) or not isinstance(r, dict) or not p.get("type") or not r.get("type"):
        return None
    start = _date(r.get("startDate"))
    if start is None:
        return None
    return recurrence_of(
        str(p["type"]),
        interval=p.get("interval"),
        days=[str(d) for d in p.get("daysOfWeek") or []],
        day_of_month=p.get("dayOfMonth"),
        month=p.get("month"),
        index=p.get("index"),
        first_day=p.get("firstDayOfWeek"),
        range_type=str(r["type"]),
        start_date=start,
        end_date=_date(r.get("endDate")),
        occurrences=r.get("numberOfOccurrences"),
        time_zone=r.get("recurrenceTimeZone"),
    )


def event_from_json(d: dict[str, Any]) -> M365Event:
    """``event_from_graph`` on Graph's JSON event. An unknown time zone name keeps the instants in UTC."""
    try:
        zone_name = to_iana(d.get("originalStartTimeZone"))
    except UnknownTimeZone:
        zone_name = "UTC"
    attendees = tuple(
        Attendee(
            email=str(a["emailAddress"]["address"]).lower(),
            name=a["emailAddress"].get("name") or "",
            role=AttendeeRole(_enum(AttendeeType, a.get("type"), "required")),
            response=_enum(ResponseType, (a.get("status") or {}).get("response"), "none"),
        )
        for a in d.get("attendees") or []
        if a.get("emailAddress") and a["emailAddress"].get("address")
    )
    location = d.get("location")
    organizer = (d.get("organizer") or {}).get("emailAddress")
    modified = d.get("lastModifiedDateTime")
    if d.get("isAllDay"):
        start, end = day_bounds(*covered_days(_local(d.get("start")), _local(d.get("end"))), zone_name)
    else:
        start, end = _when(d.get("start")), _when(d.get("end"))
    return M365Event(
        id=d.get("id") or "",
        ical_uid=d.get("iCalUId"),
        change_key=d.get("changeKey"),
        type=EventType(_enum(GraphEventType, d.get("type"), "singleInstance")),
        series_master_id=d.get("seriesMasterId"),
        recurrence=recurrence_from_json(d.get("recurrence")),
        original_start=_instant(d.get("originalStart")),
        subject=d.get("subject") or "",
        body=(d["body"].get("content") or "") if d.get("body") else "",
        start=start,
        end=end,
        time_zone=zone_name,
        is_all_day=bool(d.get("isAllDay")),
        is_cancelled=bool(d.get("isCancelled")),
        is_organizer=d.get("isOrganizer") is not False,
        response=_enum(ResponseType, (d.get("responseStatus") or {}).get("response"), "organizer"),
        show_as=_enum(FreeBusyStatus, d.get("showAs"), "busy"),
        sensitivity=_enum(Sensitivity, d.get("sensitivity"), "normal"),
        location=(location.get("displayName") or "") if location else "",
        location_email=(location.get("locationEmailAddress") or None) if location else None,
        attendees=attendees,
        categories=tuple(d.get("categories") or ()),
        has_attachments=bool(d.get("hasAttachments")),
        organizer_email=organizer.get("address") if organizer else None,
        last_modified=datetime_from_iso_format_compat(modified)
        if isinstance(modified, str) and len(modified) >= 10
        else None,
        web_link=d.get("webLink"),
        erp_stamp=stamp_of(d),
    )


def is_foreign(item: dict[str, Any]) -> bool:
    """A single event that Graph answered with ``transactionId: null``: no client chose one, so the sync (which
    sets one on every create) did not make it. An answer without the property at all proves nothing."""
    return "transactionId" in item and item["transactionId"] is None and item.get("type") == "singleInstance"


def delta_entry_from_json(item: dict[str, Any]) -> DeltaEntry:
    """One item of a delta page: ``@removed`` ones carry only their id (page "event: delta")."""
    if "@removed" in item:
        return DeltaEntry(event_id=item.get("id") or "")
    return DeltaEntry(event_id=item.get("id") or "", event=event_from_json(item))


def recurrence_json(write: EventWrite) -> dict[str, Any] | None:
    """The patternedRecurrence msgraph-sdk sends for ``graph_recurrence(write)``: only the fields its types use."""
    if write.recurrence is None:
        return None
    p, r = write.recurrence.pattern, write.recurrence.range
    pattern: dict[str, Any] = {"interval": p.interval, "type": p.type.value}
    if p.type in DAYS_PATTERNS:
        pattern["daysOfWeek"] = [d.value for d in WEEK if d in p.days_of_week]
    if p.type in DAY_OF_MONTH_PATTERNS:
        pattern["dayOfMonth"] = p.day_of_month
    if p.type in MONTH_PATTERNS:
        pattern["month"] = p.month
    if p.type in INDEX_PATTERNS:
        pattern["index"] = p.index.value
    if p.type is PatternType.WEEKLY:
        pattern["firstDayOfWeek"] = p.first_day_of_week.value
    rng: dict[str, Any] = {"startDate": r.start_date.isoformat(), "type": r.type.value}
    if r.type is RangeType.END_DATE and r.end_date is not None:
        rng["endDate"] = r.end_date.isoformat()
    if r.type is RangeType.NUMBERED:
        rng["numberOfOccurrences"] = r.number_of_occurrences
    zone_name = recurrence_zone(write)
    if zone_name:
        rng["recurrenceTimeZone"] = zone_name
    return {"pattern": pattern, "range": rng}


def body_from_write(write: EventWrite) -> dict[str, Any]:
    """The JSON msgraph-sdk sends for ``graph_from_write(write)`` (exactly the fields set on ``write``)."""
    body: dict[str, Any] = {"@odata.type": "#microsoft.graph.event"}
    fields = write.model_fields_set
    if "subject" in fields and write.subject is not None:
        body["subject"] = write.subject
    if "body" in fields:
        body["body"] = {"content": write.body or "", "contentType": "text"}
    if "start" in fields or "end" in fields:
        zone_name = to_windows(write.time_zone or "UTC")
        if write.start is not None:
            body["start"] = {"dateTime": write.start.isoformat(), "timeZone": zone_name}
        if write.end is not None:
            body["end"] = {"dateTime": write.end.isoformat(), "timeZone": zone_name}
    if "is_all_day" in fields and write.is_all_day is not None:
        body["isAllDay"] = write.is_all_day
    if "show_as" in fields and write.show_as:
        body["showAs"] = FreeBusyStatus(write.show_as).value
    if "sensitivity" in fields and write.sensitivity:
        body["sensitivity"] = Sensitivity(write.sensitivity).value
    if "location" in fields or "location_email" in fields:
        location: dict[str, Any] = {"displayName": write.location or ""}
        if write.location_email:
            location["locationEmailAddress"] = write.location_email
        location["locationType"] = "conferenceRoom" if write.location_email else "default"
        body["location"] = location
    if "attendees" in fields:
        body["attendees"] = [
            {
                "emailAddress": {"address": a.email, **({"name": a.name} if a.name else {})},
                "@odata.type": "#microsoft.graph.attendee",
                "type": AttendeeType(a.role.value).value,
            }
            for a in (write.attendees or ())
        ]
    if "categories" in fields:
        body["categories"] = list(write.categories or ())
    if write.erp_stamp is not None:
        body["singleValueExtendedProperties"] = [{"id": ERP_STAMP_PROPERTY, "value": write.erp_stamp}]
    if write.transaction_id is not None:
        body["transactionId"] = write.transaction_id
    if "recurrence" in fields and write.recurrence is not None:
        body["recurrence"] = recurrence_json(write)
    return body
