"""Recurring series as the sync reads and writes them (R28): what the emulator must do exactly as Graph does.

The engine reads occurrences and exceptions from the calendar-view delta, masters with ``GET /events/{id}``,
edits and cancels single occurrences by their ids, and changes whole series on the master; each test cites
the Microsoft page (or Exchange protocol section) it reproduces.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.graph_emulator.helpers import create, event_body, read_delta

DECEMBER = "startDateTime=2026-12-01T00:00:00Z&endDateTime=2027-01-01T00:00:00Z"
WINDOW = {"startDateTime": "2026-12-01T00:00:00Z", "endDateTime": "2027-01-01T00:00:00Z"}


def _daily(count: int, subject: str = "standup", **extra: Any) -> dict[str, Any]:
    recurrence = {
        "pattern": {"type": "daily", "interval": 1},
        "range": {"type": "numbered", "startDate": "2026-12-01", "numberOfOccurrences": count},
    }
    return event_body(subject, "2026-12-01T10:00:00", "2026-12-01T10:30:00", recurrence=recurrence, **extra)


async def _instances(http: httpx.AsyncClient, user: str, master_id: str) -> list[dict[str, Any]]:
    resp = await http.get(f"/v1.0/users/{user}/events/{master_id}/instances", params={**WINDOW, "$top": "100"})
    assert resp.status_code == 200, resp.text
    values: list[dict[str, Any]] = resp.json()["value"]
    return values


async def _delta(http: httpx.AsyncClient, user: str) -> tuple[list[dict[str, Any]], str]:
    return await read_delta(http, f"/v1.0/users/{user}/calendarView/delta?{DECEMBER}")


async def test_delta_carries_occurrences_and_exceptions_but_never_the_master(
    http: httpx.AsyncClient, alice: str
) -> None:
    """A calendar-view delta returns what ``GET /calendarView`` returns, "the occurrences, exceptions, and single
    instances" of the window, never the series master; each occurrence and exception carries ``type``,
    ``seriesMasterId`` and ``originalStart`` (an instant in UTC), and an exception keeps its original start
    while its start moves (https://learn.microsoft.com/en-us/graph/api/event-delta,
    https://learn.microsoft.com/en-us/graph/api/user-list-calendarview,
    https://learn.microsoft.com/en-us/graph/api/resources/event)."""
    master = await create(http, alice, _daily(3))
    single = await create(http, alice, event_body("one-off", "2026-12-05T09:00:00", "2026-12-05T10:00:00"))
    occurrences = await _instances(http, alice, master["id"])
    moved = {
        "start": {"dateTime": "2026-12-02T15:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2026-12-02T15:30:00", "timeZone": "UTC"},
    }
    assert (await http.patch(f"/v1.0/users/{alice}/events/{occurrences[1]['id']}", json=moved)).status_code == 200

    items, _ = await _delta(http, alice)
    by_id = {i["id"]: i for i in items}
    assert master["id"] not in by_id
    assert set(by_id) == {o["id"] for o in occurrences} | {single["id"]}
    series = [i for i in items if i["id"] != single["id"]]
    assert sorted((i["type"], i["originalStart"]) for i in series) == [
        ("exception", "2026-12-02T10:00:00Z"),
        ("occurrence", "2026-12-01T10:00:00Z"),
        ("occurrence", "2026-12-03T10:00:00Z"),
    ]
    assert {i["seriesMasterId"] for i in series} == {master["id"]}
    assert by_id[occurrences[1]["id"]]["start"]["dateTime"] == "2026-12-02T15:00:00.0000000"
    assert by_id[single["id"]]["type"] == "singleInstance"
    assert "originalStart" not in by_id[single["id"]]
    assert by_id[single["id"]]["seriesMasterId"] is None


async def test_the_master_is_read_by_its_id_with_its_recurrence(http: httpx.AsyncClient, alice: str) -> None:
    """``GET /events/{seriesMasterId}`` returns the master: ``type`` seriesMaster, the first occurrence's times,
    and ``recurrence`` with Graph's defaults filled in (endDate 0001-01-01 without an end date, the event's
    zone as recurrenceTimeZone); it has no ``originalStart`` (https://learn.microsoft.com/en-us/graph/api/event-get,
    https://learn.microsoft.com/en-us/graph/api/resources/recurrencerange)."""
    created = await create(http, alice, _daily(3))
    master = (await http.get(f"/v1.0/users/{alice}/events/{created['id']}")).json()
    assert (master["type"], master["seriesMasterId"], master["start"]["dateTime"]) == (
        "seriesMaster",
        None,
        "2026-12-01T10:00:00.0000000",
    )
    assert "originalStart" not in master
    assert master["recurrence"]["range"] == {
        "type": "numbered",
        "startDate": "2026-12-01",
        "endDate": "0001-01-01",
        "recurrenceTimeZone": "UTC",
        "numberOfOccurrences": 3,
    }
    listed = (await http.get(f"/v1.0/users/{alice}/events")).json()["value"]
    assert [(e["id"], e["type"]) for e in listed] == [(created["id"], "seriesMaster")]


async def test_recurrence_time_zone_and_pattern_are_checked(http: httpx.AsyncClient, alice: str) -> None:
    """``range.recurrenceTimeZone`` takes a Windows or IANA name like the event's zones and an unknown one is
    a 400; a property the pattern type does not define is a 400; days come back in week order
    (https://learn.microsoft.com/en-us/graph/api/resources/recurrencerange,
    https://learn.microsoft.com/en-us/graph/api/resources/recurrencepattern)."""
    weekly: dict[str, dict[str, Any]] = {
        "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["thursday", "tuesday"]},
        "range": {"type": "noEnd", "startDate": "2026-12-01", "recurrenceTimeZone": "W. Europe Standard Time"},
    }
    body = event_body("weekly", "2026-12-01T10:00:00", "2026-12-01T11:00:00", "Europe/Berlin", recurrence=weekly)
    created = await create(http, alice, body)
    assert created["recurrence"]["pattern"]["daysOfWeek"] == ["tuesday", "thursday"]
    assert created["recurrence"]["range"]["recurrenceTimeZone"] == "W. Europe Standard Time"

    unknown_zone = {**weekly, "range": {**weekly["range"], "recurrenceTimeZone": "Mars/Olympus"}}
    bad = await http.post(f"/v1.0/users/{alice}/events", json={**body, "recurrence": unknown_zone})
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "TimeZoneNotSupportedException")
    unknown_field = {**weekly, "pattern": {**weekly["pattern"], "weekday": "monday"}}
    assert (
        await http.post(f"/v1.0/users/{alice}/events", json={**body, "recurrence": unknown_field})
    ).status_code == 400


