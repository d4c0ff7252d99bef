"""R29 (pure): which ERP activities the daily close job closes.

An activity is closed once it has ended when the sync created it from an M365 event (it has an ``origin``).
Never closed: activities people created in the ERP, ones not ended yet (end after the job's now, read in the
activity's own zone: an all-day one ends at midnight after its last day there), ones another user owns (their
own pass closes them) and read-only ones (released, closed, voided): closing is done once.

A recurring series (R28) is one activity whose ``start``/``end`` are its first occurrence's: it has ended only
when its last occurrence has. Without expanding the pattern, ``series_ended_by`` bounds that from above (the
last occurrence's date, exact for daily and weekly patterns, the range's end or the widest spacing for monthly and
yearly ones, and any moved occurrence), so the job may close a series late, never early; one with no end: never.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

from shared.core.activities import (
    Activity,
    ActivityChange,
    DayOfWeek,
    PatternType,
    RangeType,
    Recurrence,
    RecurrencePattern,
)
from shared.core.mapping import item_from_activity
from shared.core.timezones import localize

_WEEKDAY = {
    DayOfWeek(name): index
    for index, name in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))
}
# The widest gap a pattern's period can have, in days (a month of 31, a leap year).
_PERIOD_DAYS = {
    PatternType.DAILY: 1,
    PatternType.WEEKLY: 7,
    PatternType.ABSOLUTE_MONTHLY: 31,
    PatternType.RELATIVE_MONTHLY: 31,
    PatternType.ABSOLUTE_YEARLY: 366,
    PatternType.RELATIVE_YEARLY: 366,
}


def why_not_close(activity: Activity, *, owner_id: str, now: datetime) -> str | None:
    """The reason the activity stays open, or None when the close job closes it (R29)."""
    checks: list[tuple[bool, str]] = [
        (activity.origin is None, "created in the ERP"),
        (activity.owner_id != owner_id, "owned by another user"),
        (activity.read_only, f"{activity.state.value} already"),
        (activity.recurrence is not None and series_ended_by(activity) is None, "a series with no end (R28)"),
        (ended_by(activity) > now, "not ended yet"),
    ]
    return next((reason for failed, reason in checks if failed), None)


def ended_by(activity: Activity) -> datetime:
    """When the activity is over for sure: its end, or for a series a bound on its last occurrence's end."""
    end = item_from_activity(activity).end
    if activity.recurrence is None:
        return end
    return max(end, series_ended_by(activity) or datetime.max.replace(tzinfo=end.tzinfo))


def series_ended_by(activity: Activity) -> datetime | None:
    """An instant by which every occurrence of the series has ended (None: it has no end, R28): the end of the day
    of its last occurrence plus its length, and any moved occurrence's end."""
    recurrence = activity.recurrence
    assert recurrence is not None
    first = item_from_activity(activity)
    last_day = _last_day(recurrence, activity.start.date())
    if last_day is None:
        return None
    zone = recurrence.range.recurrence_time_zone or activity.time_zone
    bound = localize(datetime.combine(last_day + timedelta(days=1), datetime.min.time()), zone)
    moved = [
        localize(exception.end, activity.time_zone)
        for exception in activity.exceptions
        if exception.end is not None and not exception.cancelled
    ]
    return max([bound + (first.end - first.start), *moved])


def _last_day(recurrence: Recurrence, first: date) -> date | None:
    """The date of the series' last occurrence: exact for daily and weekly patterns; for monthly and yearly ones
    a bound (the widest month or year between occurrences), so such a series is closed late rather than early."""
    pattern, span = recurrence.pattern, recurrence.range
    start = max(span.start_date, first)
    if span.type is RangeType.END_DATE and span.end_date is not None:
        until, count = span.end_date, None
    elif span.type is RangeType.NUMBERED and span.number_of_occurrences > 0:
        until, count = None, span.number_of_occurrences
    else:
        return None
    if pattern.type is PatternType.DAILY:
        step = pattern.interval
        if count is not None:
            return start + timedelta(days=(count - 1) * step)
        assert until is not None
        return start + timedelta(days=((until - start).days // step) * step) if until >= start else start
    if pattern.type is PatternType.WEEKLY:
        return _last_weekly(pattern, start, until, count)
    if until is not None:
        return until
    assert count is not None
    return start + timedelta(days=count * pattern.interval * _PERIOD_DAYS[pattern.type])


def _last_weekly(pattern: RecurrencePattern, start: date, until: date | None, count: int | None) -> date:
    """Walk the weeks (every ``interval``-th, from the one holding ``start``) to the last occurrence."""
    week_start = start - timedelta(days=(start.weekday() - _WEEKDAY[pattern.first_day_of_week]) % 7)
    offsets = sorted({(_WEEKDAY[day] - _WEEKDAY[pattern.first_day_of_week]) % 7 for day in pattern.days_of_week})
    last, seen = start, 0
    while True:
        for offset in offsets or [(start - week_start).days]:
            day = week_start + timedelta(days=offset)
            if day < start:
                continue
            if until is not None and day > until:
                return last
            last, seen = day, seen + 1
            if count is not None and seen >= count:
                return last
        week_start += timedelta(weeks=pattern.interval)


def to_close(changes: Iterable[ActivityChange], *, owner_id: str, now: datetime) -> list[Activity]:
    """The owner's activities among ``changes`` (a feed snapshot) that the job closes, oldest end first."""
    found = {
        c.activity_id: c.activity
        for c in changes
        if c.activity is not None and not c.deleted and why_not_close(c.activity, owner_id=owner_id, now=now) is None
    }
    return sorted(found.values(), key=lambda a: (ended_by(a), a.id))
