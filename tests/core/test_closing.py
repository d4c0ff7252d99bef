"""R29 (shared/core/closing.py): which activities the daily close job closes."""

from __future__ import annotations

from datetime import UTC, date, datetime

from shared.core.activities import (
    ActivityChange,
    ActivityState,
    DayOfWeek,
    Origin,
    PatternType,
    RangeType,
    Recurrence,
    RecurrencePattern,
    RecurrenceRange,
)
from shared.core.closing import to_close, why_not_close
from tests.core.builders import activity

NOW = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)  # the job at 01:00 UTC
FROM_OUTLOOK = Origin(mailbox="u1@contoso.example", event_id="AAMk-1")


def test_R29_an_ended_activity_created_from_an_outlook_event_is_closed() -> None:
    """Yesterday's meeting from Outlook (origin m365), owned by the user, confirmed: closed."""
    ended = activity(origin=FROM_OUTLOOK, start=datetime(2026, 12, 1, 9), end=datetime(2026, 12, 1, 10))
    assert why_not_close(ended, owner_id="u1", now=NOW) is None


def test_R29_activities_people_created_in_the_erp_are_never_closed() -> None:
    """No origin: a person made it in the ERP; closing it is theirs to decide."""
    ended = activity(start=datetime(2026, 12, 1, 9), end=datetime(2026, 12, 1, 10))
    assert why_not_close(ended, owner_id="u1", now=NOW) == "created in the ERP"


def test_R29_an_activity_that_has_not_ended_in_its_own_zone_stays_open() -> None:
    """It ends at 02:30 Berlin time (01:30 UTC), after the job's 01:00 UTC: not closed yet."""
    running = activity(
        origin=FROM_OUTLOOK,
        start=datetime(2026, 12, 2, 1, 0),
        end=datetime(2026, 12, 2, 2, 30),
        time_zone="Europe/Berlin",
    )
    assert why_not_close(running, owner_id="u1", now=NOW) == "not ended yet"


def test_R29_an_all_day_activity_ends_at_midnight_after_its_last_day_in_its_zone() -> None:
    """All day on 1 December in Auckland ended at 11:00 UTC that day; in Honolulu it ends at 10:00 UTC the 2nd."""
    auckland = activity(
        origin=FROM_OUTLOOK,
        all_day=True,
        start=datetime(2026, 12, 1),
        end=datetime(2026, 12, 2),
        time_zone="Pacific/Auckland",
    )
    honolulu = auckland.model_copy(update={"time_zone": "Pacific/Honolulu"})
    assert why_not_close(auckland, owner_id="u1", now=NOW) is None
    assert why_not_close(honolulu, owner_id="u1", now=NOW) == "not ended yet"


def test_R7_read_only_activities_are_not_closed_twice() -> None:
    """Closed, released or voided already: the job leaves them alone."""
    for state in (ActivityState.CLOSED, ActivityState.RELEASED, ActivityState.VOIDED):
        done = activity(origin=FROM_OUTLOOK, state=state, start=datetime(2026, 12, 1, 9), end=datetime(2026, 12, 1, 10))
        assert why_not_close(done, owner_id="u1", now=NOW) == f"{state.value} already"


def test_R29_a_meeting_another_user_owns_is_closed_by_that_users_pass_only() -> None:
    """The user's feed holds meetings they take part in; only the owner's pass closes them (once)."""
    theirs = activity(owner_id="u2", origin=FROM_OUTLOOK, start=datetime(2026, 12, 1, 9), end=datetime(2026, 12, 1, 10))
    changes = [ActivityChange(seq=1, activity_id=theirs.id, owner_id="u2", activity=theirs)]
    assert to_close(changes, owner_id="u1", now=NOW) == []
    assert to_close(changes, owner_id="u2", now=NOW) == [theirs]


def _weekly_series(**range_fields: object) -> Recurrence:
    pattern = RecurrencePattern(type=PatternType.WEEKLY, days_of_week=(DayOfWeek.MONDAY,))
    span = RecurrenceRange.model_validate({"start_date": date(2026, 11, 2)} | range_fields)
    return Recurrence(pattern=pattern, range=span)