async def test_a_cancelled_occurrence_is_removed_everywhere(http: httpx.AsyncClient, alice: str) -> None:
    """DELETE on an occurrence cancels only it: it leaves ``/instances``, a read of its id is 404, and the next
    delta round reports it ``@removed`` and nothing else (https://learn.microsoft.com/en-us/graph/api/event-delete,
    https://learn.microsoft.com/en-us/graph/api/event-list-instances,
    https://learn.microsoft.com/en-us/graph/api/event-delta)."""
    master = await create(http, alice, _daily(3))
    _, link = await _delta(http, alice)
    second = (await _instances(http, alice, master["id"]))[1]
    assert (await http.delete(f"/v1.0/users/{alice}/events/{second['id']}")).status_code == 204

    changes, _ = await read_delta(http, link)
    assert changes == [{"@odata.type": "#microsoft.graph.event", "id": second["id"], "@removed": {"reason": "deleted"}}]
    assert [o["originalStart"] for o in await _instances(http, alice, master["id"])] == [
        "2026-12-01T10:00:00Z",
        "2026-12-03T10:00:00Z",
    ]
    assert (await http.get(f"/v1.0/users/{alice}/events/{second['id']}")).status_code == 404
    assert (await http.patch(f"/v1.0/users/{alice}/events/{second['id']}", json={"subject": "x"})).status_code == 404


