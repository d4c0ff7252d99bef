"""Timer schedules: six-field NCRONTAB and TimeSpan, as the Functions timer trigger reads them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from emulators.functions_host.ncrontab import CronSchedule, IntervalSchedule, parse_schedule


def test_every_five_minutes_fires_on_the_next_multiple() -> None:
    """``0 */5 * * * *`` fires at second 0 of every fifth minute (Functions timer trigger, NCRONTAB examples)."""
    schedule = parse_schedule("0 */5 * * * *")
    assert schedule.next_after(datetime(2026, 3, 1, 10, 7, 30, tzinfo=UTC)) == datetime(2026, 3, 1, 10, 10, tzinfo=UTC)


def test_next_occurrence_is_strictly_after_the_moment() -> None:
    """An occurrence equal to the given moment is not returned again, so a timer never fires twice at once."""
    schedule = parse_schedule("0 */5 * * * *")
    moment = datetime(2026, 3, 1, 10, 10, tzinfo=UTC)
    assert schedule.next_after(moment) == moment + timedelta(minutes=5)


def test_weekday_names_and_ranges() -> None:
    """``0 30 9 * * Mon-Fri`` fires at 09:30 on weekdays only (NCRONTAB: day names, ranges)."""
    schedule = parse_schedule("0 30 9 * * Mon-Fri")
    saturday = datetime(2026, 3, 7, 12, 0, tzinfo=UTC)
    assert schedule.next_after(saturday) == datetime(2026, 3, 9, 9, 30, tzinfo=UTC)


def test_day_of_month_and_weekday_must_both_match() -> None:
    """``0 0 0 13 * Fri`` is Friday the 13th: NCrontab requires both day fields to match."""
    schedule = parse_schedule("0 0 0 13 * Fri")
    assert schedule.next_after(datetime(2026, 1, 1, tzinfo=UTC)) == datetime(2026, 2, 13, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("0 0 0 * * Fri", datetime(2026, 1, 2, tzinfo=UTC)),  # day of week alone: every Friday
        ("0 0 0 15 * *", datetime(2026, 1, 15, tzinfo=UTC)),  # day of month alone: every 15th
        ("0 0 0 29 Feb Mon", datetime(2044, 2, 29, tzinfo=UTC)),  # both: a leap day that is a Monday
    ],
)
def test_one_day_field_restricted_alone_or_both_together(expression: str, expected: datetime) -> None:
    """A ``*`` day field matches any day; two restricted ones must both match (NCrontab, not Vixie cron's OR)."""
    assert parse_schedule(expression).next_after(datetime(2026, 1, 1, tzinfo=UTC)) == expected


def test_month_names_and_lists() -> None:
    """``0 0 6 1 Jan,Jul *`` fires on 1 January and 1 July at 06:00 (NCRONTAB: month names, lists)."""
    schedule = parse_schedule("0 0 6 1 Jan,Jul *")
    assert schedule.next_after(datetime(2026, 2, 1, tzinfo=UTC)) == datetime(2026, 7, 1, 6, tzinfo=UTC)


def test_schedule_keeps_the_time_zone_of_the_moment() -> None:
    """Occurrences are computed in the host's zone (WEBSITE_TIME_ZONE, UTC by default)."""
    zone = ZoneInfo("Europe/Berlin")
    schedule = parse_schedule("0 0 8 * * *")
    assert schedule.next_after(datetime(2026, 6, 1, 9, 0, tzinfo=zone)) == datetime(2026, 6, 2, 8, 0, tzinfo=zone)


def test_timespan_schedule_fires_at_an_interval() -> None:
    """A ``hh:mm:ss`` schedule fires every interval (Functions timer trigger, TimeSpan)."""
    schedule = parse_schedule("00:00:30")
    assert isinstance(schedule, IntervalSchedule)
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    assert schedule.next_after(moment) == moment + timedelta(seconds=30)


@pytest.mark.parametrize("expression", ["*/5 * * * *", "0 61 * * * *", "0 0 0 31 Feb *", "0 */0 * * * *"])
def test_invalid_or_impossible_expressions_are_refused(expression: str) -> None:
    """Five fields, out-of-range values, zero steps and dates that never occur are errors, not silent no-ops."""
    with pytest.raises(ValueError, match=r"."):
        CronSchedule.parse(expression).next_after(datetime(2026, 1, 1, tzinfo=UTC))
