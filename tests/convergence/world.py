"""One machine run's world: Graph emulator, reference ERP, state and the sync engine, on one event loop.

Two backends serve the machine the same surface: ``FakeWorld`` (``emulators/fakes/stack.py``: the engine
on the in-process fakes, thousands of examples a minute) and ``HttpWorld`` (``world_http.py``: the real
adapters over HTTP transports and Table Storage in Azurite). People act as their clients do: Outlook
through Graph REST (``outlook``), the ERP through the ERP Sync API (``erp_call``); the service through
``engine.sync_user``. The readers return what each side shows right now, for the machine's checks.
"""

from __future__ import annotations

import asyncio
import random
import re
import secrets
import uuid
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

import httpx
import pytest

from emulators.erp.db import utc_clock
from emulators.erp.store import ErpStore
from emulators.fakes.stack import ErpTrap, FakeStack, StateCrash
from emulators.stack import stack_settings
from shared.composition import Services
from shared.core.activities import Activity, LeaveRequest
from shared.core.meetings import answer
from shared.core.policy import SyncPolicy
from shared.graph.convert import ERP_STAMP_PROPERTY
from shared.handlers.daily import daily_close
from shared.queueing import WorkQueue
from shared.state.port import StateStore
from shared.sync.engine import SyncEngine

T = TypeVar("T")
_SEVEN_DIGITS = re.compile(r"(\.\d{6})\d+")  # Graph sends 7 fractional digits; Python reads 6
HOST = "http://127.0.0.1"


@dataclass(frozen=True)
class Person:
    """A synced person: a mailbox and an ERP user with the defaults a new activity needs (R2)."""

    key: str
    user_id: str
    mailbox: str
    name: str


PEOPLE = {
    "ann": Person("ann", "U-ANN", "ann@contoso.example", "Ann"),
    "bob": Person("bob", "U-BOB", "bob@contoso.example", "Bob"),
    "cy": Person("cy", "U-CY", "cy@contoso.example", "Cy"),
}
BY_USER = {p.user_id: p for p in PEOPLE.values()}
# The external contact: an ERP contact of a customer company, whose own (not synced) mail system is a
# mailbox of the emulator so she can answer invitations and send her own.
EVE = "eve@fabrikam.example"
EVE_ID, FABRIKAM_ID, FABRIKAM = "K-EVE", "C-FAB", "Fabrikam"


@dataclass(frozen=True, kw_only=True)
class SeenEvent:
    """One event as its mailbox shows it, reduced to what the machine checks."""

    id: str
    ical_uid: str
    subject: str
    location: str
    start: datetime
    end: datetime
    is_cancelled: bool
    is_organizer: bool
    response: str  # "none", "organizer", "accepted", "tentativelyAccepted", "declined"
    attendees: dict[str, str]  # address -> the answer the organizer's copy shows
    stamp: str | None  # the ERP activity an ERP-born event was made for ("leave:<id>" for a leave request's)
    show_as: str = "busy"
    is_all_day: bool = False
    categories: tuple[str, ...] = ()


def instant(value: str, zone: str) -> datetime:
    """A Graph/ERP wall-clock time with its zone name, as an aware UTC instant."""
    parsed = datetime.fromisoformat(_SEVEN_DIGITS.sub(r"\1", value.replace("Z", "+00:00")))
    if parsed.tzinfo is not None:
        return parsed.astimezone(UTC)
    return parsed.replace(tzinfo=ZoneInfo("UTC" if zone in ("UTC", "") else zone)).astimezone(UTC)


def activity_when(activity: Activity) -> tuple[datetime, datetime]:
    zone = ZoneInfo(activity.time_zone or "UTC")
    return activity.start.replace(tzinfo=zone).astimezone(UTC), activity.end.replace(tzinfo=zone).astimezone(UTC)


class SeededIds:
    """Ids from a seeded generator instead of the OS (``uuid.uuid4``, ``secrets.token_bytes``/``token_hex``, which
    the emulators, the reference ERP and the service draw their ids from), reseeded for every machine run: the
    order of records (ids sort them in delta pages and state listings) is then the same each time an example is
    replayed, so hypothesis can replay and shrink what it found. Different runs still see different orders."""

    def __init__(self) -> None:
        self.random = random.Random(0)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(int=self.random.getrandbits(128), version=4))
        monkeypatch.setattr(secrets, "token_bytes", lambda n=32: self.random.randbytes(n))
        monkeypatch.setattr(secrets, "token_hex", lambda n=32: self.random.randbytes(n).hex())

    def reseed(self) -> None:
        self.random.seed(0)


