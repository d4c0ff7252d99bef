"""Recurring series (https://learn.microsoft.com/en-us/graph/api/resources/patternedrecurrence)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.graph_emulator.helpers import create, event_body

DECEMBER = {"startDateTime": "2026-12-01T00:00:00Z", "endDateTime": "2027-01-01T00:00:00Z"}


def _series(start: str, pattern: dict[str, Any], rng: dict[str, Any], tz: str = "UTC") -> dict[str, Any]:
    day = start[:10]
    end = start[:11] + "10:30:00"
    return event_body("series", start, end, tz, recurrence={"pattern": pattern, "range": {"startDate": day, **rng}})


async def _view(http: httpx.AsyncClient, user: str, window: dict[str, str] = DECEMBER) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    page = (await http.get(f"/v1.0/users/{user}/calendarView", params={**window, "$top": "100"})).json()
    items += page["value"]
    return items


@pytest.mark.parametrize(
    ("pattern", "rng", "expected_days"),
    [
        ({"type": "daily", "interval": 2}, {"type": "numbered", "numberOfOccurrences": 3}, ["01", "03", "05"]),
        (
            {"type": "weekly", "interval": 1, "daysOfWeek": ["tuesday", "thursday"]},
            {"type": "endDate", "endDate": "2026-12-10"},
            ["01", "03", "08", "10"],
        ),
        ({"type": "absoluteMonthly", "interval": 1, "dayOfMonth": 1}, {"type": "noEnd"}, ["01"]),
        (
            {"type": "relativeMonthly", "interval": 1, "daysOfWeek": ["friday"], "index": "last"},
            {"type": "numbered", "numberOfOccurrences": 2},
            ["25"],
        ),
    ],
)
async def test_series_expands_into_occurrences_in_the_view(
    http: httpx.AsyncClient, alice: str, pattern: dict[str, Any], rng: dict[str, Any], expected_days: list[str]
) -> None:
    """Patterns and ranges expand into occurrences; the view never shows the master (https://learn.microsoft.com/en-us/graph/api/resources/recurrencepattern)."""
    start = "2026-12-25T10:00:00" if pattern["type"] == "relativeMonthly" else "2026-12-01T10:00:00"
    master = await create(http, alice, _series(start, pattern, rng))
    view = await _view(http, alice)
    assert [e["start"]["dateTime"][8:10] for e in view] == expected_days
    assert all(e["type"] == "occurrence" and e["seriesMasterId"] == master["id"] for e in view)
    assert all(e["originalStart"] for e in view)


async def test_weekly_series_keeps_wall_clock_time_across_dst(http: httpx.AsyncClient, alice: str) -> None:
    """Occurrences keep local time in the series' zone when DST changes (https://learn.microsoft.com/en-us/graph/api/resources/recurrencerange)."""
    body = _series(
        "2026-10-20T09:00:00",
        {"type": "weekly", "interval": 1, "daysOfWeek": ["tuesday"]},
        {"type": "numbered", "numberOfOccurrences": 2},
        tz="Europe/Paris",
    )
    await create(http, alice, body)
    window = {"startDateTime": "2026-10-01T00:00:00Z", "endDateTime": "2026-11-01T00:00:00Z"}
    resp = await http.get(
        f"/v1.0/users/{alice}/calendarView", params=window, headers={"Prefer": 'outlook.timezone="Europe/Paris"'}
    )
    assert [e["start"]["dateTime"][11:16] for e in resp.json()["value"]] == ["09:00", "09:00"]


async def test_instances_lists_occurrences_of_a_series(http: httpx.AsyncClient, alice: str) -> None:
    """GET /events/{id}/instances returns the occurrences in the window (https://learn.microsoft.com/en-us/graph/api/event-list-instances)."""
    master = await create(
        http, alice, _series("2026-12-01T10:00:00", {"type": "daily"}, {"type": "numbered", "numberOfOccurrences": 4})
    )
    resp = await http.get(f"/v1.0/users/{alice}/events/{master['id']}/instances", params=DECEMBER)
    values = resp.json()["value"]
    assert len(values) == 4
    assert master["recurrence"]["pattern"]["type"] == "daily"
    single = await http.get(f"/v1.0/users/{alice}/events/{values[0]['id']}")
    assert single.json()["type"] == "occurrence"


async def test_editing_an_occurrence_makes_an_exception(http: httpx.AsyncClient, alice: str) -> None:
    """PATCH on an occurrence turns it into an exception; others stay occurrences (https://learn.microsoft.com/en-us/graph/api/event-update)."""
    master = await create(
        http, alice, _series("2026-12-01T10:00:00", {"type": "daily"}, {"type": "numbered", "numberOfOccurrences": 3})
    )
    second = (await _view(http, alice))[1]
    resp = await http.patch(
        f"/v1.0/users/{alice}/events/{second['id']}",
        json={
            "subject": "special",
            "start": {"dateTime": "2026-12-02T14:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2026-12-02T15:00:00", "timeZone": "UTC"},
        },
    )
    assert resp.status_code == 200
    view = await _view(http, alice)
    exception = next(e for e in view if e["id"] == second["id"])
    assert exception["type"] == "exception"
    assert exception["subject"] == "special"
    assert exception["start"]["dateTime"] == "2026-12-02T14:00:00.0000000"
    assert exception["seriesMasterId"] == master["id"]
    assert [e["type"] for e in view].count("occurrence") == 2


async def test_deleting_an_occurrence_removes_only_it(http: httpx.AsyncClient, alice: str) -> None:
    """DELETE on an occurrence removes that one; the series stays (https://learn.microsoft.com/en-us/graph/api/event-delete)."""
    await create(
        http, alice, _series("2026-12-01T10:00:00", {"type": "daily"}, {"type": "numbered", "numberOfOccurrences": 3})
    )
    first = (await _view(http, alice))[0]
    assert (await http.delete(f"/v1.0/users/{alice}/events/{first['id']}")).status_code == 204
    view = await _view(http, alice)
    assert [e["start"]["dateTime"][8:10] for e in view] == ["02", "03"]
    assert (await http.get(f"/v1.0/users/{alice}/events/{first['id']}")).status_code == 404


async def test_editing_or_deleting_the_master_changes_the_whole_series(http: httpx.AsyncClient, alice: str) -> None:
    """Changes to the master apply to every occurrence; deleting it removes them all (https://learn.microsoft.com/en-us/graph/api/event-update)."""
    master = await create(
        http, alice, _series("2026-12-01T10:00:00", {"type": "daily"}, {"type": "numbered", "numberOfOccurrences": 3})
    )
    await http.patch(f"/v1.0/users/{alice}/events/{master['id']}", json={"subject": "renamed"})
    assert {e["subject"] for e in await _view(http, alice)} == {"renamed"}
    await http.delete(f"/v1.0/users/{alice}/events/{master['id']}")
    assert await _view(http, alice) == []


async def test_range_start_date_must_match_the_start(http: httpx.AsyncClient, alice: str) -> None:
    """recurrence.range.startDate must be the event's start day (https://learn.microsoft.com/en-us/graph/api/resources/recurrencerange)."""
    body = _series("2026-12-01T10:00:00", {"type": "daily"}, {"type": "noEnd"})
    body["recurrence"]["range"]["startDate"] = "2026-12-05"
    bad_pattern = _series("2026-12-01T10:00:00", {"type": "hourly"}, {"type": "noEnd"})
    assert (await http.post(f"/v1.0/users/{alice}/events", json=body)).status_code == 400
    assert (await http.post(f"/v1.0/users/{alice}/events", json=bad_pattern)).status_code == 400


async def test_occurrence_change_appears_in_delta_as_the_exception(http: httpx.AsyncClient, alice: str) -> None:
    """Exceptions are returned by the calendar-view delta (https://learn.microsoft.com/en-us/graph/api/event-delta)."""
    from tests.graph_emulator.helpers import read_delta

    await create(
        http, alice, _series("2026-12-01T10:00:00", {"type": "daily"}, {"type": "numbered", "numberOfOccurrences": 3})
    )
    url = f"/v1.0/users/{alice}/calendarView/delta?startDateTime=2026-12-01T00:00:00Z&endDateTime=2027-01-01T00:00:00Z"
    first, link = await read_delta(http, url)
    await http.patch(f"/v1.0/users/{alice}/events/{first[2]['id']}", json={"subject": "moved"})
    changed, _ = await read_delta(http, link)
    assert [(c["id"], c["type"], c["subject"]) for c in changed] == [(first[2]["id"], "exception", "moved")]
