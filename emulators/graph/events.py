"""The event resource: input checks as Graph does them, and the JSON Graph answers with (page "event resource type")."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from emulators.graph import ids
from emulators.graph.errors import GraphError, body_read_error
from emulators.graph.model import OccurrenceOverride, StoredEvent
from emulators.graph.timezones import format_local, format_utc_stamp, parse_local, to_utc, zone

SHOW_AS = ("free", "tentative", "busy", "oof", "workingElsewhere", "unknown")
SENSITIVITY = ("normal", "personal", "private", "confidential")
IMPORTANCE = ("low", "normal", "high")
ATTENDEE_TYPES = ("required", "optional", "resource")
RESPONSES = ("none", "organizer", "tentativelyAccepted", "accepted", "declined", "notResponded")
BODY_TYPES = ("text", "html")
LOCATION_TYPES = (
    "default",
    "conferenceRoom",
    "homeAddress",
    "businessAddress",
    "geoCoordinates",
    "streetAddress",
    "hotel",
    "restaurant",
    "localBusiness",
    "postalAddress",
)
MEETING_PROVIDERS = ("unknown", "teamsForBusiness", "skypeForBusiness", "skypeForConsumer")
MAX_ATTENDEES = 500

WRITABLE = frozenset(
    {
        "allowNewTimeProposals",
        "attendees",
        "body",
        "categories",
        "end",
        "hideAttendees",
        "importance",
        "isAllDay",
        "isOnlineMeeting",
        "isReminderOn",
        "location",
        "locations",
        "onlineMeetingProvider",
        "recurrence",
        "reminderMinutesBeforeStart",
        "responseRequested",
        "sensitivity",
        "showAs",
        "start",
        "subject",
        "transactionId",
        "singleValueExtendedProperties",
        "originalStartTimeZone",
        "originalEndTimeZone",
    }
)
# Read-only properties that a client may echo back; Graph ignores them.
IGNORED = frozenset(
    {
        "id",
        "createdDateTime",
        "lastModifiedDateTime",
        "changeKey",
        "iCalUId",
        "uid",
        "webLink",
        "type",
        "seriesMasterId",
        "isCancelled",
        "isOrganizer",
        "isDraft",
        "responseStatus",
        "bodyPreview",
        "hasAttachments",
        "onlineMeetingUrl",
        "onlineMeeting",
        "originalStart",
        "organizer",
        "occurrenceId",
        "cancelledOccurrences",
        "exceptionOccurrences",
    }
)
# Fields the organizer owns; copied into attendees' copies on every organizer edit.
SHARED_FIELDS = (
    "subject",
    "body",
    "importance",
    "sensitivity",
    "location",
    "locations",
    "attendees",
    "isOnlineMeeting",
    "onlineMeetingProvider",
    "allowNewTimeProposals",
    "hideAttendees",
    "responseRequested",
)


def _enum(value: Any, allowed: tuple[str, ...], prop: str) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise body_read_error(
            f"Cannot convert the literal '{value}' to the expected type 'microsoft.graph.{prop}'. "
            f"Requested value '{value}' was not found."
        )
    return value


def _email(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise GraphError(400, "ErrorInvalidRequest", f"{where} requires an emailAddress.")
    address = value.get("address")
    if not isinstance(address, str) or "@" not in address:
        raise GraphError(400, "ErrorInvalidRecipients", f"{where} has an invalid email address '{address}'.")
    return {"name": str(value.get("name") or address), "address": address}


def _location(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise body_read_error("A location must be an object.")
    out: dict[str, Any] = {
        "displayName": str(value.get("displayName") or ""),
        "locationType": _enum(value.get("locationType", "default"), LOCATION_TYPES, "locationType"),
        "uniqueIdType": str(value.get("uniqueIdType") or ("unknown" if not value.get("uniqueId") else "private")),
    }
    if value.get("locationEmailAddress"):
        out["locationEmailAddress"] = str(value["locationEmailAddress"])
    if value.get("uniqueId"):
        out["uniqueId"] = str(value["uniqueId"])
    if isinstance(value.get("address"), dict):
        out["address"] = dict(value["address"])
    return out


def check_properties(body: dict[str, Any]) -> dict[str, Any]:
    """Validate the writable properties present in ``body``; returns them normalised (start/end untouched)."""
    out: dict[str, Any] = {}
    for key, value in body.items():
        if key.startswith("@odata.") or key in IGNORED:
            continue
        if key not in WRITABLE:
            raise body_read_error(
                f"The property '{key}' does not exist on type 'microsoft.graph.event'. Make sure to only use "
                "property names that are defined by the type or mark the type as open type."
            )
        out[key] = _check_value(key, value)
    return out


def _check_value(key: str, value: Any) -> Any:
    if value is None:
        return None
    if key == "showAs":
        return _enum(value, SHOW_AS, "freeBusyStatus")
    if key == "sensitivity":
        return _enum(value, SENSITIVITY, "sensitivity")
    if key == "importance":
        return _enum(value, IMPORTANCE, "importance")
    if key == "onlineMeetingProvider":
        return _enum(value, MEETING_PROVIDERS, "onlineMeetingProviderType")
    if key == "body":
        if not isinstance(value, dict):
            raise body_read_error("The body must be an itemBody object.")
        return {
            "contentType": _enum(value.get("contentType", "text"), BODY_TYPES, "bodyType"),
            "content": str(value.get("content") or ""),
        }
    if key == "categories":
        if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
            raise body_read_error("categories must be a collection of strings.")
        return list(value)
    if key == "attendees":
        if not isinstance(value, list):
            raise body_read_error("attendees must be a collection.")
        if len(value) > MAX_ATTENDEES:
            raise GraphError(400, "ErrorInvalidRequest", f"An event can have at most {MAX_ATTENDEES} attendees.")
        attendees = []
        for a in value:
            if not isinstance(a, dict):
                raise body_read_error("An attendee must be an object.")
            status = a.get("status") or {}
            attendees.append(
                {
                    "type": _enum(a.get("type", "required"), ATTENDEE_TYPES, "attendeeType"),
                    "status": {
                        "response": _enum(status.get("response", "none"), RESPONSES, "responseType"),
                        "time": status.get("time") or "0001-01-01T00:00:00Z",
                    },
                    "emailAddress": _email(a.get("emailAddress"), "An attendee"),
                }
            )
        return attendees
    if key == "location":
        return _location(value)
    if key == "locations":
        if not isinstance(value, list):
            raise body_read_error("locations must be a collection.")
        return [_location(v) for v in value]
    if key == "singleValueExtendedProperties":
        if not isinstance(value, list):
            raise body_read_error("singleValueExtendedProperties must be a collection.")
        props = []
        for p in value:
            if not isinstance(p, dict) or not isinstance(p.get("id"), str) or "value" not in p:
                raise GraphError(400, "ErrorInvalidProperty", "An extended property needs an id and a value.")
            if not re.match(r"^\w+ (\{[0-9a-fA-F-]{36}\} (Name \S.*|Id 0x[0-9a-fA-F]+)|0x[0-9a-fA-F]+)$", p["id"]):
                raise GraphError(400, "ErrorInvalidProperty", f"The extended property id '{p['id']}' is not valid.")
            props.append({"id": p["id"], "value": str(p["value"])})
        return props
    if key in ("isAllDay", "isOnlineMeeting", "isReminderOn", "responseRequested", "allowNewTimeProposals"):
        if not isinstance(value, bool):
            raise body_read_error(f"Cannot convert the literal '{value}' to the expected type 'Edm.Boolean'.")
        return value
    if key == "hideAttendees":
        return bool(value)
    if key == "reminderMinutesBeforeStart":
        if not isinstance(value, int):
            raise body_read_error(f"Cannot convert the literal '{value}' to the expected type 'Edm.Int32'.")
        return value
    if key in ("start", "end"):
        if not isinstance(value, dict) or not isinstance(value.get("dateTime"), str):
            raise body_read_error(f"'{key}' must be a dateTimeTimeZone with a dateTime.")
        tz = str(value.get("timeZone") or "UTC")
        zone(tz)
        return {"dateTime": value["dateTime"], "timeZone": tz}
    if key == "recurrence":
        if not isinstance(value, dict):
            raise body_read_error("recurrence must be a patternedRecurrence object.")
        return value
    if key in ("subject", "transactionId", "originalStartTimeZone", "originalEndTimeZone"):
        return str(value)
    return value


def check_times(start: dict[str, Any], end: dict[str, Any], *, is_all_day: bool) -> tuple[datetime, str, datetime, str]:
    """Graph's time rules: end not before start; all-day is midnight to midnight in one zone."""
    s_local, e_local = parse_local(start["dateTime"]), parse_local(end["dateTime"])
    s_tz, e_tz = start["timeZone"], end["timeZone"]
    s_utc, e_utc = to_utc(s_local, s_tz), to_utc(e_local, e_tz)
    if e_utc < s_utc:
        raise GraphError(400, "ErrorInvalidRequest", "The end time of the event must be after its start time.")
    if is_all_day:
        midnight = s_local.time() == e_local.time() == datetime.min.time()
        if not midnight or zone(s_tz).key != zone(e_tz).key or e_local <= s_local:
            raise GraphError(
                400,
                "ErrorInvalidRequest",
                "Your request can't be completed. If the event is an all-day event, the start and end time must "
                "be midnight in the same time zone and the end must be at least one day after the start.",
            )
    return s_local, s_tz, e_local, e_tz