SEEDED_IDS = SeededIds()


class World:
    """What both backends share; subclasses set the engine, clients, stores and faults up."""

    engine: SyncEngine
    graph: httpx.AsyncClient  # a person's Outlook (Graph REST with its own token) and the emulator's control API
    erp: httpx.AsyncClient  # a person's ERP screen (the ERP Sync API with its key)
    store: ErpStore  # the reference ERP's records, for the checks
    state: StateStore  # the service's state, for the checks

    def __init__(self) -> None:
        SEEDED_IDS.reseed()
        self.loop = asyncio.new_event_loop()
        self.today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    def close(self) -> None:
        try:
            self.run(self._aclose())
        finally:
            self.loop.close()

    async def _aclose(self) -> None:
        raise NotImplementedError

    # --- the service ---

    def another_instance(self) -> SyncEngine:
        """A second Functions instance on the same systems and state."""
        raise NotImplementedError

    def interleave(self, yields: Sequence[int]) -> None:
        """How often each port call of concurrent runs gives way to the other (fakes only; HTTP just does)."""

    # --- faults (each cleared by ``clear_faults`` after the run they were meant for) ---

    async def expire_delta_tokens(self) -> None:
        """Graph forgets every delta token it gave out: the next delta call of each mailbox answers 410."""
        response = await self.graph.post("/_emulator/delta-tokens/expire")
        assert response.status_code == 204, response.text

    async def graph_fault(self, **fault: Any) -> None:
        response = await self.graph.post("/_emulator/faults", json=fault)
        assert response.status_code < 300, response.text

    async def erp_fault(self, status: int, count: int) -> None:
        raise NotImplementedError

    def erp_trap(self, trap: ErpTrap) -> None:
        raise NotImplementedError

    def state_crash(self, crash: StateCrash) -> None:
        raise NotImplementedError

    async def clear_faults(self) -> None:
        raise NotImplementedError

    def sprung(self) -> int:
        """How many service calls the ERP trap failed since the last call (then reset)."""
        raise NotImplementedError

    # --- people ---

    async def outlook(self, mailbox: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = await self.graph.request(method, f"/v1.0/users/{mailbox}{path}", **kwargs)
        assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
        return response

    async def erp_call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = await self.erp.request(method, path.lstrip("/"), **kwargs)
        assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
        return response

    async def erp_write(self, activity_id: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A person's write at the activity's current version (If-Match), as the ERP's screen does it."""
        version = self.store.get_activity(activity_id).version
        return await self.erp_call(method, path, headers={"If-Match": f'"{version}"'}, **kwargs)

    def hold_erp_clock(self, moment: datetime | None) -> None:
        """Hold the ERP's clock at ``moment`` (its writes then share one ``modified_at`` second); None lets it run."""
        self.store.clock = (lambda: moment) if moment is not None else utc_clock

    async def close_job(self, night: datetime) -> dict[str, int]:
        """The nightly close job (R29, ``shared.handlers.daily.daily_close``) as it runs at ``night``."""
        return await daily_close(replace(self.services(), clock=lambda: night))

    def services(self) -> Services:
        """What the timer functions are given: settings, ports and state of this world."""
        raise NotImplementedError

    def enable(self, user_id: str, enabled: bool) -> None:
        """The ERP admin switches a user's calendar sync on or off (R2)."""
        self.store.put_user(self.store.get_user(user_id).model_copy(update={"enabled": enabled}))

    def when(self, day: int, hour: int, minutes: int) -> tuple[datetime, datetime]:
        start = self.today + timedelta(days=day, hours=hour)
        return start, start + timedelta(minutes=minutes)

    # --- what each side shows ---

    async def calendar(self, mailbox: str) -> list[SeenEvent]:
        """Every event of the sync window (R4) in the mailbox's calendar view, with the ERP stamp."""
        start, end = self.today - timedelta(days=1), self.today + timedelta(days=40)
        params: dict[str, str] | None = {
            "startDateTime": start.isoformat(),
            "endDateTime": end.isoformat(),
            "$top": "100",
            "$expand": f"singleValueExtendedProperties($filter=id eq '{ERP_STAMP_PROPERTY}')",
        }
        url = f"/v1.0/users/{mailbox}/calendarView"
        out: list[SeenEvent] = []
        while url:
            response = await self.graph.get(url, params=params)
            assert response.status_code == 200, response.text
            page = response.json()
            out.extend(_seen(e) for e in page["value"])
            next_link = page.get("@odata.nextLink")
            url, params = ("/v1.0" + next_link.split("/v1.0", 1)[1] if next_link else ""), None
        return out

    def activities(self) -> list[Activity]:
        """Every activity the ERP holds, voided ones too."""
        return self.store.list_activities()

    def leave_requests(self) -> list[LeaveRequest]:
        """Every leave request the ERP holds."""
        return self.store.list_leave_requests()


def _seen(e: dict[str, Any]) -> SeenEvent:
    stamps = [p["value"] for p in e.get("singleValueExtendedProperties") or [] if p.get("value")]
    return SeenEvent(
        id=e["id"],
        ical_uid=e.get("iCalUId") or "",
        subject=e.get("subject") or "",
        location=(e.get("location") or {}).get("displayName") or "",
        start=instant(e["start"]["dateTime"], e["start"]["timeZone"]),
        end=instant(e["end"]["dateTime"], e["end"]["timeZone"]),
        is_cancelled=bool(e.get("isCancelled")),
        is_organizer=e.get("isOrganizer") is not False,
        response=answer((e.get("responseStatus") or {}).get("response")),
        attendees={
            a["emailAddress"]["address"].lower(): answer((a.get("status") or {}).get("response"))
            for a in e.get("attendees") or []
        },
        stamp=stamps[0] if stamps else None,
        show_as=e.get("showAs") or "busy",
        is_all_day=bool(e.get("isAllDay")),
        categories=tuple(e.get("categories") or ()),
    )


class FakeWorld(World):
    """The engine on the in-process fakes (``FakeStack``)."""

    def __init__(self) -> None:
        super().__init__()
        self.stack = self.run(FakeStack.start(policy=SyncPolicy(leave_requests=True)))  # R30 on (R3)
        self.engine, self.graph, self.erp = self.stack.engine, self.stack.graph, self.stack.erp_http
        self.store, self.state = self.stack.erp_app.state.store, self.stack.memory
        self.run(seed_people(self.stack.add_person, self.stack.add_mailbox, self.stack.add_contact))
        self._services: Services | None = None

    def services(self) -> Services:
        if self._services is None:
            stack = self.stack
            self._services = Services(
                settings=stack_settings("UseDevelopmentStorage=true", prefix="cv", SYNC_LEAVE_REQUESTS="true"),
                state=cast(StateStore, stack.state),
                calendar=stack.calendar,
                erp=cast(Any, stack.erp),
                queue=cast(WorkQueue, None),  # the jobs the machine runs queue nothing
                engine=self.engine,
                clock=stack.clock,
            )
        return self._services

    async def _aclose(self) -> None:
        await self.stack.aclose()

    def another_instance(self) -> SyncEngine:
        return self.stack.another_instance()

    def interleave(self, yields: Sequence[int]) -> None:
        self.stack.interleave(yields)

    async def erp_fault(self, status: int, count: int) -> None:
        self.stack.erp.fail_next(status, count)

    def erp_trap(self, trap: ErpTrap) -> None:
        self.stack.erp.trap = trap

    def state_crash(self, crash: StateCrash) -> None:
        self.stack.state.crash = crash

    async def clear_faults(self) -> None:
        await self.stack.clear_faults()

    def sprung(self) -> int:
        sprung, self.stack.erp.sprung = self.stack.erp.sprung, 0
        return sprung


async def seed_people(add_person: Any, add_mailbox: Any, add_contact: Any) -> None:
    for person in PEOPLE.values():
        await add_person(user_id=person.user_id, mailbox=person.mailbox, name=person.name)
    await add_mailbox(EVE, "Eve")
    await add_contact(contact_id=EVE_ID, email=EVE, name="Eve", company_id=FABRIKAM_ID, company=FABRIKAM)
