"""Validation and expansion of a Graph ``patternedRecurrence`` (page "patternedRecurrence resource type")."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from dateutil import rrule  # type: ignore[import-untyped]

from emulators.graph.errors import GraphError, body_read_error
from emulators.graph.timezones import zone

PATTERN_TYPES = ("daily", "weekly", "absoluteMonthly", "relativeMonthly", "absoluteYearly", "relativeYearly")
RANGE_TYPES = ("endDate", "noEnd", "numbered")
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
INDEXES = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}
# Graph's dayOfWeek enum order: Exchange keeps the days as a bit mask, so they come back in this order.
WEEK_ORDER = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
PATTERN_FIELDS = frozenset({"type", "interval", "month", "dayOfMonth", "daysOfWeek", "firstDayOfWeek", "index"})
RANGE_FIELDS = frozenset({"type", "startDate", "endDate", "recurrenceTimeZone", "numberOfOccurrences"})
_RR_DAYS = (rrule.MO, rrule.TU, rrule.WE, rrule.TH, rrule.FR, rrule.SA, rrule.SU)
# A series without end is expanded at most this far; calendar views are bounded anyway.
_MAX_OCCURRENCES = 5000


def _enum(value: Any, allowed: tuple[str, ...] | dict[str, int], what: str) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise body_read_error(f"Requested value '{value}' was not found. (property '{what}')")
    return value


def _known(value: dict[str, Any], allowed: frozenset[str], type_name: str) -> None:
    """A property the type does not define is a 400, as for the event itself."""
    for key in value:
        if not key.startswith("@odata.") and key not in allowed:
            raise body_read_error(
                f"The property '{key}' does not exist on type 'microsoft.graph.{type_name}'. Make sure to only use "
                "property names that are defined by the type or mark the type as open type."
            )


def normalize(recurrence: dict[str, Any], *, start_day: date, start_tz: str) -> dict[str, Any]:
    """Check a recurrence as Graph does and fill Graph's defaults; returns the stored form.

    ``range.recurrenceTimeZone`` may be a Windows or an IANA name, like the event's own zones; an unknown
    name is the same 400 as an unknown start zone (page "recurrenceRange resource type"); without one the
    event's start zone is used and returned. Days come back in Graph's week order, whatever order was sent.
    """
    _known(recurrence, frozenset({"pattern", "range"}), "patternedRecurrence")
    pattern = recurrence.get("pattern")
    rng = recurrence.get("range")
    if not isinstance(pattern, dict) or not isinstance(rng, dict):
        raise GraphError(400, "ErrorInvalidRequest", "Recurrence requires both a pattern and a range.")
    _known(pattern, PATTERN_FIELDS, "recurrencePattern")
    _known(rng, RANGE_FIELDS, "recurrenceRange")
    ptype = _enum(pattern.get("type"), PATTERN_TYPES, "pattern.type")
    interval = pattern.get("interval", 1)
    if not isinstance(interval, int) or interval < 1:
        raise GraphError(400, "ErrorInvalidRequest", "The recurrence pattern interval must be at least 1.")
    days = pattern.get("daysOfWeek") or []
    if not isinstance(days, list):
        raise body_read_error("daysOfWeek must be a collection of dayOfWeek values.")
    for d in days:
        _enum(d, DAYS, "daysOfWeek")
    days = [d for d in WEEK_ORDER if d in days]
    time_zone = rng.get("recurrenceTimeZone") or start_tz
    zone(str(time_zone))
    first_day = _enum(pattern.get("firstDayOfWeek", "sunday"), DAYS, "firstDayOfWeek")
    index = _enum(pattern.get("index", "first"), INDEXES, "index")
    month = int(pattern.get("month") or 0)
    day_of_month = int(pattern.get("dayOfMonth") or 0)
    if ptype in ("weekly", "relativeMonthly", "relativeYearly") and not days:
        raise GraphError(400, "ErrorInvalidRequest", f"A {ptype} recurrence pattern requires daysOfWeek.")
    if ptype in ("absoluteMonthly", "absoluteYearly") and not 1 <= day_of_month <= 31:
        raise GraphError(400, "ErrorInvalidRequest", f"A {ptype} recurrence pattern requires dayOfMonth.")
    if ptype in ("absoluteYearly", "relativeYearly") and not 1 <= month <= 12:
        raise GraphError(400, "ErrorInvalidRequest", f"A {ptype} recurrence pattern requires month.")
    rtype = _enum(rng.get("type"), RANGE_TYPES, "range.type")
    try:
        range_start = date.fromisoformat(str(rng.get("startDate")))
    except ValueError:
        raise GraphError(400, "ErrorInvalidRequest", "The recurrence range requires a startDate.") from None
    if range_start != start_day:
        raise GraphError(
            400, "ErrorInvalidRequest", "The recurrence range startDate must be the same day as the event start."
        )
    end_date = "0001-01-01"
    count = 0
    if rtype == "endDate":
        try:
            end = date.fromisoformat(str(rng.get("endDate")))
        except ValueError:
            raise GraphError(400, "ErrorInvalidRequest", "An endDate recurrence range requires endDate.") from None
        if end < range_start:
            raise GraphError(400, "ErrorInvalidRequest", "The recurrence range endDate is before its startDate.")
        end_date = end.isoformat()
    if rtype == "numbered":
        wanted = rng.get("numberOfOccurrences")
        if not isinstance(wanted, int) or wanted < 1:
            raise GraphError(400, "ErrorInvalidRequest", "A numbered recurrence range requires numberOfOccurrences.")
        count = wanted
    return {
        "pattern": {
            "type": ptype,
            "interval": interval,
            "month": month,
            "dayOfMonth": day_of_month,
            "daysOfWeek": list(days),
            "firstDayOfWeek": first_day,
            "index": index,
        },
        "range": {
            "type": rtype,
            "startDate": range_start.isoformat(),
            "endDate": end_date,
            "recurrenceTimeZone": str(time_zone),
            "numberOfOccurrences": count,
        },
    }


def _rule(recurrence: dict[str, Any], dtstart: datetime) -> rrule.rrule:
    p = recurrence["pattern"]
    r = recurrence["range"]
    days = [_RR_DAYS[DAYS.index(d)] for d in p["daysOfWeek"]]
    kwargs: dict[str, Any] = {"dtstart": dtstart, "interval": p["interval"], "wkst": DAYS.index(p["firstDayOfWeek"])}
    ptype = p["type"]
    if ptype == "daily":
        freq = rrule.DAILY
    elif ptype == "weekly":
        freq = rrule.WEEKLY
        kwargs["byweekday"] = days
    elif ptype == "absoluteMonthly":
        freq = rrule.MONTHLY
        kwargs["bymonthday"] = p["dayOfMonth"]
    elif ptype == "relativeMonthly":
        freq = rrule.MONTHLY
        kwargs["byweekday"] = [d(INDEXES[p["index"]]) for d in days]
    elif ptype == "absoluteYearly":
        freq = rrule.YEARLY
        kwargs.update(bymonth=p["month"], bymonthday=p["dayOfMonth"])
    else:
        freq = rrule.YEARLY
        kwargs.update(bymonth=p["month"], byweekday=[d(INDEXES[p["index"]]) for d in days])
    if r["type"] == "numbered":
        kwargs["count"] = r["numberOfOccurrences"]
    elif r["type"] == "endDate":
        end_day = date.fromisoformat(r["endDate"])
        kwargs["until"] = datetime.combine(end_day, time(23, 59, 59), tzinfo=dtstart.tzinfo)
    return rrule.rrule(freq, **kwargs)


def occurrence_starts(
    recurrence: dict[str, Any], *, start_local: datetime, start_tz: str, until: datetime
) -> Iterator[datetime]:
    """Original starts (UTC) of the series, in order, up to ``until`` (exclusive)."""
    tz = zone(recurrence["range"].get("recurrenceTimeZone") or start_tz)
    dtstart = start_local.replace(tzinfo=zone(start_tz)).astimezone(tz)
    for n, local in enumerate(_rule(recurrence, dtstart)):
        if n >= _MAX_OCCURRENCES:
            return
        # Re-attach the zone so wall-clock time holds across DST changes.
        moment = local.replace(tzinfo=tz).astimezone(UTC)
        if moment >= until:
            return
        yield moment


def occurrence_key(original_start_utc: datetime) -> str:
    return original_start_utc.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def parse_occurrence_key(key: str) -> datetime:
    return datetime.strptime(key, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def duration(start_utc: datetime, end_utc: datetime) -> timedelta:
    return end_utc - start_utc
