"""Timer schedules of Azure Functions: six-field NCRONTAB expressions and TimeSpan intervals.

NCRONTAB fields are ``{second} {minute} {hour} {day} {month} {day-of-week}`` with ``*``, lists, ranges,
steps and English month/day names; see
https://learn.microsoft.com/azure/azure-functions/functions-bindings-timer#ncrontab-expressions.
Day of month and day of week must both match (NCrontab semantics, e.g. "Friday the 13th").
A ``hh:mm:ss`` TimeSpan schedule fires at that interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from emulators.functions_host.host_config import parse_timespan

_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
# (lowest, highest, names whose index + offset is the value)
_FIELDS: list[tuple[int, int, list[str], int]] = [
    (0, 59, [], 0),
    (0, 59, [], 0),
    (0, 23, [], 0),
    (1, 31, [], 0),
    (1, 12, _MONTHS, 1),
    (0, 7, _DAYS, 0),  # 7 is Sunday too
]
# Long enough to meet any satisfiable date pattern, even Feb 29 on a given weekday (28-year cycle).
_SEARCH_DAYS = 366 * 29


@dataclass(frozen=True)
class CronSchedule:
    """A parsed six-field NCRONTAB expression."""

    expression: str
    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday

    @classmethod
    def parse(cls, expression: str) -> CronSchedule:
        fields = expression.split()
        if len(fields) != 6:
            raise ValueError(f"NCRONTAB needs 6 fields (second minute hour day month day-of-week): {expression!r}")
        values = [_parse_field(text, *spec) for text, spec in zip(fields, _FIELDS, strict=True)]
        weekdays = frozenset(day % 7 for day in values[5])
        return cls(
            expression,
            tuple(sorted(values[0])),
            tuple(sorted(values[1])),
            tuple(sorted(values[2])),
            frozenset(values[3]),
            frozenset(values[4]),
            weekdays,
        )

    def next_after(self, moment: datetime) -> datetime:
        """The first occurrence strictly after ``moment`` (aware), in ``moment``'s time zone."""
        zone = moment.tzinfo
        if zone is None:
            raise ValueError("moment must be timezone-aware")
        start = moment.replace(microsecond=0) + timedelta(seconds=1)
        day = start.date()
        for _ in range(_SEARCH_DAYS):
            if self._date_matches(day):
                found = self._first_time_on(day, start, zone)
                if found is not None:
                    return found
            day += timedelta(days=1)
        raise ValueError(f"schedule never fires: {self.expression!r}")

    def _date_matches(self, day: date) -> bool:
        # date.weekday(): Monday = 0; NCRONTAB: Sunday = 0.
        return day.day in self.days and day.month in self.months and (day.weekday() + 1) % 7 in self.weekdays

    def _first_time_on(self, day: date, start: datetime, zone: tzinfo) -> datetime | None:
        for hour in self.hours:
            for minute in self.minutes:
                if day == start.date() and (hour, minute) < (start.hour, start.minute):
                    continue
                for second in self.seconds:
                    candidate = datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=zone)
                    if candidate >= start:
                        return candidate
        return None


@dataclass(frozen=True)
class IntervalSchedule:
    """A TimeSpan schedule (``hh:mm:ss``): fires every interval after the previous occurrence."""

    expression: str
    interval: timedelta

    def next_after(self, moment: datetime) -> datetime:
        return moment + self.interval


Schedule = CronSchedule | IntervalSchedule


def parse_schedule(expression: str) -> Schedule:
    """A timer trigger's ``schedule``: NCRONTAB when it has spaces, else a TimeSpan."""
    if " " in expression.strip():
        return CronSchedule.parse(expression)
    interval = parse_timespan(expression)
    if interval <= timedelta(0):
        raise ValueError(f"a TimeSpan schedule must be positive: {expression!r}")
    return IntervalSchedule(expression, interval)


def _parse_field(text: str, lowest: int, highest: int, names: list[str], offset: int) -> set[int]:
    values: set[int] = set()
    for item in text.split(","):
        base, _, step_text = item.partition("/")
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ValueError(f"step must be positive in {text!r}")
        if base == "*":
            first, last = lowest, highest
        elif "-" in base:
            first_text, last_text = base.split("-", 1)
            first, last = _value(first_text, names, offset), _value(last_text, names, offset)
        else:
            first = _value(base, names, offset)
            last = highest if step_text else first
        if not (lowest <= first <= highest and lowest <= last <= highest) or first > last:
            raise ValueError(f"{item!r} is outside {lowest}-{highest}")
        values.update(range(first, last + 1, step))
    return values


def _value(text: str, names: list[str], offset: int) -> int:
    lowered = text.strip().lower()
    if lowered[:3] in names and lowered.isalpha():
        return names.index(lowered[:3]) + offset
    return int(lowered)