def test_R29_a_series_from_outlook_is_closed_only_once_its_last_occurrence_has_ended() -> None:
    """R29/R28: a weekly series of three Monday meetings from 2 November is one activity whose start and end are
    the first occurrence's; the job the night after that first Monday leaves it open (the machine found it closed
    then), and closes it the night after the third Monday, 16 November."""
    series = activity(
        origin=FROM_OUTLOOK,
        start=datetime(2026, 11, 2, 9),
        end=datetime(2026, 11, 2, 10),
        recurrence=_weekly_series(type=RangeType.NUMBERED, number_of_occurrences=3),
    )
    assert why_not_close(series, owner_id="u1", now=datetime(2026, 11, 3, 1, tzinfo=UTC)) == "not ended yet"
    assert why_not_close(series, owner_id="u1", now=datetime(2026, 11, 16, 12, tzinfo=UTC)) == "not ended yet"
    assert why_not_close(series, owner_id="u1", now=datetime(2026, 11, 17, 1, tzinfo=UTC)) is None


def test_R29_a_series_ends_on_its_end_date_and_one_with_no_end_is_never_closed() -> None:
    """R29/R28: weekly until 23 November: open on that day, closed the night after; with no end: never closed."""
    until = activity(
        origin=FROM_OUTLOOK,
        start=datetime(2026, 11, 2, 9),
        end=datetime(2026, 11, 2, 10),
        recurrence=_weekly_series(type=RangeType.END_DATE, end_date=date(2026, 11, 23)),
    )
    assert why_not_close(until, owner_id="u1", now=datetime(2026, 11, 23, 12, tzinfo=UTC)) == "not ended yet"
    assert why_not_close(until, owner_id="u1", now=datetime(2026, 11, 25, 1, tzinfo=UTC)) is None
    endless = until.model_copy(update={"recurrence": _weekly_series(type=RangeType.NO_END)})
    assert why_not_close(endless, owner_id="u1", now=NOW) == "a series with no end (R28)"


def test_R29_a_daily_series_on_weekdays_and_every_other_day_ends_on_its_last_date() -> None:
    """R29/R28: five occurrences every other day from Monday 2 November end on 10 November; Monday and Thursday
    weekly, four occurrences from Thursday 5 November, end on Monday 16 November."""
    every_other_day = activity(
        origin=FROM_OUTLOOK,
        start=datetime(2026, 11, 2, 9),
        end=datetime(2026, 11, 2, 10),
        recurrence=Recurrence(
            pattern=RecurrencePattern(type=PatternType.DAILY, interval=2),
            range=RecurrenceRange(type=RangeType.NUMBERED, start_date=date(2026, 11, 2), number_of_occurrences=5),
        ),
    )
    assert why_not_close(every_other_day, owner_id="u1", now=datetime(2026, 11, 10, 8, tzinfo=UTC)) == "not ended yet"
    assert why_not_close(every_other_day, owner_id="u1", now=datetime(2026, 11, 11, 1, tzinfo=UTC)) is None
    twice_a_week = activity(
        origin=FROM_OUTLOOK,
        start=datetime(2026, 11, 5, 9),
        end=datetime(2026, 11, 5, 10),
        recurrence=Recurrence(
            pattern=RecurrencePattern(type=PatternType.WEEKLY, days_of_week=(DayOfWeek.MONDAY, DayOfWeek.THURSDAY)),
            range=RecurrenceRange(type=RangeType.NUMBERED, start_date=date(2026, 11, 5), number_of_occurrences=4),
        ),
    )
    assert why_not_close(twice_a_week, owner_id="u1", now=datetime(2026, 11, 16, 8, tzinfo=UTC)) == "not ended yet"
    assert why_not_close(twice_a_week, owner_id="u1", now=datetime(2026, 11, 17, 1, tzinfo=UTC)) is None
