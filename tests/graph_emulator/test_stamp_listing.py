"""Finding the events that carry an extended property without reading each one (issue 12, item 1).

Page "Get singleValueLegacyExtendedProperty"
(https://learn.microsoft.com/en-us/graph/api/singlevaluelegacyextendedproperty-get): on a string property,
`eq` on the id and `eq`, `ne`, `contains` or `startswith` on the value; the Name in the id is case-sensitive,
the value is compared case-insensitively. Page "event: delta" (https://learn.microsoft.com/en-us/graph/api/event-delta)
and graph-facts §1: a calendar-view delta takes no `$expand` (nor `$select`, `$filter`).
"""

from __future__ import annotations

import httpx

from tests.graph_emulator.helpers import ERP_PROP, create, event_body


def _body(subject: str, stamp: str | None) -> dict[str, object]:
    extra = {"singleValueExtendedProperties": [{"id": ERP_PROP, "value": stamp}]} if stamp else {}
    return event_body(subject, "2026-12-01T10:00:00", "2026-12-01T11:00:00", **extra)


def _filter(value_clause: str) -> str:
    return f"singleValueExtendedProperties/Any(ep: ep/id eq '{ERP_PROP}' and {value_clause})"


async def _ids(http: httpx.AsyncClient, user: str, params: dict[str, str]) -> list[str]:
    resp = await http.get(f"/v1.0/users/{user}/events", params=params)
    assert resp.status_code == 200, resp.text
    return [e["subject"] for e in resp.json()["value"]]


async def test_value_ne_empty_lists_every_stamped_event_and_only_those(http: httpx.AsyncClient, alice: str) -> None:
    """`ep/value ne ''` finds every event with the property set; an event without it is not listed (page
    "Get singleValueLegacyExtendedProperty", string-typed properties)."""
    await create(http, alice, _body("stamped 1", "ACT-1"))
    await create(http, alice, _body("plain", None))
    await create(http, alice, _body("stamped 2", "ACT-2"))
    assert await _ids(http, alice, {"$filter": _filter("ep/value ne ''")}) == ["stamped 1", "stamped 2"]
    assert await _ids(http, alice, {"$filter": _filter("ep/value ne 'act-1'")}) == ["stamped 2"]


async def test_contains_and_startswith_on_the_value_ignore_case(http: httpx.AsyncClient, alice: str) -> None:
    """`contains(ep/value, …)` and `startswith(ep/value, …)` work on string values; values compare
    case-insensitively (page "Get singleValueLegacyExtendedProperty")."""
    await create(http, alice, _body("one", "ACT-17"))
    await create(http, alice, _body("two", "LEAVE-9"))
    assert await _ids(http, alice, {"$filter": _filter("startswith(ep/value, 'act-')")}) == ["one"]
    assert await _ids(http, alice, {"$filter": _filter("contains(ep/value, 'VE-9')")}) == ["two"]
    assert await _ids(http, alice, {"$filter": _filter("ep/value eq 'act-17'")}) == ["one"]


async def test_property_name_in_the_id_is_case_sensitive(http: httpx.AsyncClient, alice: str) -> None:
    """The Name part of the property id is matched case-sensitively, the GUID not (page "Get
    singleValueLegacyExtendedProperty": "Filtering the string name (Name) in the id … is case-sensitive")."""
    await create(http, alice, _body("one", "ACT-1"))
    upper_guid = ERP_PROP.replace("66f5a359", "66F5A359")
    other_name = ERP_PROP.replace("Name erpId", "Name ERPID")
    same = f"singleValueExtendedProperties/Any(ep: ep/id eq '{upper_guid}' and ep/value ne '')"
    other = f"singleValueExtendedProperties/Any(ep: ep/id eq '{other_name}' and ep/value ne '')"
    assert await _ids(http, alice, {"$filter": same}) == ["one"]
    assert await _ids(http, alice, {"$filter": other}) == []


async def test_select_id_with_the_stamp_expanded_answers_both(http: httpx.AsyncClient, alice: str) -> None:
    """`$select=id` with `$expand=singleValueExtendedProperties($filter=…)`: the expanded property is answered
    whatever `$select` lists (https://learn.microsoft.com/en-us/graph/query-parameters)."""
    made = await create(http, alice, _body("one", "ACT-1"))
    resp = await http.get(
        f"/v1.0/users/{alice}/events",
        params={
            "$filter": _filter("ep/value ne ''"),
            "$select": "id",
            "$expand": f"singleValueExtendedProperties($filter=id eq '{ERP_PROP}')",
        },
    )
    item = resp.json()["value"][0]
    assert item["id"] == made["id"]
    assert "subject" not in item
    assert item["singleValueExtendedProperties"] == [{"id": ERP_PROP, "value": "ACT-1"}]


async def test_unsupported_value_operator_is_refused(http: httpx.AsyncClient, alice: str) -> None:
    """Only the documented operators are accepted on a string value; `gt` is a 400 (page "Get
    singleValueLegacyExtendedProperty": `gt` is for numeric properties, which need a cast)."""
    resp = await http.get(f"/v1.0/users/{alice}/events", params={"$filter": _filter("ep/value gt 'A'")})
    assert resp.status_code == 400


async def test_calendar_view_delta_refuses_expand_of_the_stamp(http: httpx.AsyncClient, alice: str) -> None:
    """A calendar-view delta takes no `$expand` (graph-facts §1, page "event: delta"): the stamp cannot come
    with the delta pages, so the sync lists the stamped events instead."""
    resp = await http.get(
        f"/v1.0/users/{alice}/calendarView/delta",
        params={
            "startDateTime": "2026-12-01T00:00:00Z",
            "endDateTime": "2026-12-31T00:00:00Z",
            "$expand": f"singleValueExtendedProperties($filter=id eq '{ERP_PROP}')",
        },
    )
    assert resp.status_code == 400
