"""One machine run's world: Graph emulator, reference ERP and the sync service in one process, one event loop.

People act through raw HTTP (Outlook through Graph REST with its own token, the ERP through the Sync API);
the service acts through ``services.engine.sync_user``. Readers return what each side shows right now.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import httpx

from emulators.erp.app import create_app as create_erp
from emulators.erp.seed import seed_store
from emulators.graph.app import create_app as create_graph
from shared.composition import Services, build_services
from shared.graph.convert import ERP_STAMP_PROPERTY
from shared.settings import load_settings

MAILBOX = "ann@contoso.example"
USER = "U-ANN"
ERP_KEY = "erp-convergence-key"
ERP_URL = "http://127.0.0.1:1"
GRAPH_HOST = "http://127.0.0.1:2"
T = TypeVar("T")
_SEVEN_DIGITS = re.compile(r"(\.\d{6})\d+")  # Graph sends 7 fractional digits; Python reads 6


@dataclass(frozen=True, kw_only=True)
class Seen:
    """One record as a person sees it on either side, reduced to the fields the machine checks."""

    id: str
    subject: str
    location: str
    start: datetime
    end: datetime
    pair_key: str  # which expected pair this record belongs to (see ``pair_key_of_*``)


def instant(value: str, zone: str) -> datetime:
    """A Graph/ERP wall-clock time with its zone name, as an aware UTC instant."""
    parsed = datetime.fromisoformat(_SEVEN_DIGITS.sub(r"\1", value.replace("Z", "+00:00")))
    if parsed.tzinfo is not None:
        return parsed.astimezone(UTC)
    return parsed.replace(tzinfo=ZoneInfo("UTC" if zone in ("UTC", "") else zone)).astimezone(UTC)


@dataclass
class ErpTrap:
    """Fail the sync's ERP calls that match, after letting ``skip`` of them through (a mid-run fault).

    ``lost`` makes the ERP apply the call before the 503 (the answer is lost on the way back), so the
    client's retry meets its own earlier write: the case idempotency keys and If-Match exist for (R10).
    """

    method: str
    path: str
    skip: int
    count: int
    lost: bool
    status: int = 503


class TrappedTransport(httpx.AsyncBaseTransport):
    """The service's way to the ERP, with an optional trap; people's calls go around it."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.trap: ErpTrap | None = None
        self.sprung = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        trap = self.trap
        if trap is None or request.method != trap.method or not re.search(trap.path, request.url.path):
            return await self.inner.handle_async_request(request)
        if trap.skip > 0:
            trap.skip -= 1
            return await self.inner.handle_async_request(request)
        if trap.count <= 0:
            return await self.inner.handle_async_request(request)
        trap.count -= 1
        self.sprung += 1
        if trap.lost:
            await (await self.inner.handle_async_request(request)).aread()
        return httpx.Response(trap.status, json={"title": "injected by the convergence test"})

    async def aclose(self) -> None:
        await self.inner.aclose()


