"""Prefer headers on events (https://learn.microsoft.com/en-us/graph/api/user-list-events#request-headers)."""

from __future__ import annotations

import httpx
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_abstractions.headers_collection import HeadersCollection
from msgraph import GraphServiceClient

from tests.graph_emulator.helpers import create, event_body


async def test_outlook_timezone_converts_start_and_end_and_is_applied(http: httpx.AsyncClient, alice: str) -> None:
    """Prefer outlook.timezone returns times in that zone and echoes Preference-Applied (https://learn.microsoft.com/en-us/graph/api/event-get)."""
    ev = await create(http, alice, event_body("x", "2026-12-01T10:00:00", "2026-12-01T11:00:00"))
    for zone, local in (("Eastern Standard Time", "05:00"), ("Asia/Tokyo", "19:00")):
        resp = await http.get(
            f"/v1.0/users/{alice}/events/{ev['id']}", headers={"Prefer": f'outlook.timezone="{zone}"'}
        )
        assert resp.json()["start"] == {"dateTime": f"2026-12-01T{local}:00.0000000", "timeZone": zone}
        assert f'outlook.timezone="{zone}"' in resp.headers["Preference-Applied"]


async def test_default_zone_is_utc_without_preference_applied(http: httpx.AsyncClient, alice: str) -> None:
    """Without a Prefer header times come back in UTC (https://learn.microsoft.com/en-us/graph/api/event-get)."""
    ev = await create(http, alice, event_body("x", "2026-12-01T10:00:00", "2026-12-01T11:00:00", "Europe/Paris"))
    resp = await http.get(f"/v1.0/users/{alice}/events/{ev['id']}")
    assert resp.json()["start"]["timeZone"] == "UTC"
    assert "Preference-Applied" not in resp.headers


async def test_body_content_type_text_and_default_html(http: httpx.AsyncClient, alice: str) -> None:
    """Prefer outlook.body-content-type="text" returns plain text; the default is HTML (https://learn.microsoft.com/en-us/graph/api/event-get)."""
    body = {"contentType": "html", "content": "<html><body><p>Hello &amp; <b>bye</b></p></body></html>"}
    ev = await create(http, alice, event_body("x", "2026-12-01T10:00:00", "2026-12-01T11:00:00", body=body))
    assert ev["body"]["contentType"] == "html"
    resp = await http.get(
        f"/v1.0/users/{alice}/events/{ev['id']}", headers={"Prefer": 'outlook.body-content-type="text"'}
    )
    assert resp.json()["body"] == {"contentType": "text", "content": "Hello & bye"}
    assert resp.headers["Preference-Applied"] == 'outlook.body-content-type="text"'


async def test_several_preferences_in_one_header(http: httpx.AsyncClient, alice: str) -> None:
    """Several preferences in one Prefer header are each applied (https://learn.microsoft.com/en-us/graph/outlook-immutable-id)."""
    ev = await create(http, alice, event_body("x", "2026-12-01T10:00:00", "2026-12-01T11:00:00"))
    resp = await http.get(
        f"/v1.0/users/{alice}/events/{ev['id']}",
        headers={"Prefer": 'IdType="ImmutableId", outlook.timezone="Europe/Berlin"'},
    )
    applied = resp.headers["Preference-Applied"]
    assert 'IdType="ImmutableId"' in applied
    assert 'outlook.timezone="Europe/Berlin"' in applied
    assert resp.json()["start"]["dateTime"] == "2026-12-01T11:00:00.0000000"


async def test_ids_are_url_safe_and_opaque(http: httpx.AsyncClient, alice: str) -> None:
    """Immutable ids are URL-safe opaque strings (https://learn.microsoft.com/en-us/graph/outlook-immutable-id)."""
    ev = await create(http, alice, event_body("x", "2026-12-01T10:00:00", "2026-12-01T11:00:00"))
    assert len(ev["id"]) > 40
    assert not set(ev["id"]) & set("/+=")


async def test_sdk_prefer_values_added_as_a_list_are_all_honoured(
    graph: GraphServiceClient, http: httpx.AsyncClient, alice: str
) -> None:
    """Several Prefer values added through the SDK's HeadersCollection all apply (https://learn.microsoft.com/en-us/graph/api/event-get)."""
    body = {"contentType": "html", "content": "<p>Hi</p>"}
    ev = await create(http, alice, event_body("x", "2026-12-01T10:00:00", "2026-12-01T11:00:00", body=body))
    headers = HeadersCollection()
    headers.add(
        "Prefer", ['outlook.timezone="Europe/Paris"', 'outlook.body-content-type="text"', 'IdType="ImmutableId"']
    )
    got = await graph.users.by_user_id(alice).events.by_event_id(ev["id"]).get(RequestConfiguration(headers=headers))
    assert got.start.time_zone == "Europe/Paris"
    assert got.start.date_time == "2026-12-01T11:00:00.0000000"
    assert got.body.content == "Hi"
