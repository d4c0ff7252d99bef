"""The pure planner's series cases (R28): what ``plan`` decides for series, with and without ERP series.

Graph facts (graph-facts §1, §4): a calendar-view delta carries occurrences and exceptions (``seriesMasterId``,
``originalStart``), never the master; moving a series gives its occurrences new ids.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from shared.core.actions import CreateActivity, UpdateActivity, VoidActivity
from shared.core.activities import Recurrence
from shared.core.items import Field
from shared.core.m365 import DeltaEntry, EventType, M365Event
from shared.core.planner import RunInput, plan
from shared.core.policy import SyncPolicy
from shared.core.series import SeriesMemo, SeriesView, exceptions_hash, m365_exceptions, pattern_hash
from shared.core.series_actions import CreateSeriesActivity, FollowOccurrence, SeriesSeen, SeriesToErp
from tests.core.builders import NOW, activity, event, link

START = NOW + timedelta(days=1)  # 2026-12-02 08:00 UTC
WINDOW = (NOW.replace(hour=0), NOW.replace(hour=0) + timedelta(days=31))
WEEKLY = Recurrence.model_validate(
    {
        "pattern": {"type": "weekly", "daysOfWeek": ["wednesday"]},
        "range": {"type": "numbered", "startDate": "2026-12-02", "numberOfOccurrences": 3},
    }
)


def _master(**overrides: object) -> M365Event:
    values: dict[str, object] = {
        "id": "M1",
        "type": EventType.SERIES_MASTER,
        "start": START,
        "end": START + timedelta(hours=1),
        "time_zone": "UTC",
        "recurrence": WEEKLY,
    }
    return event(**{**values, **overrides})


def _occurrence(n: int, *, master: str = "M1", moved: timedelta | None = None, prefix: str = "O") -> M365Event:
    original = START + timedelta(weeks=n)
    start = original + (moved or timedelta())
    return event(
        id=f"{prefix}{n}",
        ical_uid=f"ical-{prefix}{n}",  # an occurrence's own (graph-facts §4), here a new one once moved
        type=EventType.EXCEPTION if moved else EventType.OCCURRENCE,
        series_master_id=master,
        original_start=original,
        start=start,
        end=start + timedelta(hours=1),
        time_zone="UTC",
    )


def _view(master: M365Event | None, *occurrences: M365Event) -> SeriesView:
    return SeriesView(
        master_id="M1", master=master, instances=occurrences, window_start=WINDOW[0], window_end=WINDOW[1]
    )


def _run(**values: object) -> RunInput:
    base: dict[str, object] = {"user_id": "u1", "mailbox": "u1@contoso.example", "policy": SyncPolicy(), "now": NOW}
    return RunInput(**{**base, **values})  # type: ignore[arg-type]


def test_a_new_outlook_series_is_one_create_of_a_series_activity_not_one_per_occurrence() -> None:
    """R28: the delta's 3 occurrences of a new series plan ONE CreateSeriesActivity from the master."""
    occurrences = [_occurrence(n) for n in range(3)]
    result = plan(
        _run(
            links=[],
            m365_changes=[DeltaEntry(event_id=o.id, event=o) for o in occurrences],
            erp_series=True,
            series={"M1": _view(_master(), *occurrences)},
        )
    )
    assert [type(a) for a in result.actions] == [CreateSeriesActivity]


def _series_link(master: M365Event, view: SeriesView) -> object:
    act = activity(id="A1", recurrence=WEEKLY, start=datetime(2026, 12, 2, 8), end=datetime(2026, 12, 2, 9))
    memo = SeriesMemo(
        m365_pattern=pattern_hash(master.recurrence),
        erp_pattern=pattern_hash(act.recurrence),
        m365_exceptions=exceptions_hash(m365_exceptions(view, None, reset=True)),
        erp_exceptions=exceptions_hash(()),
        occurrence_ids=tuple(sorted(i.id for i in view.instances)),
        known=tuple(sorted(i.original_start for i in view.instances if i.original_start)),
    )
    return link(master, act, activity_id="A1", series=memo)


