"""R29 (shared/core/closing.py): which activities the daily close job closes."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.core.activities import ActivityChange, ActivityState, Origin
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