@dataclass(frozen=True, kw_only=True)
class Prefer:
    """The ``Prefer`` header preferences Graph honours for events."""

    time_zone: str | None = None
    body_type: str | None = None
    immutable_id: bool = False
    max_page_size: int | None = None

    def applied(self) -> str:
        parts = []
        if self.time_zone:
            parts.append(f'outlook.timezone="{self.time_zone}"')
        if self.body_type:
            parts.append(f'outlook.body-content-type="{self.body_type}"')
        if self.immutable_id:
            parts.append('IdType="ImmutableId"')
        if self.max_page_size:
            parts.append(f"odata.maxpagesize={self.max_page_size}")
        return ", ".join(parts)


def parse_prefer(values: list[str]) -> Prefer:
    tz = body = None
    immutable = False
    page: int | None = None
    for header in values:
        for part in re.findall(r'[^,;]+?=(?:"[^"]*"|[^,;]*)|[^,;=]+', header):
            name, _, raw = part.strip().partition("=")
            value = raw.strip().strip('"')
            low = name.strip().lower()
            if low == "outlook.timezone":
                zone(value)
                tz = value
            elif low == "outlook.body-content-type":
                body = _enum(value, BODY_TYPES, "bodyType")
            elif low == "idtype" and value.lower() == "immutableid":
                immutable = True
            elif low == "odata.maxpagesize" and value.isdigit() and int(value) > 0:
                page = int(value)
    return Prefer(time_zone=tz, body_type=body, immutable_id=immutable, max_page_size=page)


