"""Timer schedules of Azure Functions: six-field NCRONTAB expressions and TimeSpan intervals.

NCRONTAB fields are ``{second} {minute} {hour} {day} {month} {day-of-week}`` with ``*``, lists, ranges,
steps and English month/day names; see
https://learn.microsoft.com/azure/azure-functions/functions-bindings-timer#ncrontab-expressions.
croniter does the parsing and the arithmetic (``second_at_beginning=True`` reads the seconds field first).

Day of month and day of week must both match: NCrontab checks the day of week after it has found a
day of month (``CrontabSchedule.TryGetNextOccurrence``), so ``0 0 0 13 * Fri`` is "Friday the 13th".
croniter's default is the Vixie-cron rule (either day field matches), hence ``day_or=False``.
A ``hh:mm:ss`` TimeSpan schedule fires at that interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from croniter import croniter

from emulators.functions_host.host_config import parse_timespan


def _cron(expression: str, start: datetime) -> croniter:
    return croniter(expression, start, second_at_beginning=True, day_or=False)


@dataclass(frozen=True)
class CronSchedule:
    """A six-field NCRONTAB expression, checked when parsed."""

    expression: str

    @classmethod
    def parse(cls, expression: str) -> CronSchedule:
        fields = expression.split()
        if len(fields) != 6:
            # croniter would also take five fields (no seconds); the Functions host never does.
            raise ValueError(f"NCRONTAB needs 6 fields (second minute hour day month day-of-week): {expression!r}")
        if not croniter.is_valid(expression, second_at_beginning=True):
            raise ValueError(f"not a valid NCRONTAB expression: {expression!r}")
        return cls(expression)

    def next_after(self, moment: datetime) -> datetime:
        """The first occurrence strictly after ``moment`` (aware), in ``moment``'s time zone.

        A schedule that never fires (``0 0 0 31 Feb *``) raises ``ValueError`` (croniter's errors are ones).
        """
        if moment.tzinfo is None:
            raise ValueError("moment must be timezone-aware")
        found = _cron(self.expression, moment.replace(microsecond=0)).get_next(datetime)
        assert isinstance(found, datetime)
        return found


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
