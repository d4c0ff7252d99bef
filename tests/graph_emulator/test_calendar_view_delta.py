"""calendarView and calendarView/delta (https://learn.microsoft.com/en-us/graph/api/event-delta)."""

from __future__ import annotations

import httpx
import pytest
from kiota_abstractions.api_error import APIError
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_abstractions.headers_collection import HeadersCollection
from msgraph import GraphServiceClient
from msgraph.generated.users.item.calendar_view.delta.delta_request_builder import DeltaRequestBuilder

from tests.graph_emulator.helpers import create, event_body, read_delta

WINDOW = {"startDateTime": "2026-12-01T00:00:00Z", "endDateTime": "2026-12-31T00:00:00Z"}


def _first(user: str) -> str:
    window = f"startDateTime={WINDOW['startDateTime']}&endDateTime={WINDOW['endDateTime']}"
    return f"/v1.0/users/{user}/calendarView/delta?{window}"


async def test_sdk_follows_pages_to_a_delta_link(
    graph: GraphServiceClient, http: httpx.AsyncClient, alice: str
) -> None:
    """Pages carry an absolute nextLink until the last carries a deltaLink; maxpagesize is honoured (https://learn.microsoft.com/en-us/graph/delta-query-events)."""
    for day in range(1, 6):
        await create(http, alice, event_body(f"d{day}", f"2026-12-0{day}T10:00:00", f"2026-12-0{day}T11:00:00"))
    headers = HeadersCollection()
    headers.add("Prefer", "odata.maxpagesize=2")
    query = DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters(
        start_date_time=WINDOW["startDateTime"], end_date_time=WINDOW["endDateTime"]
    )
    delta = graph.users.by_user_id(alice).calendar_view.delta
    page = await delta.get(RequestConfiguration(query_parameters=query, headers=headers))
    subjects: list[str] = []
    pages = 0
    while True:
        pages += 1
        assert len(page.value) <= 2
        subjects += [e.subject for e in page.value]
        if page.odata_delta_link:
            break
        assert page.odata_next_link.startswith("http://127.0.0.1/v1.0/")
        assert "$skiptoken=" in page.odata_next_link
        page = await delta.with_url(page.odata_next_link).get(RequestConfiguration(headers=headers))
    assert sorted(subjects) == [f"d{d}" for d in range(1, 6)]
    assert pages >= 3
    assert "$deltatoken=" in page.odata_delta_link


async def test_delta_reports_only_changes_since_the_delta_link(http: httpx.AsyncClient, alice: str) -> None:
    """Replaying the deltaLink returns created and updated events only (https://learn.microsoft.com/en-us/graph/api/event-delta)."""
    kept = await create(http, alice, event_body("kept", "2026-12-02T10:00:00", "2026-12-02T11:00:00"))
    edited = await create(http, alice, event_body("edited", "2026-12-03T10:00:00", "2026-12-03T11:00:00"))
    _, link = await read_delta(http, _first(alice))
    await http.patch(f"/v1.0/users/{alice}/events/{edited['id']}", json={"subject": "edited!"})
    new = await create(http, alice, event_body("new", "2026-12-04T10:00:00", "2026-12-04T11:00:00"))
    items, link2 = await read_delta(http, link)
    ids = {i["id"] for i in items}
    assert ids == {edited["id"], new["id"]}
    assert kept["id"] not in ids
    again, _ = await read_delta(http, link2)
    assert again == []


async def test_deleted_and_moved_out_events_come_as_removed(http: httpx.AsyncClient, alice: str) -> None:
    """@removed reason deleted is sent for deletions and for events moved out of the window (https://learn.microsoft.com/en-us/graph/api/event-delta)."""
    gone = await create(http, alice, event_body("gone", "2026-12-02T10:00:00", "2026-12-02T11:00:00"))
    moved = await create(http, alice, event_body("moved", "2026-12-03T10:00:00", "2026-12-03T11:00:00"))
    _, link = await read_delta(http, _first(alice))
    await http.delete(f"/v1.0/users/{alice}/events/{gone['id']}")
    await http.patch(
        f"/v1.0/users/{alice}/events/{moved['id']}",
        json={
            "start": {"dateTime": "2027-02-01T10:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2027-02-01T11:00:00", "timeZone": "UTC"},
        },
    )
    items, _ = await read_delta(http, link)
    removed = sorted(items, key=lambda i: i["id"])
    expected = sorted([gone["id"], moved["id"]])
    assert [i["id"] for i in removed] == expected
    for item in removed:
        assert item == {"@odata.type": "#microsoft.graph.event", "id": item["id"], "@removed": {"reason": "deleted"}}


async def test_window_is_fixed_in_the_token(http: httpx.AsyncClient, alice: str) -> None:
    """Later calls replay the link: an event created outside the first window never shows (https://learn.microsoft.com/en-us/graph/api/event-delta)."""
    _, link = await read_delta(http, _first(alice))
    await create(http, alice, event_body("later", "2027-03-01T10:00:00", "2027-03-01T11:00:00"))
    inside = await create(http, alice, event_body("inside", "2026-12-10T10:00:00", "2026-12-10T11:00:00"))
    items, _ = await read_delta(http, link)
    assert [i["id"] for i in items] == [inside["id"]]