def html_of(text: str) -> str:
    escaped = html.escape(text).replace("\n", "<br>\r\n")
    return (
        '<html>\r\n<head>\r\n<meta http-equiv="Content-Type" content="text/html; charset=utf-8">\r\n</head>\r\n'
        f"<body>\r\n{escaped}\r\n</body>\r\n</html>\r\n"
    )


def text_of(markup: str) -> str:
    no_head = re.sub(r"(?is)<head.*?</head>", "", markup)
    with_breaks = re.sub(r"(?i)<br\s*/?>", "\n", no_head)
    return html.unescape(re.sub(r"<[^>]+>", "", with_breaks)).strip()


def render_body(body: dict[str, Any] | None, want: str | None) -> tuple[dict[str, str], str]:
    """The body in the preferred content type (html by default) and its preview."""
    body = body or {"contentType": "text", "content": ""}
    plain = body["content"] if body["contentType"] == "text" else text_of(body["content"])
    if (want or "html") == "text":
        out = {"contentType": "text", "content": plain}
    else:
        out = {
            "contentType": "html",
            "content": body["content"] if body["contentType"] == "html" else (html_of(plain) if plain else ""),
        }
    return out, plain[:255]


@dataclass(frozen=True, kw_only=True)
class Instance:
    """What a calendar view shows: a single instance, an occurrence or an exception."""

    id: str
    event: StoredEvent
    kind: str  # singleInstance | occurrence | exception | seriesMaster
    start_utc: datetime
    end_utc: datetime
    change_key: str
    original_start: datetime | None = None
    override: OccurrenceOverride | None = None


def event_times_utc(ev: StoredEvent) -> tuple[datetime, datetime]:
    return to_utc(ev.start_local, ev.start_tz), to_utc(ev.end_local, ev.end_tz)


def _when(moment: datetime, *, all_day: bool, native_tz: str, out_tz: str) -> dict[str, str]:
    if all_day:
        # All-day events float: midnight of the event's own date (in its zone) in whatever zone is asked for.
        # The date is the nearest midnight in the event's zone: an occurrence's bounds are a whole number of
        # 24 hours from the series' and so sit an hour off midnight across a DST change.
        day = (moment.astimezone(zone(native_tz)) + timedelta(hours=12)).date()
        return {"dateTime": day.isoformat() + "T00:00:00.0000000", "timeZone": out_tz}
    return {"dateTime": format_local(moment, out_tz), "timeZone": out_tz}


