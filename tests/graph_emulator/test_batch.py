"""JSON batching (https://learn.microsoft.com/en-us/graph/json-batching)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.graph_emulator.helpers import event_body

JSON = {"Content-Type": "application/json"}


def _create(rid: str, user: str, subject: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": rid,
        "method": "POST",
        "url": f"/users/{user}/events",
        "headers": JSON,
        "body": event_body(subject, "2026-12-01T10:00:00", "2026-12-01T11:00:00"),
        **extra,
    }


async def test_batch_answers_each_request_with_its_own_status(http: httpx.AsyncClient, alice: str) -> None:
    """A batch answers 200 with one response per request id, each with its own status (https://learn.microsoft.com/en-us/graph/json-batching)."""
    resp = await http.post(
        "/v1.0/$batch",
        json={
            "requests": [
                _create("1", alice, "a"),
                {"id": "2", "method": "GET", "url": f"/users/{alice}/events/nope"},
                {"id": "3", "method": "GET", "url": f"users/{alice}/events"},
            ]
        },
    )
    assert resp.status_code == 200
    by_id = {r["id"]: r for r in resp.json()["responses"]}
    assert by_id["1"]["status"] == 201
    assert by_id["1"]["body"]["subject"] == "a"
    assert by_id["2"]["status"] == 404
    assert by_id["2"]["body"]["error"]["code"] == "ErrorItemNotFound"
    assert by_id["3"]["status"] == 200


async def test_failed_dependency_gets_424(http: httpx.AsyncClient, alice: str) -> None:
    """A request whose dependsOn failed is answered 424 and not run (https://learn.microsoft.com/en-us/graph/json-batching)."""
    bad = _create("1", alice, "bad")
    bad["body"]["showAs"] = "nonsense"
    resp = await http.post("/v1.0/$batch", json={"requests": [bad, _create("2", alice, "after", dependsOn=["1"])]})
    by_id = {r["id"]: r for r in resp.json()["responses"]}
    assert by_id["1"]["status"] == 400
    assert by_id["2"]["status"] == 424
    assert (await http.get(f"/v1.0/users/{alice}/events")).json()["value"] == []


async def test_dependent_requests_run_in_order(http: httpx.AsyncClient, alice: str) -> None:
    """dependsOn orders execution: the dependent runs after its dependency succeeded (https://learn.microsoft.com/en-us/graph/json-batching)."""
    resp = await http.post(
        "/v1.0/$batch",
        json={
            "requests": [
                {"id": "2", "method": "GET", "url": f"/users/{alice}/events", "dependsOn": ["1"]},
                _create("1", alice, "first"),
            ]
        },
    )
    by_id = {r["id"]: r for r in resp.json()["responses"]}
    assert [e["subject"] for e in by_id["2"]["body"]["value"]] == ["first"]


async def test_more_than_twenty_requests_or_duplicate_ids_are_refused(http: httpx.AsyncClient, alice: str) -> None:
    """At most 20 requests with unique ids, else 400 (https://learn.microsoft.com/en-us/graph/json-batching)."""
    many = [{"id": str(i), "method": "GET", "url": f"/users/{alice}/events"} for i in range(21)]
    dup = [{"id": "1", "method": "GET", "url": f"/users/{alice}/events"}] * 2
    assert (await http.post("/v1.0/$batch", json={"requests": many})).status_code == 400
    assert (await http.post("/v1.0/$batch", json={"requests": dup})).status_code == 400


async def test_body_without_content_type_is_refused(http: httpx.AsyncClient, alice: str) -> None:
    """A request body needs a Content-Type header (https://learn.microsoft.com/en-us/graph/json-batching)."""
    item = _create("1", alice, "x")
    del item["headers"]
    assert (await http.post("/v1.0/$batch", json={"requests": [item]})).status_code == 400


async def test_each_batch_item_counts_against_throttling(http: httpx.AsyncClient, alice: str) -> None:
    """Inner requests are throttled one by one and can get their own 429 (https://learn.microsoft.com/en-us/graph/throttling#throttling-and-batching)."""
    await http.put("/_emulator/settings", json={"throttle": {"requestsPerWindow": 2}})
    resp = await http.post(
        "/v1.0/$batch",
        json={"requests": [{"id": str(i), "method": "GET", "url": f"/users/{alice}/events"} for i in range(3)]},
    )
    statuses = sorted(r["status"] for r in resp.json()["responses"])
    assert resp.status_code == 200
    assert statuses == [200, 200, 429]
    throttled = next(r for r in resp.json()["responses"] if r["status"] == 429)
    assert "Retry-After" in throttled["headers"]
    counts = (await http.get("/_emulator/requests")).json()["countsByMailbox"]
    assert counts[alice] == 3


async def test_absolute_item_urls_are_not_found(http: httpx.AsyncClient, alice: str) -> None:
    """An item's url is relative ("/users", not "https://graph.microsoft.com/v1.0/users"; page "JSON batching",
    https://learn.microsoft.com/en-us/graph/json-batching); the absolute URLs msgraph-sdk's batch helper sends
    are answered 400 "Resource not found for the segment" (https://github.com/microsoftgraph/msgraph-sdk-python/issues/1015)."""
    resp = await http.post(
        "/v1.0/$batch",
        json={"requests": [{"id": "1", "method": "GET", "url": f"http://127.0.0.1/v1.0/users/{alice}/events"}]},
    )
    assert resp.status_code == 200
    assert resp.json()["responses"][0]["status"] == 400
