"""Time zone names: Graph speaks Windows or IANA names, the ERP and Python speak IANA (R12); and the dates
of all-day items, which are dates, not instants (R13, R14).

The Windows→IANA table is CLDR's windowsZones, as shipped by tzlocal (a well-kept copy we do not
maintain ourselves).

All-day bounds are calendar dates. Graph returns them as "floating" midnights (midnight of the event's date
in whatever zone the request asked for, page "event resource type"), the ERP as local midnights in the
activity's zone. Reading either as an instant and converting it to another zone moves the date (an event on
4 December in Berlin, read as 00:00 UTC, is 01:00 in Berlin and 19:00 on 3 December in New York). So an
all-day bound is only ever read by its own wall-clock date (``covered_days``) and written as the midnight
of that date in the item's zone (``day_bounds``), never converted.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tzlocal.windows_tz import tz_win, win_tz

_ALIASES = {
    "utc": "UTC",
    "etc/utc": "UTC",
    "gmt": "UTC",
    "z": "UTC",
    "tzone://microsoft/utc": "UTC",
    "tzone://microsoft/custom": "UTC",
}


class UnknownTimeZone(ValueError):
    """A zone name that is neither IANA nor a Windows name CLDR knows."""


def to_iana(name: str | None, *, default: str = "UTC") -> str:
    """The IANA name for a Windows or IANA zone name; ``default`` for an empty one."""
    if not name:
        return default
    alias = _ALIASES.get(name.strip().lower())
    if alias:
        return alias
    if name in win_tz:
        return win_tz[name]
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UnknownTimeZone(f"unknown time zone {name!r}") from None
    return name


def to_windows(iana: str) -> str:
    """The Windows name Outlook shows for an IANA zone (IANA itself when CLDR has no mapping)."""
    if iana == "UTC":
        return "UTC"
    return tz_win.get(iana, iana)


def zone(name: str) -> ZoneInfo:
    return ZoneInfo(to_iana(name))


def localize(wall_clock: datetime, zone_name: str) -> datetime:
    """Attach ``zone_name`` to a naive wall-clock time (an aware one is converted instead)."""
    tz = zone(zone_name)
    if wall_clock.tzinfo is None:
        return wall_clock.replace(tzinfo=tz)
    return wall_clock.astimezone(tz)


def wall_clock(moment: datetime, zone_name: str) -> datetime:
    """The naive wall-clock time of an aware ``moment`` in ``zone_name``."""
    return moment.astimezone(zone(zone_name)).replace(tzinfo=None)


def covered_days(start: datetime, end: datetime) -> tuple[date, date]:
    """The dates an all-day item covers, end exclusive, read from the bounds' own wall clocks (never
    converted to another zone): a start's date, and an end's date when it is a midnight, else the next day
    (Exchange rounds an all-day end up the same way). At least one day."""
    first = start.date()
    last = end.date() if end.time() == time(0) else end.date() + timedelta(days=1)
    return first, max(last, first + timedelta(days=1))


def day_bounds(first: date, last: date, zone_name: str) -> tuple[datetime, datetime]:
    """Midnight of ``first`` and of ``last`` (exclusive) in ``zone_name``: an all-day item's start and end.
    Where a DST change skips midnight the wall clock still reads 00:00 (the day's first moment)."""
    tz = zone(zone_name)
    return datetime.combine(first, time(0), tzinfo=tz), datetime.combine(last, time(0), tzinfo=tz)