def render(
    inst: Instance,
    *,
    prefer: Prefer,
    base_web: str,
    expand_extended: str | None = None,
    select: set[str] | None = None,
) -> dict[str, Any]:
    """The JSON Graph returns for one event or instance."""
    ev = inst.event
    ov = inst.override
    props = dict(ev.props)
    if ov:
        props.update(ov.props)
    out_tz = prefer.time_zone or "UTC"
    body, preview = render_body(props.get("body"), prefer.body_type)
    modified = ov.last_modified if ov and ov.last_modified else ev.last_modified
    ical = (
        ids.occurrence_ical_uid(ev.ical_uid, inst.original_start.astimezone(UTC).date())
        if inst.kind in ("occurrence", "exception") and inst.original_start is not None
        else ev.ical_uid
    )
    if inst.kind == "seriesMaster":
        start_utc, end_utc = event_times_utc(ev)
    else:
        start_utc, end_utc = inst.start_utc, inst.end_utc
    location = props.get("location") or {"displayName": "", "locationType": "default", "uniqueIdType": "unknown"}
    data: dict[str, Any] = {
        "@odata.etag": f'W/"{inst.change_key}"',
        "id": inst.id,
        "createdDateTime": format_utc_stamp(ev.created),
        "lastModifiedDateTime": format_utc_stamp(modified),
        "changeKey": inst.change_key,
        "categories": props.get("categories") or [],
        "transactionId": ev.transaction_id if inst.kind in ("singleInstance", "seriesMaster") else None,
        "originalStartTimeZone": props.get("originalStartTimeZone") or ev.start_tz,
        "originalEndTimeZone": props.get("originalEndTimeZone") or ev.end_tz,
        "iCalUId": ical,
        "uid": ev.ical_uid,
        "reminderMinutesBeforeStart": props.get("reminderMinutesBeforeStart", 15),
        "isReminderOn": props.get("isReminderOn", True),
        "hasAttachments": bool(ev.attachments),
        "subject": props.get("subject") or "",
        "bodyPreview": preview,
        "importance": props.get("importance") or "normal",
        "sensitivity": props.get("sensitivity") or "normal",
        "isAllDay": ev.is_all_day,
        "isCancelled": ev.is_cancelled or bool(ov and ov.is_cancelled),
        "isOrganizer": ev.is_organizer,
        "responseRequested": props.get("responseRequested", True),
        "seriesMasterId": ev.id if inst.kind in ("occurrence", "exception") else None,
        "showAs": props.get("showAs") or "busy",
        "type": inst.kind,
        "webLink": f"{base_web}?itemid={inst.id}&exvsurl=1&path=/calendar/item",
        "onlineMeetingUrl": None,
        "isOnlineMeeting": props.get("isOnlineMeeting", False),
        "onlineMeetingProvider": props.get("onlineMeetingProvider") or "unknown",
        "allowNewTimeProposals": props.get("allowNewTimeProposals", True),
        "isDraft": False,
        "hideAttendees": props.get("hideAttendees", False),
        "responseStatus": (ov.response if ov and ov.response else ev.response),
        "body": body,
        "start": _when(start_utc, all_day=ev.is_all_day, native_tz=ev.start_tz, out_tz=out_tz),
        "end": _when(end_utc, all_day=ev.is_all_day, native_tz=ev.end_tz, out_tz=out_tz),
        "location": location,
        "locations": props.get("locations") or ([location] if location.get("displayName") else []),
        "recurrence": ev.recurrence if inst.kind == "seriesMaster" else None,
        "attendees": props.get("attendees") or [],
        "organizer": ev.organizer,
        "onlineMeeting": None,
    }
    if inst.kind in ("occurrence", "exception") and inst.original_start is not None:
        data["originalStart"] = format_utc_stamp(inst.original_start).replace(".0000000Z", "Z")
    if expand_extended is not None:
        wanted = [p for p in ev.extended if not expand_extended or p["id"].lower() == expand_extended.lower()]
        data["singleValueExtendedProperties"] = [dict(p) for p in wanted]
    if select:
        # An expanded navigation property is answered whatever $select lists (OData: $expand and $select are
        # independent; https://learn.microsoft.com/en-us/graph/query-parameters#expand).
        keep = {k.lower() for k in select} | {"id", "@odata.etag"}
        if expand_extended is not None:
            keep.add("singlevalueextendedproperties")
        data = {k: v for k, v in data.items() if k.lower() in keep}
    return data


def now() -> datetime:
    return datetime.now(UTC)
