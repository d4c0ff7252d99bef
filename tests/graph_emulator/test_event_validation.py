"""Input checks as strict as Graph's (https://learn.microsoft.com/en-us/graph/api/resources/event)."""

from __future__ import annotations

import httpx
import pytest

from tests.graph_emulator.helpers import event_body


async def _post(http: httpx.AsyncClient, user: str, body: dict[str, object]) -> httpx.Response:
    return await http.post(f"/v1.0/users/{user}/events", json=body)


@pytest.mark.parametrize(
    ("start", "end", "start_tz", "end_tz"),
    [
        ("2026-12-01T09:00:00", "2026-12-02T00:00:00", "UTC", "UTC"),  # start not midnight
        ("2026-12-01T00:00:00", "2026-12-01T17:00:00", "UTC", "UTC"),  # end not midnight
        ("2026-12-01T00:00:00", "2026-12-02T00:00:00", "UTC", "Pacific Standard Time"),  # two zones
        ("2026-12-01T00:00:00", "2026-12-01T00:00:00", "UTC", "UTC"),  # shorter than a day
    ],
)
async def test_all_day_event_must_be_midnight_to_midnight_in_one_zone(
    http: httpx.AsyncClient, alice: str, start: str, end: str, start_tz: str, end_tz: str
) -> None:
    """isAllDay requires midnight start and end in the same zone, at least a day apart (https://learn.microsoft.com/en-us/graph/api/resources/event)."""
    body = {
        "subject": "off",
        "isAllDay": True,
        "start": {"dateTime": start, "timeZone": start_tz},
        "end": {"dateTime": end, "timeZone": end_tz},
    }
    resp = await _post(http, alice, body)
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "ErrorInvalidRequest"


async def test_valid_all_day_event_floats_to_any_preferred_zone(http: httpx.AsyncClient, alice: str) -> None:
    """All-day events come back midnight to midnight whatever outlook.timezone says (https://learn.microsoft.com/en-us/graph/api/resources/event)."""
    body = event_body("off", "2026-12-01T00:00:00", "2026-12-03T00:00:00", "Romance Standard Time", isAllDay=True)
    resp = await http.post(
        f"/v1.0/users/{alice}/events", json=body, headers={"Prefer": 'outlook.timezone="Pacific Standard Time"'}
    )
    ev = resp.json()
    assert resp.status_code == 201
    assert ev["isAllDay"] is True
    assert ev["start"] == {"dateTime": "2026-12-01T00:00:00.0000000", "timeZone": "Pacific Standard Time"}
    assert ev["end"]["dateTime"] == "2026-12-03T00:00:00.0000000"


@pytest.mark.parametrize(("prop", "value"), [("showAs", "away"), ("sensitivity", "secret"), ("importance", "urgent")])
async def test_unknown_enum_value_is_refused_with_request_body_read(
    http: httpx.AsyncClient, alice: str, prop: str, value: str
) -> None:
    """Enum values outside the documented set fail deserialisation with 400 (https://learn.microsoft.com/en-us/graph/api/resources/event)."""
    resp = await _post(http, alice, event_body("x", "2026-12-01T10:00:00", "2026-12-01T11:00:00", **{prop: value}))
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "RequestBodyRead"


async def test_unknown_property_is_refused(http: httpx.AsyncClient, alice: str) -> None:
    """A property the event type does not define fails with 400 RequestBodyRead (https://learn.microsoft.com/en-us/graph/errors)."""
    resp = await _post(http, alice, event_body("x", "2026-12-01T10:00:00", "2026-12-01T11:00:00", colour="red"))
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "RequestBodyRead"
    assert "colour" in resp.json()["error"]["message"]


async def test_end_before_start_is_refused(http: httpx.AsyncClient, alice: str) -> None:
    """An event cannot end before it starts (https://learn.microsoft.com/en-us/graph/api/user-post-events)."""
    resp = await _post(http, alice, event_body("x", "2026-12-01T11:00:00", "2026-12-01T10:00:00"))
    assert resp.status_code == 400


async def test_unknown_time_zone_is_refused(http: httpx.AsyncClient, alice: str) -> None:
    """timeZone must be a Windows or IANA zone name (https://learn.microsoft.com/en-us/graph/api/resources/datetimetimezone)."""
    resp = await _post(http, alice, event_body("x", "2026-12-01T10:00:00", "2026-12-01T11:00:00", "Mars/Olympus"))
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "TimeZoneNotSupportedException"


async def test_windows_and_iana_zone_names_give_the_same_instant(http: httpx.AsyncClient, alice: str) -> None:
    """Windows ("Pacific Standard Time") and IANA ("America/Los_Angeles") names are both accepted (https://learn.microsoft.com/en-us/graph/api/resources/datetimetimezone)."""
    a = (
        await _post(http, alice, event_body("w", "2026-07-01T10:00:00", "2026-07-01T11:00:00", "Pacific Standard Time"))
    ).json()
    b = (
        await _post(http, alice, event_body("i", "2026-07-01T10:00:00", "2026-07-01T11:00:00", "America/Los_Angeles"))
    ).json()
    assert a["start"] == b["start"] == {"dateTime": "2026-07-01T17:00:00.0000000", "timeZone": "UTC"}
    assert a["originalStartTimeZone"] == "Pacific Standard Time"


async def test_bad_attendee_type_and_address_are_refused(http: httpx.AsyncClient, alice: str) -> None:
    """attendee.type is required|optional|resource and needs an email address (https://learn.microsoft.com/en-us/graph/api/resources/attendee)."""
    bad_type = [{"type": "vip", "emailAddress": {"address": "x@contoso.com"}}]
    no_address = [{"type": "required", "emailAddress": {"name": "X"}}]
    r1 = await _post(http, alice, event_body("x", "2026-12-01T10:00:00", "2026-12-01T11:00:00", attendees=bad_type))
    r2 = await _post(http, alice, event_body("x", "2026-12-01T10:00:00", "2026-12-01T11:00:00", attendees=no_address))
    assert r1.status_code == 400
    assert r1.json()["error"]["code"] == "RequestBodyRead"
    assert r2.status_code == 400


async def test_invalid_json_answers_400(http: httpx.AsyncClient, alice: str) -> None:
    """A body that is not JSON fails with 400 BadRequest (https://learn.microsoft.com/en-us/graph/errors)."""
    resp = await http.post(
        f"/v1.0/users/{alice}/events", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 400
    assert set(resp.json()["error"]) >= {"code", "message", "innerError"}


@pytest.mark.parametrize("windows_name", ["Morocco Standard Time", "Sri Lanka Standard Time", "Yukon Standard Time"])
async def test_every_cldr_windows_zone_is_accepted(http: httpx.AsyncClient, alice: str, windows_name: str) -> None:
    """Graph takes any Windows zone name of CLDR's windowsZones (https://learn.microsoft.com/en-us/graph/api/resources/datetimetimezone)."""
    resp = await _post(http, alice, event_body("x", "2026-12-01T10:00:00", "2026-12-01T11:00:00", windows_name))
    assert resp.status_code == 201
    assert resp.json()["originalStartTimeZone"] == windows_name
