"""The whole service in one process: Graph emulator and reference ERP over in-process HTTP, state on Azurite."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from emulators.erp.app import create_app as create_erp
from emulators.graph.app import create_app as create_graph
from shared.composition import Services, build_services
from shared.settings import Settings, load_settings

ERP_KEY = "erp-test-key"
ERP_URL = "http://127.0.0.1:1"
GRAPH_HOST = "http://127.0.0.1:2"


@dataclass
class Stack:
    services: Services
    graph: httpx.AsyncClient  # a person's Outlook: raw Graph calls with an app token
    erp: httpx.AsyncClient  # a person's ERP screen: raw ERP Sync API calls
    now: Callable[[], datetime]
    graph_app: Any
    erp_app: Any

    async def outlook(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = await self.graph.request(method, f"/v1.0{path}", **kwargs)
        assert response.status_code < 300, response.text
        return response

    async def erp_call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = await self.erp.request(method, path.lstrip("/"), **kwargs)
        assert response.status_code < 300, response.text
        return response


def settings_for(conn: str, **extra: str) -> Settings:
    return load_settings(
        {
            "GRAPH_TENANT_ID": "contoso.example",
            "GRAPH_CLIENT_ID": "sync-app",
            "GRAPH_CLIENT_SECRET": "s3cret",
            "GRAPH_CLIENT_STATE": "state-" + uuid.uuid4().hex,
            "GRAPH_BASE_URL": f"{GRAPH_HOST}/v1.0",
            "GRAPH_AUTHORITY_HOST": GRAPH_HOST,
            "ERP_BASE_URL": ERP_URL,
            "ERP_API_KEY": ERP_KEY,
            "ERP_HOOK_SECRET": "hook-secret",
            "AzureWebJobsStorage": conn,
            "STATE_TABLE_PREFIX": "t" + uuid.uuid4().hex[:12],
            **extra,
        }
    )


@pytest.fixture
async def stack(azurite_connection_string: str) -> AsyncIterator[Stack]:
    graph_app = create_graph(
        outbound=httpx.AsyncClient(transport=httpx.MockTransport(lambda request: httpx.Response(503)))
    )
    erp_app = create_erp(":memory:", api_key=ERP_KEY)
    graph_transport = httpx.ASGITransport(app=graph_app)
    erp_transport = httpx.ASGITransport(app=erp_app)
    services = await build_services(
        settings_for(azurite_connection_string), graph_transport=graph_transport, erp_transport=erp_transport
    )
    graph = httpx.AsyncClient(transport=graph_transport, base_url=GRAPH_HOST)
    token = (
        await graph.post(
            "/contoso.example/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "person",
                "client_secret": "x",
                "scope": "https://graph.microsoft.com/.default",
            },
        )
    ).json()["access_token"]
    graph.headers["Authorization"] = f"Bearer {token}"
    erp = httpx.AsyncClient(
        transport=erp_transport, base_url=ERP_URL + "/", headers={"Authorization": f"Bearer {ERP_KEY}"}
    )
    try:
        yield Stack(
            services=services, graph=graph, erp=erp, now=lambda: datetime.now(UTC), graph_app=graph_app, erp_app=erp_app
        )
    finally:
        await graph.aclose()
        await erp.aclose()
        await services.aclose()
