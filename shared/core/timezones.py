"""Time zone names: Graph speaks Windows or IANA names, the ERP and Python speak IANA (R12).

The Windows→IANA table is CLDR's windowsZones, as shipped by tzlocal (a well-kept copy we do not
maintain ourselves).
"""

from __future__ import annotations

from datetime import datetime
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
