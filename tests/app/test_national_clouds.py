"""National clouds: the Graph token scope follows GRAPH_BASE_URL, storage endpoints follow STORAGE_ENDPOINT_SUFFIX.

Microsoft Graph in a national cloud has its own root, and an app-only token must be asked for that root's
``/.default`` scope (https://learn.microsoft.com/graph/sdks/national-clouds, endpoints from
https://learn.microsoft.com/graph/deployments). Azure Storage endpoints carry the cloud's DNS suffix
(Bicep ``environment().suffixes.storage``).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from azure.core.credentials import AccessToken
from azure.core.credentials_async import AsyncTokenCredential

from shared import composition
from shared.errors import SettingsError
from shared.graph.client import GraphCalendar, graph_scope
from shared.queueing import StorageWorkQueue
from shared.settings import load_settings

IN_AZURE = {
    "GRAPH_TENANT_ID": "contoso.onmicrosoft.us",
    "GRAPH_CLIENT_ID": "11111111-2222-3333-4444-555555555555",
    "GRAPH_CLIENT_SECRET": "very-secret-value",
    "GRAPH_CLIENT_STATE": "client-state-secret",
    "ERP_BASE_URL": "https://erp.example.com/sync-api",
    "ERP_API_KEY": "erp-key-secret-value",
    "ERP_HOOK_SECRET": "hook-secret-value-0123",
    "AzureWebJobsStorage__accountName": "stcalsync",
    "AzureWebJobsStorage__credential": "managedidentity",
}


@pytest.mark.parametrize(
    ("base_url", "scope"),
    [
        ("https://graph.microsoft.com/v1.0", "https://graph.microsoft.com/.default"),  # global service
        ("https://graph.microsoft.us/v1.0", "https://graph.microsoft.us/.default"),  # US Government L4
        ("https://dod-graph.microsoft.us/v1.0", "https://dod-graph.microsoft.us/.default"),  # US Government L5
        ("https://microsoftgraph.chinacloudapi.cn/v1.0", "https://microsoftgraph.chinacloudapi.cn/.default"),
        ("http://127.0.0.1:8123/v1.0", "http://127.0.0.1:8123/.default"),  # the local Graph emulator
    ],
)
def test_graph_scope_is_the_root_of_the_configured_graph(base_url: str, scope: str) -> None:
    """The /.default scope names the Graph root the app calls, in every national cloud."""
    assert graph_scope(base_url) == scope


class _RecordingCredential(AsyncTokenCredential):
    def __init__(self) -> None:
        self.scopes: list[tuple[str, ...]] = []

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken("token", 2**31)

    async def close(self) -> None:
        return None


async def test_graph_calendar_asks_for_a_token_of_its_own_cloud() -> None:
    """A calendar on US Government Graph requests a graph.microsoft.us token and calls that host only."""
    hosts: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        hosts.append(request.url.host)
        return httpx.Response(200, json={"value": []}, headers={"Content-Type": "application/json"})

    credential = _RecordingCredential()
    calendar = GraphCalendar(
        credential=credential, base_url="https://graph.microsoft.us/v1.0", transport=httpx.MockTransport(answer)
    )
    try:
        assert await calendar.subscriptions() == ()
    finally:
        await calendar.aclose()
    assert credential.scopes == [("https://graph.microsoft.us/.default",)]
    assert hosts == ["graph.microsoft.us"]


def test_storage_endpoints_default_to_the_global_cloud() -> None:
    settings = load_settings(IN_AZURE)
    assert settings.storage_endpoint_suffix == "core.windows.net"
    assert settings.storage_service_url("table") == "https://stcalsync.table.core.windows.net"


def test_storage_endpoints_follow_the_suffix_setting() -> None:
    """Azure Government's storage suffix (the template passes environment().suffixes.storage)."""
    settings = load_settings({**IN_AZURE, "STORAGE_ENDPOINT_SUFFIX": "core.usgovcloudapi.net"})
    assert settings.storage_service_url("queue") == "https://stcalsync.queue.core.usgovcloudapi.net"


@pytest.mark.parametrize("suffix", ["", "https://core.windows.net", "core.windows.net/", "localhost"])
def test_a_malformed_storage_suffix_is_refused_by_name(suffix: str) -> None:
    with pytest.raises(SettingsError, match="STORAGE_ENDPOINT_SUFFIX"):
        load_settings({**IN_AZURE, "STORAGE_ENDPOINT_SUFFIX": suffix})


def test_work_queue_and_its_poison_queue_use_the_given_endpoint() -> None:
    queue = StorageWorkQueue.from_account("https://stcalsync.queue.core.chinacloudapi.cn", _RecordingCredential())
    assert queue._client.url == "https://stcalsync.queue.core.chinacloudapi.cn/sync-user"
    assert queue._poison is not None
    assert queue._poison.url == "https://stcalsync.queue.core.chinacloudapi.cn/sync-user-poison"


async def test_services_reach_storage_and_graph_of_the_configured_cloud(monkeypatch: pytest.MonkeyPatch) -> None:
    """The composition root builds the table and queue clients on the suffix and Graph on GRAPH_BASE_URL."""
    built: dict[str, str] = {}

    class _Store:
        async def ensure_tables(self) -> None:
            return None

        async def aclose(self) -> None:
            return None

    class _Queue(_Store):
        pass

    def table_store(url: str, credential: object, *, prefix: str) -> _Store:
        built["tables"] = url
        return _Store()

    def work_queue(url: str, credential: object) -> _Queue:
        built["queue"] = url
        return _Queue()

    monkeypatch.setattr(composition.TableStateStore, "from_account", table_store)
    monkeypatch.setattr(composition.StorageWorkQueue, "from_account", work_queue)
    monkeypatch.setattr(composition, "_storage_credential", lambda settings: _RecordingCredential())
    settings = load_settings(
        {
            **IN_AZURE,
            "STORAGE_ENDPOINT_SUFFIX": "core.usgovcloudapi.net",
            "GRAPH_BASE_URL": "https://graph.microsoft.us/v1.0",
            "GRAPH_AUTHORITY_HOST": "https://login.microsoftonline.us",
        }
    )
    services = await composition.build_services(settings)
    try:
        assert built == {
            "tables": "https://stcalsync.table.core.usgovcloudapi.net",
            "queue": "https://stcalsync.queue.core.usgovcloudapi.net",
        }
        calendar = services.calendar
        assert isinstance(calendar, GraphCalendar)
        assert calendar._client.request_adapter.base_url == "https://graph.microsoft.us/v1.0"
    finally:
        await services.aclose()
