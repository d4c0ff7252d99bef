"""App-only auth, the token endpoint, and mailbox lookup."""

from __future__ import annotations

import httpx

from emulators.graph import Emulator
from tests.graph_emulator.helpers import TENANT, event_body


async def test_token_endpoint_answers_client_credentials_shape(app: object) -> None:
    """Client-credentials grant returns a Bearer token (https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as c:  # type: ignore[arg-type]
        resp = await c.post(
            f"/{TENANT}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "app",
                "client_secret": "x",
                "scope": "https://graph.microsoft.com/.default",
            },
        )
    body = resp.json()
    assert resp.status_code == 200
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3599
    assert body["ext_expires_in"] == 3599
    assert isinstance(body["access_token"], str)
    assert body["access_token"]


async def test_token_endpoint_rejects_scope_without_default_suffix(app: object) -> None:
    """App-only tokens need the /.default scope (https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as c:  # type: ignore[arg-type]
        resp = await c.post(
            f"/{TENANT}/oauth2/v2.0/token",
            data={"grant_type": "client_credentials", "client_id": "a", "client_secret": "x", "scope": "User.Read"},
        )
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_scope"


async def test_request_without_token_gets_401_invalid_authentication_token(app: object, alice: str) -> None:
    """No bearer token: 401 InvalidAuthenticationToken in Graph's error body (https://learn.microsoft.com/en-us/graph/errors)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as c:  # type: ignore[arg-type]
        resp = await c.get(f"/v1.0/users/{alice}/events")
        forged = await c.get(f"/v1.0/users/{alice}/events", headers={"Authorization": "Bearer not-issued-here"})
    for r in (resp, forged):
        assert r.status_code == 401
        err = r.json()["error"]
        assert err["code"] == "InvalidAuthenticationToken"
        assert "request-id" in err["innerError"]


async def test_user_without_mailbox_answers_mailbox_not_enabled(http: httpx.AsyncClient, emulator: Emulator) -> None:
    """A user with no Exchange mailbox: 404 MailboxNotEnabledForRESTAPI (https://learn.microsoft.com/en-us/graph/api/resources/event)."""
    uid = emulator.add_user("nomail@contoso.com", "No Mail", has_mailbox=False)
    resp = await http.post(
        f"/v1.0/users/{uid}/events", json=event_body("x", "2026-12-01T10:00:00", "2026-12-01T11:00:00")
    )
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == "MailboxNotEnabledForRESTAPI"


async def test_user_found_by_user_principal_name_and_unknown_user_rejected(http: httpx.AsyncClient, alice: str) -> None:
    """/users/{id | userPrincipalName} both address the mailbox (https://learn.microsoft.com/en-us/graph/api/user-list-events)."""
    by_upn = await http.get("/v1.0/users/ALICE@contoso.com/events")
    unknown = await http.get("/v1.0/users/nobody@contoso.com/events")
    assert by_upn.status_code == 200
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "ErrorInvalidUser"


async def test_control_api_creates_user_with_generated_guid(http: httpx.AsyncClient) -> None:
    """POST /_emulator/users answers 201 with a GUID id when none is given (emulators/graph/README.md)."""
    resp = await http.post(
        "/_emulator/users",
        json={"mail": "carol@contoso.com", "displayName": "Carol", "kind": "user", "hasMailbox": True},
    )
    assert resp.status_code == 201
    uid = resp.json()["id"]
    assert len(uid) == 36
    assert uid.count("-") == 4
    user = await http.get(f"/v1.0/users/{uid}")
    assert user.json()["mail"] == "carol@contoso.com"
