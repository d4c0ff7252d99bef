"""Event create, read, list, update and delete, through msgraph-sdk (https://learn.microsoft.com/en-us/graph/api/resources/event)."""

from __future__ import annotations

import httpx
import pytest
from kiota_abstractions.api_error import APIError
from msgraph import GraphServiceClient
from msgraph.generated.models.body_type import BodyType
from msgraph.generated.models.date_time_time_zone import DateTimeTimeZone
from msgraph.generated.models.event import Event
from msgraph.generated.models.event_type import EventType
from msgraph.generated.models.free_busy_status import FreeBusyStatus
from msgraph.generated.models.item_body import ItemBody
from msgraph.generated.models.sensitivity import Sensitivity

from tests.graph_emulator.helpers import create, event_body


def _event(subject: str = "Review", **extra: object) -> Event:
    return Event(
        subject=subject,
        start=DateTimeTimeZone(date_time="2026-12-01T10:00:00", time_zone="W. Europe Standard Time"),
        end=DateTimeTimeZone(date_time="2026-12-01T11:00:00", time_zone="W. Europe Standard Time"),
        **extra,  # type: ignore[arg-type]
    )


async def test_create_returns_201_with_server_fields(graph: GraphServiceClient, alice: str) -> None:
    """POST /users/{id}/events answers the event with id, changeKey, iCalUId, webLink (https://learn.microsoft.com/en-us/graph/api/user-post-events)."""
    ev = await graph.users.by_user_id(alice).events.post(
        _event(
            categories=["ERP"],
            sensitivity=Sensitivity.Private,
            show_as=FreeBusyStatus.Oof,
            body=ItemBody(content_type=BodyType.Text, content="agenda"),
        )
    )
    assert ev is not None
    assert ev.id
    assert ev.change_key
    assert ev.i_cal_u_id
    assert ev.web_link
    assert ev.type == EventType.SingleInstance
    assert ev.is_organizer is True
    assert ev.categories == ["ERP"]
    assert ev.sensitivity == Sensitivity.Private
    assert ev.show_as == FreeBusyStatus.Oof
    assert ev.start.time_zone == "UTC"
    assert ev.start.date_time == "2026-12-01T09:00:00.0000000"
    assert ev.organizer.email_address.address == "alice@contoso.com"
    assert ev.last_modified_date_time is not None
    assert ev.created_date_time is not None


async def test_update_changes_change_key_and_etag(http: httpx.AsyncClient, alice: str) -> None:
    """Every edit gives a new changeKey; @odata.etag is W/"changeKey" (https://learn.microsoft.com/en-us/graph/api/event-update)."""
    ev = await create(http, alice, event_body("a", "2026-12-01T10:00:00", "2026-12-01T11:00:00"))
    assert ev["@odata.etag"] == f'W/"{ev["changeKey"]}"'
    resp = await http.patch(f"/v1.0/users/{alice}/events/{ev['id']}", json={"subject": "b"})
    after = resp.json()
    assert resp.status_code == 200
    assert after["subject"] == "b"
    assert after["changeKey"] != ev["changeKey"]
    assert after["@odata.etag"] == f'W/"{after["changeKey"]}"'
    assert after["lastModifiedDateTime"] >= ev["lastModifiedDateTime"]


async def test_get_list_and_delete_through_sdk(graph: GraphServiceClient, alice: str) -> None:
    """GET one, GET the collection, DELETE answers 204 and the event is gone with ErrorItemNotFound (https://learn.microsoft.com/en-us/graph/api/event-delete)."""
    events = graph.users.by_user_id(alice).events
    first = await events.post(_event("one"))
    await events.post(_event("two"))
    listed = await events.get()
    assert {e.subject for e in listed.value} == {"one", "two"}
    await events.by_event_id(first.id).delete()
    with pytest.raises(APIError) as err:
        await events.by_event_id(first.id).get()
    assert err.value.response_status_code == 404
    assert err.value.error.code == "ErrorItemNotFound"


async def test_repeated_create_with_same_transaction_id_makes_one_event(http: httpx.AsyncClient, alice: str) -> None:
    """transactionId lets a retried POST be recognised: no second event (https://learn.microsoft.com/en-us/graph/api/resources/event)."""
    body = event_body("once", "2026-12-01T10:00:00", "2026-12-01T11:00:00", transactionId="txn-1")
    first = await create(http, alice, body)
    second = await create(http, alice, body)
    listed = (await http.get(f"/v1.0/users/{alice}/events")).json()["value"]
    assert first["id"] == second["id"]
    assert len(listed) == 1
    assert listed[0]["transactionId"] == "txn-1"


async def test_transaction_id_cannot_be_changed(http: httpx.AsyncClient, alice: str) -> None:
    """transactionId is set at creation only (https://learn.microsoft.com/en-us/graph/api/resources/event)."""
    ev = await create(http, alice, event_body("x", "2026-12-01T10:00:00", "2026-12-01T11:00:00", transactionId="t"))
    resp = await http.patch(f"/v1.0/users/{alice}/events/{ev['id']}", json={"transactionId": "other"})
    assert resp.status_code == 400


async def test_events_list_pages_with_absolute_next_link(http: httpx.AsyncClient, alice: str) -> None:
    """Lists page with an absolute @odata.nextLink; $top sets the page size (https://learn.microsoft.com/en-us/graph/paging)."""
    for i in range(5):
        await create(http, alice, event_body(f"e{i}", "2026-12-01T10:00:00", "2026-12-01T11:00:00"))
    page = (await http.get(f"/v1.0/users/{alice}/events", params={"$top": "2"})).json()
    seen = [e["subject"] for e in page["value"]]
    while "@odata.nextLink" in page:
        assert page["@odata.nextLink"].startswith("http://127.0.0.1/v1.0/")
        page = (await http.get(page["@odata.nextLink"])).json()
        seen += [e["subject"] for e in page["value"]]
    assert sorted(seen) == [f"e{i}" for i in range(5)]


async def test_if_match_with_stale_etag_is_refused(http: httpx.AsyncClient, alice: str) -> None:
    """A PATCH with an outdated If-Match etag fails with 412 (https://learn.microsoft.com/en-us/graph/api/event-update)."""
    ev = await create(http, alice, event_body("x", "2026-12-01T10:00:00", "2026-12-01T11:00:00"))
    await http.patch(f"/v1.0/users/{alice}/events/{ev['id']}", json={"subject": "y"})
    resp = await http.patch(
        f"/v1.0/users/{alice}/events/{ev['id']}", json={"subject": "z"}, headers={"If-Match": ev["@odata.etag"]}
    )
    assert resp.status_code == 412


async def test_calendar_events_path_is_the_same_collection(http: httpx.AsyncClient, alice: str) -> None:
    """/users/{id}/calendar/events addresses the default calendar's events (https://learn.microsoft.com/en-us/graph/api/calendar-post-events)."""
    ev = (
        await http.post(
            f"/v1.0/users/{alice}/calendar/events", json=event_body("c", "2026-12-01T10:00:00", "2026-12-01T11:00:00")
        )
    ).json()
    got = await http.get(f"/v1.0/users/{alice}/events/{ev['id']}")
    assert got.status_code == 200
    assert got.json()["subject"] == "c"
