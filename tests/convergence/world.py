"""One machine run's world: Graph emulator, reference ERP and the sync service in one process, one event loop.

People act through raw HTTP (Outlook through Graph REST with its own token, the ERP through the Sync API);
the service acts through ``services.engine.sync_user``. Readers return what each side shows right now.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import httpx

from emulators.stack import GRAPH_HOST, start_stack
from shared.composition import Services
from shared.graph.convert import ERP_STAMP_PROPERTY

MAILBOX = "ann@contoso.example"
USER = "U-ANN"
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
        self.erp_trap: TrappedTransport | None = None

        def trap(inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
            self.erp_trap = TrappedTransport(inner)
            return self.erp_trap

        # A fresh state store (table prefix) and fresh emulators per machine run.
        self.stack = await start_stack(self.azurite, prefix_stem="cv", erp_wrap=trap)
        await self.stack.add_person(user_id=USER, mailbox=MAILBOX, name="Ann")
        self.graph_app, self.erp_app = self.stack.graph_app, self.stack.erp_app
        self.services: Services = self.stack.services
        self.graph, self.erp = self.stack.graph, self.stack.erp
        assert self.erp_trap is not None

    def close(self) -> None:
        try:
            self.run(self.stack.aclose())
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
