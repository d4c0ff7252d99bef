"""Recurring series in the reference ERP (R28): a recurrence's occurrences, and the contract's rules on
``recurrence`` and ``exceptions`` (docs/erp-sync-api.yaml, schemas ``Recurrence`` and ``OccurrenceException``).

A series is one activity: ``start``/``end`` give its first day, its time of day and each occurrence's length;
``recurrence`` (Graph's patternedRecurrence vocabulary) says on which days it repeats. Occurrences are
wall-clock times in the activity's ``timeZone``, so a 10:00 meeting stays at 10:00 across a DST change.
The rules follow Graph's ("patternedRecurrence resource type"), checked the same way on create and on the
result of a PATCH. Expansion uses python-dateutil's rrule (the reference ERP is dev-only).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, time
from itertools import islice
from typing import Any

from dateutil import rrule  # type: ignore[import-untyped]

from emulators.erp.db import check_times
from emulators.erp.problems import Problem
from shared.core.activities import (
    ActivityFields,
    DayOfWeek,
    OccurrenceException,
    PatternType,
    RangeType,
    Recurrence,
    WeekIndex,
)

# How far the reference ERP looks for an exception's occurrence (a daily series: 27 years).
MAX_OCCURRENCES = 10_000
_RR_DAYS = {
    DayOfWeek.MONDAY: rrule.MO,
    DayOfWeek.TUESDAY: rrule.TU,
    DayOfWeek.WEDNESDAY: rrule.WE,
    DayOfWeek.THURSDAY: rrule.TH,
    DayOfWeek.FRIDAY: rrule.FR,
    DayOfWeek.SATURDAY: rrule.SA,
    DayOfWeek.SUNDAY: rrule.SU,
}
_POSITION = {WeekIndex.FIRST: 1, WeekIndex.SECOND: 2, WeekIndex.THIRD: 3, WeekIndex.FOURTH: 4, WeekIndex.LAST: -1}
_NEEDS_DAYS = frozenset({PatternType.WEEKLY, PatternType.RELATIVE_MONTHLY, PatternType.RELATIVE_YEARLY})
_NEEDS_DAY_OF_MONTH = frozenset({PatternType.ABSOLUTE_MONTHLY, PatternType.ABSOLUTE_YEARLY})
_NEEDS_MONTH = frozenset({PatternType.ABSOLUTE_YEARLY, PatternType.RELATIVE_YEARLY})


def _invalid(detail: str, pointer: str | None = None) -> Problem:
    errors = [{"pointer": pointer, "detail": detail}] if pointer else None
    return Problem(422, "invalid-request", detail, errors=errors)


def _rule(recurrence: Recurrence, start: datetime) -> Any:
    """The dateutil rule of ``recurrence`` from the series' wall-clock ``start`` (naive, the activity's zone)."""
    pattern, span = recurrence.pattern, recurrence.range
    days = [_RR_DAYS[day] for day in pattern.days_of_week]
    kwargs: dict[str, Any] = {
        "dtstart": start,
        "interval": pattern.interval,
        "wkst": _RR_DAYS[pattern.first_day_of_week],
    }
    kind = pattern.type
    if kind is PatternType.DAILY:
        freq = rrule.DAILY
    elif kind is PatternType.WEEKLY:
        freq = rrule.WEEKLY
        kwargs["byweekday"] = days
    elif kind is PatternType.ABSOLUTE_MONTHLY:
        freq = rrule.MONTHLY
        kwargs["bymonthday"] = pattern.day_of_month
    elif kind is PatternType.RELATIVE_MONTHLY:
        # "The first weekday of the month": one occurrence among the listed days, as Outlook reads it.
        freq = rrule.MONTHLY
        kwargs.update(byweekday=days, bysetpos=_POSITION[pattern.index])
    elif kind is PatternType.ABSOLUTE_YEARLY:
        freq = rrule.YEARLY
        kwargs.update(bymonth=pattern.month, bymonthday=pattern.day_of_month)
    else:
        freq = rrule.YEARLY
        kwargs.update(bymonth=pattern.month, byweekday=days, bysetpos=_POSITION[pattern.index])
    if span.type is RangeType.NUMBERED:
        kwargs["count"] = span.number_of_occurrences
    elif span.type is RangeType.END_DATE and span.end_date is not None:
        kwargs["until"] = datetime.combine(span.end_date, time.max)
    return rrule.rrule(freq, **kwargs)


def occurrences(recurrence: Recurrence, start: datetime) -> Iterator[datetime]:
    """The original starts of the series' occurrences, wall clock in its zone, in order (at most MAX_OCCURRENCES)."""
    try:
        yield from islice(_rule(recurrence, start.replace(tzinfo=None)), MAX_OCCURRENCES)
    except (OverflowError, ValueError):
        return  # the pattern runs past year 9999: no further occurrences


