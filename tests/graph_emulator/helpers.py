"""Shared helpers of the fidelity suite: an msgraph-sdk client on the in-process emulator, and a webhook receiver."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from kiota_abstractions.authentication import AccessTokenProvider, AllowedHostsValidator
from kiota_abstractions.authentication.base_bearer_token_authentication_provider import (
    BaseBearerTokenAuthenticationProvider,
)
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph_core import GraphClientFactory
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

BASE = "http://127.0.0.1"
TENANT = "contoso.onmicrosoft.com"
ERP_PROP = "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name erpId"


class EmulatorTokenProvider(AccessTokenProvider):
    """Gets an app-only token from the emulator's token endpoint, like the service's Graph adapter does."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http
        self._token: str | None = None

    async def get_authorization_token(self, uri: str, additional_authentication_context: dict[str, Any] = {}) -> str:  # noqa: B006
        if self._token is None:
            self._token = await fetch_token(self._http)
        return self._token

    def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
        return AllowedHostsValidator(["127.0.0.1"])


async def fetch_token(http: httpx.AsyncClient, client_id: str = "app-1") -> str:
    resp = await http.post(
        f"/{TENANT}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": "s3cret",
            "scope": "https://graph.microsoft.com/.default",
        },
    )
    resp.raise_for_status()
    return str(resp.json()["access_token"])


def sdk_client(app: Starlette) -> GraphServiceClient:
    """msgraph-sdk wired to the in-process emulator through the factory (so it has the retry middleware)."""
    http = GraphClientFactory.create_with_default_middleware(
        client=httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)
    )
    token_http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)
    adapter = GraphRequestAdapter(BaseBearerTokenAuthenticationProvider(EmulatorTokenProvider(token_http)), http)
    adapter.base_url = f"{BASE}/v1.0"
    return GraphServiceClient(request_adapter=adapter)


@dataclass
class Receiver:
    """A webhook endpoint: echoes validation tokens, records notifications, can be told to fail."""

    validations: list[str] = field(default_factory=list)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    posts: int = 0
    fail_next: int = 0
    echo_wrong_token: bool = False
    reject_validation: bool = False

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            token = request.query_params.get("validationToken")
            if token is not None:
                self.validations.append(token)
                if self.reject_validation:
                    return Response(status_code=500)
                return PlainTextResponse("nope" if self.echo_wrong_token else token)
            self.posts += 1
            if self.fail_next > 0:
                self.fail_next -= 1
                return Response(status_code=503)
            self.notifications.extend((await request.json())["value"])
            return Response(status_code=202)

        return Starlette(routes=[Route("/hook", hook, methods=["POST"]), Route("/life", hook, methods=["POST"])])


def event_body(subject: str, start: str, end: str, tz: str = "UTC", **extra: Any) -> dict[str, Any]:
    """A minimal Graph event JSON body."""
    return {
        "subject": subject,
        "start": {"dateTime": start, "timeZone": tz},
        "end": {"dateTime": end, "timeZone": tz},
        **extra,
    }


async def create(http: httpx.AsyncClient, user: str, body: dict[str, Any], **headers: str) -> dict[str, Any]:
    resp = await http.post(f"/v1.0/users/{user}/events", json=body, headers=headers)
    assert resp.status_code == 201, resp.text
    data: dict[str, Any] = resp.json()
    return data


async def read_delta(http: httpx.AsyncClient, first_url: str, **headers: str) -> tuple[list[dict[str, Any]], str]:
    """Follow nextLinks to the end of a round; returns all items and the deltaLink."""
    items: list[dict[str, Any]] = []
    url = first_url
    while True:
        resp = await http.get(url, headers=headers)
        assert resp.status_code == 200, resp.text
        page = resp.json()
        items.extend(page["value"])
        if "@odata.deltaLink" in page:
            return items, str(page["@odata.deltaLink"])
        url = page["@odata.nextLink"]