class World:
    """Everything for one machine run; ``run`` drives coroutines on the run's own loop."""

    def __init__(self, *, azurite: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.azurite = azurite
        self.today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        self.run(self._start())

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    async def _start(self) -> None:
        self.graph_app = create_graph(
            outbound=httpx.AsyncClient(transport=httpx.MockTransport(lambda request: httpx.Response(503)))
        )
        self.erp_app = create_erp(":memory:", api_key=ERP_KEY)
        graph_transport = httpx.ASGITransport(app=self.graph_app)
        erp_transport = httpx.ASGITransport(app=self.erp_app)
        settings = load_settings(
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
                "AzureWebJobsStorage": self.azurite,
                "STATE_TABLE_PREFIX": "cv" + uuid.uuid4().hex[:12],  # a fresh state store per machine run
            }
        )
        self.erp_trap = TrappedTransport(erp_transport)
        self.services: Services = await build_services(
            settings, graph_transport=graph_transport, erp_transport=self.erp_trap
        )
        self.graph = httpx.AsyncClient(transport=graph_transport, base_url=GRAPH_HOST)
        token = (
            await self.graph.post(
                "/contoso.example/oauth2/v2.0/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": "person",
                    "client_secret": "x",
                    "scope": "https://graph.microsoft.com/.default",
                },
            )
        ).json()["access_token"]
        self.graph.headers["Authorization"] = f"Bearer {token}"
        self.erp = httpx.AsyncClient(
            transport=erp_transport, base_url=ERP_URL + "/", headers={"Authorization": f"Bearer {ERP_KEY}"}
        )
        added = await self.graph.post(
            "/_emulator/users", json={"mail": MAILBOX, "displayName": "Ann", "kind": "user", "hasMailbox": True}
        )
        assert added.status_code == 201, added.text
        seed_store(
            self.erp_app.state.store,
            {
                "users": [
                    {
                        "id": USER,
                        "displayName": "Ann",
                        "email": MAILBOX,
                        "enabled": True,
                        "defaultCompanyId": "C-OWN",
                        "defaultLocationId": "L-HQ",
                        "timeZone": "Europe/Oslo",
                    }
                ],
                "companies": [{"id": "C-OWN", "name": "Contoso"}],
            },
        )

    def close(self) -> None:
        async def stop() -> None:
            await self.graph.aclose()
            await self.erp.aclose()
            await self.services.aclose()

        try:
            self.run(stop())
        finally:
            self.loop.close()

    # --- raw calls, as a person's client makes them ---

    async def outlook(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = await self.graph.request(method, f"/v1.0/users/{MAILBOX}{path}", **kwargs)
        assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
        return response

    async def erp_call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = await self.erp.request(method, path.lstrip("/"), **kwargs)
        assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
        return response

    async def control(self, client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> None:
        response = await client.post(path, json=body)
        assert response.status_code < 300, response.text

    async def clear_faults(self) -> None:
        assert (await self.graph.delete("/_emulator/faults")).status_code < 300
        await self.control(self.erp, "_erp/faults", {"status": 503, "count": 0})

    # --- what each side shows ---

    def when(self, day: int, hour: int, minutes: int) -> tuple[datetime, datetime]:
        start = self.today + timedelta(days=day, hours=hour)
        return start, start + timedelta(minutes=minutes)

    async def live_events(self) -> list[Seen]:
        """Every event of the sync window (R4) in the calendar view, with the ERP stamp of ERP-born ones."""
        start, end = self.today - timedelta(days=1), self.today + timedelta(days=40)
        params: dict[str, str] | None = {
            "startDateTime": start.isoformat(),
            "endDateTime": end.isoformat(),
            "$top": "50",
            "$expand": f"singleValueExtendedProperties($filter=id eq '{ERP_STAMP_PROPERTY}')",
        }
        url = f"/v1.0/users/{MAILBOX}/calendarView"
        out: list[Seen] = []
        while url:
            response = await self.graph.get(url, params=params)
            assert response.status_code == 200, response.text
            page = response.json()
            for e in page["value"]:
                stamps = [p["value"] for p in e.get("singleValueExtendedProperties") or [] if p.get("value")]
                out.append(
                    Seen(
                        id=e["id"],
                        subject=e.get("subject") or "",
                        location=(e.get("location") or {}).get("displayName") or "",
                        start=instant(e["start"]["dateTime"], e["start"]["timeZone"]),
                        end=instant(e["end"]["dateTime"], e["end"]["timeZone"]),
                        pair_key=f"A:{stamps[0]}" if stamps else f"E:{e['id']}",
                    )
                )
            next_link = page.get("@odata.nextLink")
            url, params = (next_link.replace(GRAPH_HOST, ""), None) if next_link else ("", None)
        return out

    async def live_activities(self) -> list[Seen]:
        """Every not-voided activity of the user, from the ERP's own feed snapshot."""
        latest: dict[str, dict[str, Any]] = {}
        cursor: str | None = None
        while True:
            params = {"ownerId": USER, "limit": "100", **({"cursor": cursor} if cursor else {})}
            page = (await self.erp_call("GET", "/activity-changes", params=params)).json()
            for change in page["items"]:
                if change.get("activity"):
                    latest[change["activityId"]] = change["activity"]
                else:
                    latest.pop(change["activityId"], None)
            cursor = page.get("nextCursor")
            if not page.get("hasMore") or not cursor:
                break
        out = []
        for a in latest.values():
            if a["state"] == "voided":
                continue
            zone = a.get("timeZone") or "UTC"
            origin = a.get("origin") or {}
            out.append(
                Seen(
                    id=a["id"],
                    subject=a.get("subject") or "",
                    location=a.get("location") or "",
                    start=instant(a["start"], zone),
                    end=instant(a["end"], zone),
                    pair_key=f"E:{origin['eventId']}" if origin.get("eventId") else f"A:{a['id']}",
                )
            )
        return out