def _occurrences_until(recurrence: Recurrence, start: datetime, last: datetime) -> set[datetime]:
    found: set[datetime] = set()
    for moment in occurrences(recurrence, start):
        if moment > last:
            break
        found.add(moment)
    return found


def check_recurrence(fields: ActivityFields, *, supported: bool) -> None:
    """Graph's rules on a patternedRecurrence, and the ERP's capability (422 ``series-not-supported``)."""
    recurrence = fields.recurrence
    if recurrence is None:
        return
    if not supported:
        raise Problem(422, "series-not-supported", "this ERP holds no recurring series; send one activity each")
    pattern, span = recurrence.pattern, recurrence.range
    kind = pattern.type.value
    at = "/recurrence/range/"
    if pattern.type in _NEEDS_DAYS and not pattern.days_of_week:
        raise _invalid(f"pattern {kind} needs daysOfWeek", "/recurrence/pattern/daysOfWeek")
    if len(set(pattern.days_of_week)) != len(pattern.days_of_week):
        raise _invalid("daysOfWeek names each day once", "/recurrence/pattern/daysOfWeek")
    if pattern.type in _NEEDS_DAY_OF_MONTH and not 1 <= pattern.day_of_month <= 31:
        raise _invalid(f"pattern {kind} needs dayOfMonth 1..31", "/recurrence/pattern/dayOfMonth")
    if pattern.type in _NEEDS_MONTH and not 1 <= pattern.month <= 12:
        raise _invalid(f"pattern {kind} needs month 1..12", "/recurrence/pattern/month")
    if span.start_date != fields.start.date():
        raise _invalid("range startDate is the date of the series' start, in its timeZone", f"{at}startDate")
    if span.end_date is not None and span.end_date < span.start_date:
        raise _invalid("range endDate is before its startDate", f"{at}endDate")
    if span.type is RangeType.END_DATE and span.end_date is None:
        raise _invalid("an endDate range needs endDate", f"{at}endDate")
    if span.type is RangeType.NUMBERED and span.number_of_occurrences < 1:
        raise _invalid("a numbered range needs numberOfOccurrences of at least 1", f"{at}numberOfOccurrences")
    if span.recurrence_time_zone is not None and span.recurrence_time_zone != fields.time_zone:
        raise _invalid("recurrenceTimeZone, when given, is the activity's timeZone", f"{at}recurrenceTimeZone")
    if next(occurrences(recurrence, fields.start), None) is None:
        raise _invalid("the recurrence gives no occurrence", "/recurrence")


def _check_exception(fields: ActivityFields, index: int, item: OccurrenceException) -> None:
    where = f"/exceptions/{index}"
    for name in ("original_start", "start", "end"):
        value: datetime | None = getattr(item, name)
        if value is not None and (value.tzinfo is not None or value.microsecond):
            raise _invalid("a wall-clock time YYYY-MM-DDThh:mm:ss without offset", f"{where}/{name}")
    overrides = (item.start, item.end, item.subject, item.description, item.location)
    if item.cancelled and any(value is not None for value in overrides):
        raise _invalid("a cancelled occurrence carries no changed fields", where)
    if (item.start is None) != (item.end is None):
        raise _invalid("a moved occurrence gives both start and end", where)
    if item.start is not None and item.end is not None:
        check_times(item.start, item.end, time_zone=fields.time_zone, all_day=fields.all_day)
    if item.subject is not None and not item.subject.strip():
        raise _invalid("subject must not be blank", f"{where}/subject")