def test_an_occurrence_moved_in_outlook_is_an_exception_written_to_the_series_activity() -> None:
    """R28: a moved occurrence (``type: exception``) plans SeriesToErp with the exceptions, not an update of
    the series' fields."""
    master = _master()
    before = _view(master, *(_occurrence(n) for n in range(3)))
    series_link = _series_link(master, before)
    moved = _occurrence(1, moved=timedelta(hours=2))
    after = _view(master, _occurrence(0), moved, _occurrence(2))
    result = plan(
        _run(
            links=[series_link],
            m365_changes=[DeltaEntry(event_id=moved.id, event=moved)],
            erp_series=True,
            series={"M1": after},
        )
    )
    (action,) = result.actions
    assert isinstance(action, SeriesToErp)
    assert action.exceptions
    assert not action.pattern
    assert action.fields == frozenset()
    (exception,) = m365_exceptions(after, series_link.series, reset=False)  # type: ignore[attr-defined]
    assert exception.original_start == START + timedelta(weeks=1)
    assert exception.start == START + timedelta(weeks=1, hours=2)


def test_an_occurrence_removed_in_outlook_is_a_cancelled_exception() -> None:
    """R28: an occurrence id the series' memo names, reported removed, places its series; the occurrence
    missing from ``/instances`` is a cancelled exception."""
    master = _master()
    series_link = _series_link(master, _view(master, *(_occurrence(n) for n in range(3))))
    after = _view(master, _occurrence(0), _occurrence(1))
    result = plan(
        _run(links=[series_link], m365_changes=[DeltaEntry(event_id="O2")], erp_series=True, series={"M1": after})
    )
    (action,) = result.actions
    assert isinstance(action, SeriesToErp)
    assert action.exceptions
    (exception,) = m365_exceptions(after, series_link.series, reset=False)  # type: ignore[attr-defined]
    assert exception.cancelled
    assert exception.original_start == START + timedelta(weeks=2)


def test_a_deleted_outlook_series_voids_its_activity_once() -> None:
    """R28/R8: the master read back as gone (R9) voids the series activity, once for all its occurrences."""
    master = _master()
    series_link = _series_link(master, _view(master, *(_occurrence(n) for n in range(3))))
    result = plan(
        _run(
            links=[series_link],
            m365_changes=[DeltaEntry(event_id=f"O{n}") for n in range(3)],
            erp_series=True,
            series={"M1": _view(None)},
        )
    )
    assert [type(a) for a in result.actions] == [VoidActivity]


def test_an_unchanged_series_whose_occurrences_were_reported_plans_nothing() -> None:
    """R5: the occurrences of a series the sync just wrote come back in the delta: no write, no memo change."""
    master = _master()
    view = _view(master, *(_occurrence(n) for n in range(3)))
    series_link = _series_link(master, view)
    result = plan(
        _run(
            links=[series_link],
            m365_changes=[DeltaEntry(event_id=o.id, event=o) for o in view.instances],
            erp_series=True,
            series={"M1": view},
        )
    )
    assert not [a for a in result.actions if not isinstance(a, SeriesSeen)]
    assert result.actions == ()


def test_without_erp_series_a_moved_series_follows_its_occurrences_by_position() -> None:
    """R28 fallback: the old occurrences' links (removed ids) follow the series' new occurrences in order of
    original start, and each activity is updated, never voided and created again."""
    olds = [_occurrence(n) for n in range(3)]
    links = [
        link(o, activity(id=f"A{n}"), link_id=f"L{n}", series_master_id="M1", original_start=o.original_start)
        for n, o in enumerate(olds)
    ]
    news = [_occurrence(n, prefix="N") for n in range(3)]
    news = [
        n.model_copy(update={"start": n.start + timedelta(hours=2), "end": n.end + timedelta(hours=2)}) for n in news
    ]
    news = [n.model_copy(update={"original_start": n.start}) for n in news]
    result = plan(
        _run(
            links=links,
            m365_changes=[
                *(DeltaEntry(event_id=o.id) for o in olds),
                *(DeltaEntry(event_id=n.id, event=n) for n in news),
            ],
        )
    )
    kinds = [type(a) for a in result.actions]
    assert kinds.count(FollowOccurrence) == 3
    assert kinds.count(UpdateActivity) == 3
    assert VoidActivity not in kinds
    assert CreateActivity not in kinds
    updates = [a for a in result.actions if isinstance(a, UpdateActivity)]
    assert {u.link.activity_id for u in updates} == {"A0", "A1", "A2"}
    assert all(Field.WHEN in u.fields for u in updates)
    assert date(2026, 12, 2) == news[0].start.astimezone(UTC).date()