async def test_a_pattern_change_resets_the_exceptions(http: httpx.AsyncClient, alice: str) -> None:
    """When a series' recurrence changes, Exchange removes every exception: edited occurrences return to the
    series' values and deleted ones come back (MS-OXOCAL 3.1.4.7.3.5 "Updating a Recurring Series",
    https://learn.microsoft.com/en-us/openspecs/exchange_server_protocols/ms-oxocal/4b92fb85-db55-4251-8e81-e319361218e1;
    https://learn.microsoft.com/en-us/graph/api/event-update)."""
    master = await create(http, alice, _daily(4))
    first, second, third, _ = await _instances(http, alice, master["id"])
    await http.patch(f"/v1.0/users/{alice}/events/{second['id']}", json={"subject": "special"})
    await http.delete(f"/v1.0/users/{alice}/events/{third['id']}")
    _, link = await _delta(http, alice)

    longer = _daily(5)["recurrence"]
    assert (
        await http.patch(f"/v1.0/users/{alice}/events/{master['id']}", json={"recurrence": longer})
    ).status_code == 200
    after = await _instances(http, alice, master["id"])
    assert [(o["type"], o["subject"], o["originalStart"][8:10]) for o in after] == [
        ("occurrence", "standup", day) for day in ("01", "02", "03", "04", "05")
    ]
    changes, _ = await read_delta(http, link)
    assert {c["id"] for c in changes} >= {second["id"], third["id"]}
    assert first["id"] in {o["id"] for o in after}


async def test_moving_the_series_resets_exceptions_but_resending_its_times_does_not(
    http: httpx.AsyncClient, alice: str
) -> None:
    """The series' start and end are part of its recurrence pattern, so moving the master resets the
    exceptions; a PATCH that sends the same times and pattern changes no pattern and keeps them (MS-OXOCAL
    3.1.4.7.3.5, https://learn.microsoft.com/en-us/openspecs/exchange_server_protocols/ms-oxocal/4b92fb85-db55-4251-8e81-e319361218e1)."""
    created = await create(http, alice, _daily(3))
    second = (await _instances(http, alice, created["id"]))[1]
    await http.patch(f"/v1.0/users/{alice}/events/{second['id']}", json={"subject": "special"})

    same = {"subject": "renamed", "start": created["start"], "end": created["end"], "recurrence": created["recurrence"]}
    assert (await http.patch(f"/v1.0/users/{alice}/events/{created['id']}", json=same)).status_code == 200
    assert [o["subject"] for o in await _instances(http, alice, created["id"])] == ["renamed", "special", "renamed"]

    later = {
        "start": {"dateTime": "2026-12-01T11:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2026-12-01T11:30:00", "timeZone": "UTC"},
    }
    assert (await http.patch(f"/v1.0/users/{alice}/events/{created['id']}", json=later)).status_code == 200
    moved = await _instances(http, alice, created["id"])
    assert [(o["type"], o["subject"], o["start"]["dateTime"][11:16]) for o in moved] == [
        ("occurrence", "renamed", "11:00")
    ] * 3


async def test_an_attendees_copy_of_a_series_has_its_own_ids_and_the_same_ical_uids(
    http: httpx.AsyncClient, alice: str, bob: str
) -> None:
    """Every copy of a meeting shares its iCalUId, which "is different for each occurrence in a recurring
    series"; the attendee's master and occurrences have ids of their own mailbox
    (https://learn.microsoft.com/en-us/graph/api/resources/event, MS-OXOCAL 2.2.1.27 PidLidGlobalObjectId)."""
    attendees = [{"type": "required", "emailAddress": {"address": "bob@contoso.com", "name": "Bob"}}]
    master = await create(http, alice, _daily(3, attendees=attendees))
    [copy] = (await http.get(f"/v1.0/users/{bob}/events")).json()["value"]
    assert (copy["type"], copy["iCalUId"], copy["recurrence"]) == (
        "seriesMaster",
        master["iCalUId"],
        master["recurrence"],
    )
    assert copy["id"] != master["id"]

    mine, theirs = await _instances(http, alice, master["id"]), await _instances(http, bob, copy["id"])
    assert [o["originalStart"] for o in mine] == [o["originalStart"] for o in theirs]
    assert [o["iCalUId"] for o in mine] == [o["iCalUId"] for o in theirs]
    assert not {o["id"] for o in mine} & {o["id"] for o in theirs}
    assert len({o["iCalUId"] for o in mine} | {master["iCalUId"]}) == 4
    assert {o["seriesMasterId"] for o in theirs} == {copy["id"]}
    assert all(len(o["iCalUId"]) == len(master["iCalUId"]) for o in mine)