async def test_series_master_is_not_in_delta_but_occurrences_are(http: httpx.AsyncClient, alice: str) -> None:
    """A calendar-view delta returns occurrences and not the series master (https://learn.microsoft.com/en-us/graph/api/event-delta)."""
    series = event_body(
        "standup",
        "2026-12-07T09:00:00",
        "2026-12-07T09:15:00",
        recurrence={
            "pattern": {"type": "daily", "interval": 1},
            "range": {"type": "numbered", "startDate": "2026-12-07", "numberOfOccurrences": 3},
        },
    )
    master = await create(http, alice, series)
    items, _ = await read_delta(http, _first(alice))
    assert master["type"] == "seriesMaster"
    assert all(i["type"] == "occurrence" and i["seriesMasterId"] == master["id"] for i in items)
    assert len(items) == 3
    assert master["id"] not in {i["id"] for i in items}


async def test_expired_token_answers_410_sync_state_not_found(http: httpx.AsyncClient, alice: str) -> None:
    """An expired or unknown delta token gets 410 SyncStateNotFound (https://learn.microsoft.com/en-us/graph/delta-query-overview)."""
    _, link = await read_delta(http, _first(alice))
    expire = await http.post("/_emulator/delta-tokens/expire")
    assert expire.status_code == 204
    resp = await http.get(link)
    unknown = await http.get(f"/v1.0/users/{alice}/calendarView/delta?$deltatoken=made-up")
    for r in (resp, unknown):
        assert r.status_code == 410
        assert r.json()["error"]["code"] == "SyncStateNotFound"


async def test_sdk_raises_api_error_with_410(graph: GraphServiceClient, http: httpx.AsyncClient, alice: str) -> None:
    """msgraph-sdk surfaces the 410 as an APIError the client can act on (https://learn.microsoft.com/en-us/graph/delta-query-overview)."""
    _, link = await read_delta(http, _first(alice))
    await http.post("/_emulator/delta-tokens/expire")
    with pytest.raises(APIError) as err:
        await graph.users.by_user_id(alice).calendar_view.delta.with_url(link).get()
    assert err.value.response_status_code == 410


@pytest.mark.parametrize("option", ["$select=subject", "$filter=subject eq 'x'", "$orderby=start/dateTime"])
async def test_query_options_are_not_supported_on_delta(http: httpx.AsyncClient, alice: str, option: str) -> None:
    """$select, $filter, $orderby are not supported on a calendar-view delta (https://learn.microsoft.com/en-us/graph/api/event-delta)."""
    resp = await http.get(_first(alice) + "&" + option)
    assert resp.status_code == 400


async def test_delta_requires_window_on_first_call(http: httpx.AsyncClient, alice: str) -> None:
    """The first delta call needs startDateTime and endDateTime (https://learn.microsoft.com/en-us/graph/api/event-delta)."""
    resp = await http.get(f"/v1.0/users/{alice}/calendarView/delta")
    assert resp.status_code == 400


async def test_window_bounds_with_offsets_set_the_zone(http: httpx.AsyncClient, alice: str) -> None:
    """An offset in startDateTime sets its zone; none means UTC (https://learn.microsoft.com/en-us/graph/api/user-list-calendarview)."""
    ev = await create(http, alice, event_body("late", "2026-12-01T23:30:00", "2026-12-02T00:00:00"))
    utc = await http.get(
        f"/v1.0/users/{alice}/calendarView",
        params={"startDateTime": "2026-12-01T00:00:00", "endDateTime": "2026-12-01T23:00:00"},
    )
    shifted = await http.get(
        f"/v1.0/users/{alice}/calendarView",
        params={"startDateTime": "2026-12-01T00:00:00-02:00", "endDateTime": "2026-12-01T23:00:00-02:00"},
    )
    assert utc.json()["value"] == []
    assert [e["id"] for e in shifted.json()["value"]] == [ev["id"]]


async def test_calendar_view_lists_instances_in_window(http: httpx.AsyncClient, alice: str) -> None:
    """calendarView returns single instances and occurrences overlapping the window (https://learn.microsoft.com/en-us/graph/api/user-list-calendarview)."""
    await create(http, alice, event_body("in", "2026-12-05T10:00:00", "2026-12-05T11:00:00"))
    await create(http, alice, event_body("out", "2027-01-05T10:00:00", "2027-01-05T11:00:00"))
    resp = await http.get(f"/v1.0/users/{alice}/calendarView", params=WINDOW)
    assert [e["subject"] for e in resp.json()["value"]] == ["in"]
    missing = await http.get(f"/v1.0/users/{alice}/calendarView")
    assert missing.status_code == 400


async def test_events_delta_is_not_in_v1(http: httpx.AsyncClient, alice: str) -> None:
    """/users/{id}/events/delta is beta only; v1.0 refuses it (https://learn.microsoft.com/en-us/graph/api/event-delta)."""
    resp = await http.get(f"/v1.0/users/{alice}/events/delta()")
    assert resp.status_code == 400
