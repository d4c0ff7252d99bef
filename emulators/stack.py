"""The whole service in one process, for tests and benchmarks: the Graph emulator and the reference ERP
behind in-process HTTP transports, the real adapters and engine from the composition root, state in
Azurite. Also two "people": one with an Outlook token, one at the ERP's API.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.applications import Starlette

from emulators.erp.app import create_app as create_erp
from emulators.erp.seed import seed_store
from emulators.graph.app import create_app as create_graph
from shared.composition import Services, build_services
from shared.settings import Settings, load_settings

# Never listened on: every request goes through an in-process ASGI transport.
GRAPH_HOST = "http://127.0.0.1:2"
ERP_URL = "http://127.0.0.1:1"
ERP_KEY = "erp-test-key-0123456789"
TENANT = "contoso.example"

Wrap = Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport]


def stack_settings(storage: str, *, prefix: str, **extra: str) -> Settings:
    """App settings pointing at the in-process emulators and a fresh set of tables (``prefix``)."""
    return load_settings(
        {
            "GRAPH_TENANT_ID": TENANT,
            "GRAPH_CLIENT_ID": "sync-app",
            "GRAPH_CLIENT_SECRET": "s3cret",
            "GRAPH_CLIENT_STATE": "state-" + uuid.uuid4().hex,
            "GRAPH_BASE_URL": f"{GRAPH_HOST}/v1.0",
            "GRAPH_AUTHORITY_HOST": GRAPH_HOST,
            "ERP_BASE_URL": ERP_URL,
            "ERP_API_KEY": ERP_KEY,
            "ERP_HOOK_SECRET": "hook-secret-0123456789",
            "AzureWebJobsStorage": storage,
            "STATE_TABLE_PREFIX": prefix,
            **extra,
        }
    )


@dataclass
class InProcessStack:
    services: Services
    graph_app: Starlette
    erp_app: Starlette
    graph: httpx.AsyncClient  # a person's Outlook: Graph REST with a token of the emulator
    erp: httpx.AsyncClient  # a person's ERP screen: the ERP Sync API with its key
    prefix: str

    async def outlook(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = await self.graph.request(method, f"/v1.0{path}", **kwargs)
        assert response.status_code < 300, response.text
        return response

    async def erp_call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = await self.erp.request(method, path.lstrip("/"), **kwargs)
        assert response.status_code < 300, response.text
        return response

    async def add_person(
        self, *, user_id: str, mailbox: str, name: str, time_zone: str = "Europe/Oslo", sync_attachments: bool = False
    ) -> None:
        """A mailbox in Graph and an ERP user with the defaults a new activity needs (R2), and the person's own
        attachment setting (R18, off unless asked)."""
        added = await self.graph.post(
            "/_emulator/users", json={"mail": mailbox, "displayName": name, "kind": "user", "hasMailbox": True}
        )
        assert added.status_code == 201, added.text
        seed_store(
            self.erp_app.state.store,
            {
                "users": [
                    {
                        "id": user_id,
                        "displayName": name,
                        "email": mailbox,
                        "enabled": True,
                        "defaultCompanyId": "C-OWN",
                        "defaultLocationId": "L-HQ",
                        "timeZone": time_zone,
                        "syncAttachments": sync_attachments,
                    }
                ],
                "companies": [{"id": "C-OWN", "name": "Contoso"}],
            },
        )

    async def aclose(self) -> None:
        await self.graph.aclose()
        await self.erp.aclose()
        await self.services.aclose()


async def start_stack(
    storage: str,
    *,
    prefix_stem: str = "t",
    graph_wrap: Wrap | None = None,
    erp_wrap: Wrap | None = None,
    erp_series: bool = True,
    **settings: str,
) -> InProcessStack:
    """Fresh emulators and tables; ``*_wrap`` may wrap the service's transports (to count or to fail calls);
    ``erp_series=False``: a reference ERP without recurring series (R28)."""
    # Subscriptions are not used in-process: the emulator's outbound calls have nowhere to go.
    graph_app = create_graph(
        outbound=httpx.AsyncClient(transport=httpx.MockTransport(lambda request: httpx.Response(503)))
    )
    erp_app = create_erp(":memory:", api_key=ERP_KEY, series=erp_series)
    graph_transport, erp_transport = httpx.ASGITransport(app=graph_app), httpx.ASGITransport(app=erp_app)
    prefix = prefix_stem + uuid.uuid4().hex[:12]
    services = await build_services(
        stack_settings(storage, prefix=prefix, **settings),
        graph_transport=graph_wrap(graph_transport) if graph_wrap else graph_transport,
        erp_transport=erp_wrap(erp_transport) if erp_wrap else erp_transport,
    )
    graph = httpx.AsyncClient(transport=graph_transport, base_url=GRAPH_HOST)
    token = (
        await graph.post(
            f"/{TENANT}/oauth2/v2.0/token",
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
    return InProcessStack(services=services, graph_app=graph_app, erp_app=erp_app, graph=graph, erp=erp, prefix=prefix)
