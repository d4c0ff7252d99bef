"""What the sync's R28 fallback relies on when a series moves: its occurrences get new ids (issue 10: "occurrence
ids change when the master moves"), the old ones are reported ``@removed`` and read as 404, and the new ones
carry ``seriesMasterId`` and their new ``originalStart`` (https://learn.microsoft.com/en-us/graph/api/event-delta,
https://learn.microsoft.com/en-us/graph/api/resources/event: occurrence ids embed the original start)."""

from __future__ import annotations

import httpx

from tests.graph_emulator.helpers import create, event_body, read_delta

DECEMBER = "startDateTime=2026-12-01T00:00:00Z&endDateTime=2027-01-01T00:00:00Z"


async def test_moving_a_series_replaces_its_occurrences_ids(http: httpx.AsyncClient, alice: str) -> None:
    """A master moved an hour later: every occurrence id of the old times is ``@removed`` and 404; the delta
    carries the new occurrences with the master's id and their new original starts."""
    recurrence = {
        "pattern": {"type": "daily", "interval": 1},
        "range": {"type": "numbered", "startDate": "2026-12-01", "numberOfOccurrences": 3},
    }
    master = await create(
        http, alice, event_body("standup", "2026-12-01T10:00:00", "2026-12-01T10:30:00", recurrence=recurrence)
    )
    first, link = await read_delta(http, f"/v1.0/users/{alice}/calendarView/delta?{DECEMBER}")
    old_ids = {o["id"] for o in first}
    later = {
        "start": {"dateTime": "2026-12-01T11:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2026-12-01T11:30:00", "timeZone": "UTC"},
    }
    assert (await http.patch(f"/v1.0/users/{alice}/events/{master['id']}", json=later)).status_code == 200

    changes, _ = await read_delta(http, link)
    removed = {c["id"] for c in changes if "@removed" in c}
    fresh = [c for c in changes if "@removed" not in c]
    assert removed == old_ids
    assert {c["seriesMasterId"] for c in fresh} == {master["id"]}
    assert sorted(c["originalStart"][8:16] for c in fresh) == ["01T11:00", "02T11:00", "03T11:00"]
    assert not old_ids & {c["id"] for c in fresh}
    for old in old_ids:
        assert (await http.get(f"/v1.0/users/{alice}/events/{old}")).status_code == 404
