"""``$batch`` items side by side against one mailbox's concurrency limit (issue 12, item 2).

Page "JSON batching" (https://learn.microsoft.com/en-us/graph/json-batching): items without ``dependsOn`` run in
no set order, each is evaluated against throttling on its own; ``dependsOn`` runs an item after the one it
names. Page "Microsoft Graph throttling limits" (https://learn.microsoft.com/en-us/graph/throttling-limits),
Outlook service: 4 concurrent requests per app and mailbox.
"""

from __future__ import annotations

import httpx

from tests.graph_emulator.helpers import event_body


def _create(n: int, user: str, depends_on: list[str] | None = None) -> dict[str, object]:
    item: dict[str, object] = {
        "id": str(n),
        "method": "POST",
        "url": f"/users/{user}/events",
        "headers": {"Content-Type": "application/json"},
        "body": event_body(f"E{n}", "2026-12-01T10:00:00", "2026-12-01T11:00:00"),
    }
    if depends_on:
        item["dependsOn"] = depends_on
    return item


async def test_more_than_four_independent_items_to_one_mailbox_get_429_each(
    http: httpx.AsyncClient, alice: str
) -> None:
    """Eight independent creates in one mailbox: four run, the other four are throttled one by one (429 with
    ``Retry-After``, MailboxConcurrency), and only the four that ran exist."""
    resp = await http.post("/v1.0/$batch", json={"requests": [_create(n, alice) for n in range(8)]})
    statuses = sorted(r["status"] for r in resp.json()["responses"])
    assert statuses == [201] * 4 + [429] * 4
    throttled = [r for r in resp.json()["responses"] if r["status"] == 429]
    assert all("Retry-After" in r["headers"] for r in throttled)
    listed = (await http.get(f"/v1.0/users/{alice}/events", params={"$top": "50"})).json()["value"]
    assert len(listed) == 4


async def test_four_dependson_chains_keep_twenty_items_within_the_limit(http: httpx.AsyncClient, alice: str) -> None:
    """Twenty creates as four chains (each item depends on the one four before it): never more than four side
    by side, so all twenty are created."""
    items = [_create(n, alice, [str(n - 4)] if n >= 4 else None) for n in range(20)]
    resp = await http.post("/v1.0/$batch", json={"requests": items})
    assert sorted(r["status"] for r in resp.json()["responses"]) == [201] * 20


async def test_a_throttled_link_of_a_chain_fails_the_rest_of_it_with_424(http: httpx.AsyncClient, alice: str) -> None:
    """An item whose dependency failed is not run and is answered 424 (page "JSON batching")."""
    await http.post(
        "/_emulator/faults", json={"method": "POST", "path": "/events$", "status": 429, "retryAfter": 1, "count": 1}
    )
    items = [_create(0, alice), _create(1, alice, ["0"]), _create(2, alice, ["1"])]
    resp = await http.post("/v1.0/$batch", json={"requests": items})
    by_id = {r["id"]: r["status"] for r in resp.json()["responses"]}
    assert by_id == {"0": 429, "1": 424, "2": 424}
