"""Time zones as Graph takes them: Windows names ("Pacific Standard Time") or IANA names ("Europe/Paris")."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from emulators.graph.errors import GraphError

# The common part of CLDR's windowsZones.xml ("001" territory); enough for the project's tenants.
WINDOWS_TO_IANA: dict[str, str] = {
    "UTC": "UTC",
    "Coordinated Universal Time": "UTC",
    "GMT Standard Time": "Europe/London",
    "Greenwich Standard Time": "Atlantic/Reykjavik",
    "W. Europe Standard Time": "Europe/Berlin",
    "Central Europe Standard Time": "Europe/Budapest",
    "Central European Standard Time": "Europe/Warsaw",
    "Romance Standard Time": "Europe/Paris",
    "E. Europe Standard Time": "Europe/Chisinau",
    "FLE Standard Time": "Europe/Kiev",
    "GTB Standard Time": "Europe/Bucharest",
    "Russian Standard Time": "Europe/Moscow",
    "Turkey Standard Time": "Europe/Istanbul",
    "Israel Standard Time": "Asia/Jerusalem",
    "South Africa Standard Time": "Africa/Johannesburg",
    "Arabian Standard Time": "Asia/Dubai",
    "India Standard Time": "Asia/Calcutta",
    "China Standard Time": "Asia/Shanghai",
    "Singapore Standard Time": "Asia/Singapore",
    "Tokyo Standard Time": "Asia/Tokyo",
    "Korea Standard Time": "Asia/Seoul",
    "AUS Eastern Standard Time": "Australia/Sydney",
    "E. Australia Standard Time": "Australia/Brisbane",
    "W. Australia Standard Time": "Australia/Perth",
    "New Zealand Standard Time": "Pacific/Auckland",
    "Hawaiian Standard Time": "Pacific/Honolulu",
    "Alaskan Standard Time": "America/Anchorage",
    "Pacific Standard Time": "America/Los_Angeles",
    "Mountain Standard Time": "America/Denver",
    "US Mountain Standard Time": "America/Phoenix",
    "Central Standard Time": "America/Chicago",
    "Eastern Standard Time": "America/New_York",
    "Atlantic Standard Time": "America/Halifax",
    "Newfoundland Standard Time": "America/St_Johns",
    "E. South America Standard Time": "America/Sao_Paulo",
    "Argentina Standard Time": "America/Buenos_Aires",
    "SA Pacific Standard Time": "America/Bogota",
    "Central Standard Time (Mexico)": "America/Mexico_City",
}
try:
    # CLDR's full windowsZones table, as tzlocal ships it (a project dependency).
    from tzlocal.windows_tz import win_tz as _CLDR
except ImportError:  # pragma: no cover - the short table above still covers the common zones
    _CLDR = {}
_LOWER = {k.lower(): v for k, v in {**_CLDR, **WINDOWS_TO_IANA}.items()}

# A date alone is accepted too (Graph takes "2019-11-11" for all-day events, docs issue 6129).
_DATETIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?)?$")


def zone(name: str) -> ZoneInfo:
    """A zone from a Windows or IANA name; Graph's 400 for anything else."""
    key = name.strip().strip('"')
    iana = _LOWER.get(key.lower(), key)
    try:
        return ZoneInfo(iana)
    except (ZoneInfoNotFoundError, ValueError):
        raise GraphError(
            400,
            "TimeZoneNotSupportedException",
            f"A valid TimeZone value must be specified. The following TimeZone value is not supported: '{key}'.",
        ) from None


def parse_local(text: str) -> datetime:
    """The naive ``dateTime`` of a dateTimeTimeZone (7 fractional digits allowed, no offset)."""
    m = _DATETIME.match(text.strip())
    if not m:
        raise GraphError(
            400, "RequestBodyRead", f"Cannot convert the literal '{text}' to the expected type 'Edm.String'."
        )
    y, mo, d, h, mi, s, frac = m.groups()
    micro = int((frac or "0").ljust(7, "0")[:6])
    try:
        return datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0), micro)  # noqa: DTZ001
    except ValueError:
        raise GraphError(400, "RequestBodyRead", f"The dateTime '{text}' is not valid.") from None


def to_utc(local: datetime, zone_name: str) -> datetime:
    return local.replace(tzinfo=zone(zone_name)).astimezone(UTC)


def format_local(moment: datetime, zone_name: str) -> str:
    """Graph's dateTime text: ``2026-12-01T10:00:00.0000000`` in the given zone."""
    local = moment.astimezone(zone(zone_name))
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond:06d}0"


def format_utc_stamp(moment: datetime) -> str:
    """Graph's timestamp text for createdDateTime and friends: ``2026-12-01T10:00:00.1234567Z``."""
    m = moment.astimezone(UTC)
    return m.strftime("%Y-%m-%dT%H:%M:%S.") + f"{m.microsecond:06d}0Z"


def parse_query_moment(text: str) -> datetime:
    """A ``startDateTime``/``endDateTime`` query value: ISO 8601; an offset sets the zone, none means UTC."""
    raw = text.strip().replace(" ", "+")
    if raw.endswith("Z"):
        raw = raw[:-1] + "+00:00"
    frac = re.search(r"\.(\d+)", raw)
    if frac and len(frac.group(1)) > 6:
        raw = raw.replace(frac.group(0), "." + frac.group(1)[:6])
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise GraphError(
            400, "ErrorInvalidParameter", f"The value '{text}' of parameter 'StartDateTime' is invalid."
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def midnight(day: date, zone_name: str) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone(zone_name)).astimezone(UTC)


def day_span(start: date, end: date) -> int:
    return (end - start) // timedelta(days=1)
