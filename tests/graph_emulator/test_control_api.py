"""The emulator's control API (emulators/graph/README.md)."""

from __future__ import annotations

import httpx

from tests.graph_emulator.helpers import create, event_body


async def test_requests_log_counts_by_mailbox(http: httpx.AsyncClient, alice: str, bob: str) -> None:
    """GET /_emulator/requests lists method, path, mailbox, status, counts by mailbox (emulators/graph/README.md)."""
    await create(http, alice, event_body("x", "2026-12-01T10:00:00", "2026-12-01T11:00:00"))
    await http.get(f"/v1.0/users/{alice}/events")
    await http.get("/v1.0/users/bob@contoso.com/events")
    log = (await http.get("/_emulator/requests")).json()
    assert log["countsByMailbox"] == {alice: 2, bob: 1}
    assert log["requests"][0] == {"method": "POST", "path": f"/users/{alice}/events", "mailbox": alice, "status": 201}


async def test_reset_empties_everything(http: httpx.AsyncClient, alice: str) -> None:
    """POST /_emulator/reset answers 204 and forgets users, events and settings (emulators/graph/README.md)."""
    await create(http, alice, event_body("x", "2026-12-01T10:00:00", "2026-12-01T11:00:00"))
    await http.put("/_emulator/settings", json={"maxSubscriptionMinutes": 100})
    assert (await http.post("/_emulator/reset")).status_code == 204
    assert (await http.get("/_emulator/requests")).json()["requests"] == []
    assert (await http.get(f"/v1.0/users/{alice}/events")).status_code == 404
    assert (await http.get("/_emulator/settings")).json()["maxSubscriptionMinutes"] == 4230


async def test_settings_accept_any_subset_and_reject_unknown_keys(http: httpx.AsyncClient) -> None:
    """PUT /_emulator/settings changes only the given settings (emulators/graph/README.md)."""
    resp = await http.put("/_emulator/settings", json={"throttle": {"concurrency": 1}, "notificationDelayMs": 5})
    settings = resp.json()
    assert settings["throttle"] == {
        "requestsPerWindow": 10000,
        "windowSeconds": 600.0,
        "concurrency": 1,
        "uploadBytesPerWindow": 150 * 1024 * 1024,
        "uploadWindowSeconds": 300.0,
    }
    assert settings["notificationDelayMs"] == 5
    assert (await http.put("/_emulator/settings", json={"nope": 1})).status_code == 400


async def test_user_with_explicit_id_and_duplicate_is_conflict(http: httpx.AsyncClient) -> None:
    """POST /_emulator/users keeps a given id, refuses a second user with that mail (emulators/graph/README.md)."""
    body = {"id": "11111111-1111-1111-1111-111111111111", "mail": "d@contoso.com", "displayName": "D"}
    first = await http.post("/_emulator/users", json=body)
    second = await http.post("/_emulator/users", json={**body, "id": None})
    assert first.status_code == 201
    assert first.json()["id"] == body["id"]
    assert second.status_code == 409
