"""Throttling (https://learn.microsoft.com/en-us/graph/throttling-limits#outlook-service-limits) and scripted faults."""

from __future__ import annotations

import asyncio

import httpx
from msgraph import GraphServiceClient

from tests.graph_emulator.helpers import create, event_body


async def test_request_budget_per_mailbox_answers_429_with_retry_after(
    http: httpx.AsyncClient, alice: str, bob: str
) -> None:
    """Past the per app and mailbox budget: 429, Retry-After in seconds, ApplicationThrottled (https://learn.microsoft.com/en-us/graph/throttling)."""
    await http.put("/_emulator/settings", json={"throttle": {"requestsPerWindow": 3, "windowSeconds": 60}})
    statuses = [(await http.get(f"/v1.0/users/{alice}/events")).status_code for _ in range(4)]
    throttled = await http.get(f"/v1.0/users/{alice}/events")
    other_mailbox = await http.get(f"/v1.0/users/{bob}/events")
    assert statuses == [200, 200, 200, 429]
    assert throttled.status_code == 429
    assert 1 <= int(throttled.headers["Retry-After"]) <= 60
    assert throttled.json()["error"]["code"] == "ApplicationThrottled"
    assert other_mailbox.status_code == 200


async def test_concurrent_requests_over_the_limit_are_throttled(http: httpx.AsyncClient, alice: str) -> None:
    """More than N concurrent requests per mailbox get 429 MailboxConcurrency (https://learn.microsoft.com/en-us/graph/throttling-limits#outlook-service-limits)."""
    await http.put("/_emulator/settings", json={"throttle": {"concurrency": 2}})
    await http.post("/_emulator/faults", json={"path": "/events$", "count": 4, "delayMs": 200})
    results = await asyncio.gather(*(http.get(f"/v1.0/users/{alice}/events") for _ in range(4)))
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200, 200, 429, 429]
    throttled = next(r for r in results if r.status_code == 429)
    assert throttled.json()["error"]["message"] == "Application is over its MailboxConcurrency limit."


async def test_fault_fails_the_next_count_matching_requests(http: httpx.AsyncClient, alice: str) -> None:
    """POST /_emulator/faults makes the next `count` matching requests fail that way (emulators/graph/README.md)."""
    resp = await http.post(
        "/_emulator/faults",
        json={"method": "POST", "path": "/events$", "mailbox": alice, "status": 503, "count": 2, "retryAfter": 7},
    )
    assert resp.status_code == 201
    body = event_body("x", "2026-12-01T10:00:00", "2026-12-01T11:00:00")
    reads = await http.get(f"/v1.0/users/{alice}/events")
    first = await http.post(f"/v1.0/users/{alice}/events", json=body)
    second = await http.post(f"/v1.0/users/{alice}/events", json=body)
    third = await http.post(f"/v1.0/users/{alice}/events", json=body)
    assert reads.status_code == 200
    assert (first.status_code, second.status_code, third.status_code) == (503, 503, 201)
    assert first.headers["Retry-After"] == "7"


async def test_fault_with_custom_body(http: httpx.AsyncClient, alice: str) -> None:
    """A fault may carry the exact body to answer (emulators/graph/README.md)."""
    custom = {"error": {"code": "ErrorAccessDenied", "message": "Access is denied."}}
    await http.post("/_emulator/faults", json={"status": 403, "count": 1, "body": custom})
    resp = await http.get(f"/v1.0/users/{alice}/events")
    assert resp.status_code == 403
    assert resp.json() == custom


async def test_sdk_retry_handler_recovers_from_a_throttled_request(
    graph: GraphServiceClient, http: httpx.AsyncClient, alice: str
) -> None:
    """The SDK's retry middleware honours 429 + Retry-After and succeeds on retry (https://learn.microsoft.com/en-us/graph/sdks/customize-client)."""
    await create(http, alice, event_body("x", "2026-12-01T10:00:00", "2026-12-01T11:00:00"))
    await http.post("/_emulator/faults", json={"method": "GET", "status": 429, "count": 1, "retryAfter": 1})
    listed = await graph.users.by_user_id(alice).events.get()
    log = (await http.get("/_emulator/requests")).json()["requests"]
    assert [e.subject for e in listed.value] == ["x"]
    assert [r["status"] for r in log if r["method"] == "GET"] == [429, 200]