def check_exceptions(fields: ActivityFields) -> tuple[OccurrenceException, ...]:
    """The exceptions, checked (each names an occurrence of the pattern, once) and ordered by originalStart."""
    if not fields.exceptions:
        return ()
    if fields.recurrence is None:
        raise _invalid("exceptions belong to a series: send a recurrence", "/exceptions")
    seen: set[datetime] = set()
    for index, item in enumerate(fields.exceptions):
        _check_exception(fields, index, item)
        if item.original_start in seen:
            raise _invalid("at most one exception per originalStart", f"/exceptions/{index}/originalStart")
        seen.add(item.original_start)
    named = _occurrences_until(fields.recurrence, fields.start, max(seen))
    for index, item in enumerate(fields.exceptions):
        if item.original_start not in named:
            detail = f"originalStart {item.original_start.isoformat()} is not an occurrence of the series"
            raise _invalid(detail, f"/exceptions/{index}/originalStart")
    return tuple(sorted(fields.exceptions, key=lambda item: item.original_start))


def still_named(fields: ActivityFields) -> tuple[OccurrenceException, ...]:
    """The exceptions that still name an occurrence after a PATCH changed the series but not its exceptions
    (as Graph resets exceptions when a master's pattern changes); none once ``recurrence`` is null."""
    if fields.recurrence is None or not fields.exceptions:
        return ()
    last = max(item.original_start.replace(tzinfo=None) for item in fields.exceptions)
    named = _occurrences_until(fields.recurrence, fields.start, last)
    return tuple(item for item in fields.exceptions if item.original_start in named)


def checked_series(fields: ActivityFields, *, supported: bool, keep_named_only: bool = False) -> ActivityFields:
    """``fields`` with its series rules checked and its exceptions in order; with ``keep_named_only`` (a PATCH
    that leaves ``exceptions`` out) exceptions no longer naming an occurrence are dropped instead of refused."""
    check_recurrence(fields, supported=supported)
    if keep_named_only:
        fields = fields.model_copy(update={"exceptions": still_named(fields)})
    exceptions = check_exceptions(fields)
    return fields if exceptions == fields.exceptions else fields.model_copy(update={"exceptions": exceptions})


def _clock(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


def describe(recurrence: Recurrence, exceptions: tuple[OccurrenceException, ...]) -> str:
    """One line for a person: the pattern, its range, then each exception."""
    pattern, span = recurrence.pattern, recurrence.range
    unit = {"daily": "day", "weekly": "week"}.get(pattern.type.value) or (
        "month" if "Monthly" in pattern.type.value else "year"
    )
    text = f"every {unit}" if pattern.interval == 1 else f"every {pattern.interval} {unit}s"
    if pattern.type in (PatternType.RELATIVE_MONTHLY, PatternType.RELATIVE_YEARLY):
        text += f" on the {pattern.index.value} " + " or ".join(day.value for day in pattern.days_of_week)
    elif pattern.type is PatternType.WEEKLY:
        text += " on " + ", ".join(day.value for day in pattern.days_of_week)
    elif pattern.type in _NEEDS_DAY_OF_MONTH:
        text += f" on day {pattern.day_of_month}"
    if pattern.type in _NEEDS_MONTH:
        text += f" of month {pattern.month}"
    text += f", from {span.start_date.isoformat()}"
    if span.type is RangeType.END_DATE and span.end_date is not None:
        text += f" until {span.end_date.isoformat()}"
    elif span.type is RangeType.NUMBERED:
        text += f", {span.number_of_occurrences} times"
    else:
        text += ", no end"
    for item in exceptions:
        if item.cancelled:
            text += f"; {_clock(item.original_start)} cancelled"
            continue
        changed = [name for name in ("subject", "description", "location") if getattr(item, name) is not None]
        moved = f" moved to {_clock(item.start)}" if item.start is not None else ""
        edited = f" ({', '.join(changed)} changed)" if changed else ""
        text += f"; {_clock(item.original_start)}{moved}{edited}"
    return text
