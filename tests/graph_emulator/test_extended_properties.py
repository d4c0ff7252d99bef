"""Single-value extended properties as an external key (https://learn.microsoft.com/en-us/graph/api/singlevaluelegacyextendedproperty-get)."""

from __future__ import annotations

import httpx
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_abstractions.headers_collection import HeadersCollection
from msgraph import GraphServiceClient
from msgraph.generated.users.item.events.events_request_builder import EventsRequestBuilder

from tests.graph_emulator.helpers import ERP_PROP, create, event_body


def _stamped(subject: str, erp_id: str) -> dict[str, object]:
    return event_body(
        subject,
        "2026-12-01T10:00:00",
        "2026-12-01T11:00:00",
        singleValueExtendedProperties=[{"id": ERP_PROP, "value": erp_id}],
    )


async def test_filter_any_finds_event_by_extended_property_value(
    graph: GraphServiceClient, http: httpx.AsyncClient, alice: str
) -> None:
    """$filter=singleValueExtendedProperties/Any(ep: ep/id eq … and ep/value eq …) finds the stamped event (https://learn.microsoft.com/en-us/graph/api/singlevaluelegacyextendedproperty-get)."""
    await create(http, alice, _stamped("a", "ERP-1"))
    await create(http, alice, _stamped("b", "ERP-2"))
    query = EventsRequestBuilder.EventsRequestBuilderGetQueryParameters(
        filter=f"singleValueExtendedProperties/Any(ep: ep/id eq '{ERP_PROP}' and ep/value eq 'ERP-2')",
        expand=[f"singleValueExtendedProperties($filter=id eq '{ERP_PROP}')"],
    )
    found = await graph.users.by_user_id(alice).events.get(
        RequestConfiguration(query_parameters=query, headers=HeadersCollection())
    )
    assert [e.subject for e in found.value] == ["b"]
    props = found.value[0].single_value_extended_properties
    assert [(p.id, p.value) for p in props] == [(ERP_PROP, "ERP-2")]


async def test_extended_properties_only_returned_with_expand(http: httpx.AsyncClient, alice: str) -> None:
    """Extended properties are not in the default answer, only with $expand (https://learn.microsoft.com/en-us/graph/api/singlevaluelegacyextendedproperty-get)."""
    ev = await create(http, alice, _stamped("a", "ERP-1"))
    assert "singleValueExtendedProperties" not in ev
    plain = (await http.get(f"/v1.0/users/{alice}/events/{ev['id']}")).json()
    expanded = (
        await http.get(
            f"/v1.0/users/{alice}/events/{ev['id']}",
            params={"$expand": f"singleValueExtendedProperties($filter=id eq '{ERP_PROP}')"},
        )
    ).json()
    assert "singleValueExtendedProperties" not in plain
    assert expanded["singleValueExtendedProperties"] == [{"id": ERP_PROP, "value": "ERP-1"}]


async def test_filter_with_other_value_finds_nothing_and_bad_filter_is_400(http: httpx.AsyncClient, alice: str) -> None:
    """A non-matching value returns an empty list; an unsupported filter is a 400 (https://learn.microsoft.com/en-us/graph/query-parameters)."""
    await create(http, alice, _stamped("a", "ERP-1"))
    none = await http.get(
        f"/v1.0/users/{alice}/events",
        params={"$filter": f"singleValueExtendedProperties/Any(ep: ep/id eq '{ERP_PROP}' and ep/value eq 'nope')"},
    )
    bad = await http.get(f"/v1.0/users/{alice}/events", params={"$filter": "contains(foo,'x')"})
    assert none.json()["value"] == []
    assert bad.status_code == 400


async def test_malformed_extended_property_id_is_refused(http: httpx.AsyncClient, alice: str) -> None:
    """A property id must be "{type} {guid} Name {name}" or a tag (https://learn.microsoft.com/en-us/graph/api/resources/extended-properties-overview)."""
    body = event_body(
        "x", "2026-12-01T10:00:00", "2026-12-01T11:00:00", singleValueExtendedProperties=[{"id": "erpId", "value": "1"}]
    )
    resp = await http.post(f"/v1.0/users/{alice}/events", json=body)
    assert resp.status_code == 400
