"""``FakeStack``: the sync engine over the three in-process fakes, people at both ends, and faults.

The engine (``shared.sync.engine.SyncEngine``) runs on ``InProcessCalendar`` (the Graph emulator's
dispatcher), ``InProcessErp`` (the reference ERP's store) and ``InMemoryStateStore``: no HTTP, no kiota,
no Azurite, a few milliseconds a run. People act on the same systems the way their clients do:

- Outlook: Graph REST through ``httpx.ASGITransport`` on the same emulator app (``outlook``), with a
  token of their own; the control API (``/_emulator``) on the same app seeds users and injects faults;
- the ERP: the reference ERP's HTTP app on the same SQLite store (``erp_call``), with the API key.

Faults, as the HTTP stack injects them (``tests/convergence`` runs the same machine on both):

- Graph: the emulator's control API (``graph_fault``), which the fake calendar meets on its dispatcher
  and retries like msgraph-sdk's ``RetryHandler`` (without the waits);
- ERP: ``FaultyErp`` wraps the port: ``fail_next`` fails the next calls like ``POST /_erp/faults`` and
  ``trap`` springs on calls matching an HTTP method and path, like a trap on the service's transport,
  optionally after the ERP applied the call (the answer lost). Both are retried like ``HttpErp`` does;
- a crash between writes: ``CrashingState`` wraps any state store and raises ``SimulatedCrash`` at a
  chosen state write (before or after it is applied), as a host dying there would leave things. The
  engine's ``finally`` still gives the lease back: the same as the lease expiring before the next run.

Concurrency: the fakes never wait on I/O, so two runs gathered together would run one after the other;
``interleave`` makes every port call give way first as a schedule says, so their calls interleave.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import re
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import cycle
from typing import Any, TypeVar

import httpx
from starlette.applications import Starlette

from emulators.erp.app import create_app as create_erp
from emulators.erp.seed import seed_store
from emulators.fakes.calendar import InProcessCalendar, accepting_receiver
from emulators.fakes.erp import InProcessErp
from emulators.fakes.state import InMemoryStateStore
from emulators.graph.app import create_app as create_graph
from shared.core.policy import SyncPolicy
from shared.errors import ErpError, ErpTransient
from shared.state.port import StateStore
from shared.sync.engine import SyncEngine

T = TypeVar("T")
HOST = "http://127.0.0.1"
ERP_KEY = "erp-test-key"
TENANT = "contoso.example"
# HttpErp's attempts per call under ``stamina.set_testing(True, attempts=3)``, as the HTTP stack's tests run.
ERP_ATTEMPTS = 3


# --- interleaving ---------------------------------------------------------------------------------------


class Pauser:
    """Where concurrent runs interleave: before each port call a run gives way ``n`` times, ``n`` taken in
    turn from a schedule. The fakes never wait on I/O, so without this two runs gathered together would
    simply run one after the other; with it, any interleaving of their calls can be had, deterministically."""

    def __init__(self) -> None:
        self._yields: Iterator[int] | None = None

    def schedule(self, yields: Sequence[int]) -> None:
        """Use ``yields`` in turn from now on (an empty schedule: never give way)."""
        self._yields = cycle(yields) if any(yields) else None

    async def __call__(self) -> None:
        if self._yields is not None:
            for _ in range(next(self._yields)):
                await asyncio.sleep(0)


class PausingCalendar:
    """The calendar port, giving way (``Pauser``) before each call."""

    def __init__(self, inner: InProcessCalendar, pause: Pauser) -> None:
        self.inner, self.pause = inner, pause

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.inner, name)
        if not inspect.iscoroutinefunction(target):
            return target

        async def call(*args: Any, **kwargs: Any) -> Any:
            await self.pause()
            return await target(*args, **kwargs)

        return call


# --- ERP faults ----------------------------------------------------------------------------------------


@dataclass
class ErpTrap:
    """Fail the sync's ERP calls matching ``method`` and the ``path`` regex, after letting ``skip`` through.

    ``lost`` makes the ERP apply the call before the failure (the answer is lost on the way back), so the
    retry meets its own earlier write: what idempotency keys and If-Match exist for (R10).
    """

    method: str
    path: str
    skip: int
    count: int
    lost: bool
    status: int = 503


# The HTTP call each port method makes (``HttpErp``), so a trap matches what it would match on the wire.
_WIRE = {
    "list_users": ("GET", "/users"),
    "get_user": ("GET", "/users/{0}"),
    "find_contacts": ("GET", "/contacts"),
    "find_companies": ("GET", "/companies"),
    "get_company": ("GET", "/companies/{0}"),
    "list_facilities": ("GET", "/facilities"),
    "ensure_activity_type": ("GET", "/activity-types"),
    "get_activity": ("GET", "/activities/{0}"),
    "create_activity": ("POST", "/activities"),
    "update_activity": ("PATCH", "/activities/{0}"),
    "void_activity": ("POST", "/activities/{0}/void"),
    "close_activity": ("POST", "/activities/{0}/close"),
    "activity_changes": ("GET", "/activity-changes"),
    "leave_request_changes": ("GET", "/leave-request-changes"),
    "add_activity_attachment": ("POST", "/activities/{0}/attachments"),
    "remove_activity_attachment": ("DELETE", "/activities/{0}/attachments/{1}"),
}
# Calls whose body is read once (a file's bytes streamed from the other side): HttpErp sends them once, so a
# failure is the run's ErpTransient, never a second send of an empty body.
_ONE_SHOT = frozenset({"add_activity_attachment"})


class FaultyErp:
    """The ERP port with injected faults, each call retried as ``HttpErp`` retries it (``attempts`` tries)."""

    def __init__(self, inner: InProcessErp, *, attempts: int = ERP_ATTEMPTS, pause: Pauser | None = None) -> None:
        self.inner = inner
        self.pause = pause or Pauser()
        self.attempts = attempts
        self.pending: list[int] = []  # statuses of the next failing calls (``POST /_erp/faults``)
        self.trap: ErpTrap | None = None
        self.sprung = 0  # how many calls the trap failed

    def fail_next(self, status: int, count: int) -> None:
        self.pending = [status] * count

    def clear(self) -> None:
        self.pending, self.trap = [], None

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.inner, name)
        if name not in _WIRE:
            return target
        method, template = _WIRE[name]

        async def call(*args: Any, **kwargs: Any) -> Any:
            attempts = 1 if name in _ONE_SHOT else self.attempts
            return await self._call(method, template.format(*args), lambda: target(*args, **kwargs), attempts)

        return call

    async def _call(self, method: str, path: str, call: Callable[[], Awaitable[T]], attempts: int) -> T:
        await self.pause()
        status = 503
        for _ in range(attempts):
            if self.pending:
                status = self.pending.pop(0)
                continue
            trap = self.trap
            if trap is None or method != trap.method or not re.search(trap.path, path):
                return await call()
            if trap.skip > 0:
                trap.skip -= 1
                return await call()
            if trap.count <= 0:
                return await call()
            trap.count -= 1
            self.sprung += 1
            status = trap.status
            if trap.lost:  # the ERP applies the call; whatever it answered never arrives
                with contextlib.suppress(ErpError):
                    await call()
        raise ErpTransient(f"{method} {path}: still {status} after retries", status=status)


# --- a crash between writes ----------------------------------------------------------------------------


class SimulatedCrash(Exception):
    """The host died at this point of the run (raised by ``CrashingState``)."""


@dataclass
class StateCrash:
    """Die at the state write ``method`` (e.g. ``save_link``) once ``skip`` of them went through; ``after``
    applies the write first (the host died right after it), else the write never happens."""

    method: str
    skip: int = 0
    after: bool = False


CRASHABLE = (
    "save_link",
    "insert_links",
    "claim_meeting",
    "save_meeting",
    "note_events_made",
    "forget_events_made",
    "save_delta_cursor",
    "save_erp_cursor",
    "record_issue",
)


class CrashingState:
    """Any ``StateStore`` with an optional crash at one of its writes; everything else passes through."""

    def __init__(self, inner: StateStore, pause: Pauser | None = None) -> None:
        self.inner = inner
        self.pause = pause or Pauser()
        self.crash: StateCrash | None = None
        self.crashed = 0

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.inner, name)
        if not inspect.iscoroutinefunction(target):
            return target

        async def write(*args: Any, **kwargs: Any) -> Any:
            await self.pause()
            crash = self.crash
            if crash is None or crash.method != name or name not in CRASHABLE:
                return await target(*args, **kwargs)
            if crash.skip > 0:
                crash.skip -= 1
                return await target(*args, **kwargs)
            self.crash = None  # a host dies once
            self.crashed += 1
            if crash.after:
                await target(*args, **kwargs)
            raise SimulatedCrash(f"the host died at {name}{' after the write' if crash.after else ''}")

        return write


# --- the stack -----------------------------------------------------------------------------------------


def utc_now() -> datetime:
    return datetime.now(UTC)


async def _no_wait(seconds: float) -> None:
    """Retries happen, their backoff waits do not: the tests are about outcomes."""


@dataclass
class FakeStack:
    graph_app: Starlette
    calendar: InProcessCalendar
    erp_app: Starlette
    erp: FaultyErp
    memory: InMemoryStateStore  # the state itself, for checks
    state: CrashingState  # what the engine writes through
    pause: Pauser
    graph: httpx.AsyncClient  # a person's Outlook: Graph REST with a token of the emulator, plus its control API
    erp_http: httpx.AsyncClient  # a person's ERP screen: the ERP Sync API with its key
    policy: SyncPolicy
    clock: Callable[[], datetime]
    engine: SyncEngine = field(init=False)

    @classmethod
    async def start(
        cls, *, policy: SyncPolicy | None = None, clock: Callable[[], datetime] = utc_now, series: bool = True
    ) -> FakeStack:
        """Fresh emulators, ERP store and state (``series=False``: an ERP without recurring series, R28)."""
        graph_app = create_graph(outbound=httpx.AsyncClient(transport=httpx.MockTransport(accepting_receiver)))
        calendar = InProcessCalendar(graph_app, app_id="sync-app", sleep=_no_wait)
        erp_app = create_erp(":memory:", api_key=ERP_KEY, series=series)
        pause = Pauser()
        erp = FaultyErp(InProcessErp(erp_app.state.store), pause=pause)
        memory = InMemoryStateStore()
        state = CrashingState(memory, pause)
        graph = await calendar.outlook("person")
        erp_http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=erp_app),
            base_url=HOST + "/",
            headers={"Authorization": f"Bearer {ERP_KEY}"},
        )
        return cls(
            graph_app=graph_app,
            calendar=calendar,
            erp_app=erp_app,
            erp=erp,
            memory=memory,
            state=state,
            pause=pause,
            graph=graph,
            erp_http=erp_http,
            policy=policy or SyncPolicy(),
            clock=clock,
        )

    def __post_init__(self) -> None:
        self.engine = self.another_instance()

    def another_instance(self) -> SyncEngine:
        """A Functions instance: an engine on the same Graph, ERP and state (leases shared); the stack's own
        ``engine`` is the first."""
        calendar: Any = PausingCalendar(self.calendar, self.pause)  # the CalendarPort, giving way before each call
        state: Any = self.state  # the StateStore, with its crash point
        return SyncEngine(
            calendar=calendar,
            erp=self.erp,
            state=state,
            policy=self.policy,
            clock=self.clock,
            worker_id=f"fake-{uuid.uuid4().hex[:6]}",
        )

    def interleave(self, yields: Sequence[int]) -> None:
        """Concurrent runs give way before each port call as often as ``yields`` says, in turn (see ``Pauser``)."""
        self.pause.schedule(yields)

    # --- people ---

    async def outlook(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A person's Outlook call (``path`` below ``/v1.0``); anything but a success fails the test."""
        response = await self.graph.request(method, f"/v1.0{path}", **kwargs)
        assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
        return response

    async def erp_call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A person's ERP call; anything but a success fails the test."""
        response = await self.erp_http.request(method, path.lstrip("/"), **kwargs)
        assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
        return response

    async def add_person(
        self, *, user_id: str, mailbox: str, name: str, time_zone: str = "Europe/Oslo", company_id: str = "C-OWN"
    ) -> None:
        """A mailbox in Graph and an ERP user with the defaults a new activity needs (R2)."""
        await self.add_mailbox(mailbox, name)
        seed_store(
            self.erp_app.state.store,
            {
                "users": [
                    {
                        "id": user_id,
                        "displayName": name,
                        "email": mailbox,
                        "enabled": True,
                        "defaultCompanyId": company_id,
                        "defaultLocationId": "L-HQ",
                        "timeZone": time_zone,
                    }
                ],
                "companies": [{"id": company_id, "name": "Contoso"}],
            },
        )

    async def add_mailbox(self, mailbox: str, name: str) -> None:
        """A mailbox only (someone whose calendar is not synced, e.g. a customer's mail system)."""
        added = await self.graph.post(
            "/_emulator/users", json={"mail": mailbox, "displayName": name, "kind": "user", "hasMailbox": True}
        )
        assert added.status_code == 201, added.text

    async def add_contact(self, *, contact_id: str, email: str, name: str, company_id: str, company: str) -> None:
        """An ERP contact of a customer company."""
        seed_store(
            self.erp_app.state.store,
            {
                "companies": [{"id": company_id, "name": company}],
                "contacts": [{"id": contact_id, "name": name, "email": email, "companyId": company_id}],
            },
        )

    # --- faults ---

    async def graph_fault(self, **fault: Any) -> None:
        """``POST /_emulator/faults`` (``status``, ``count``, ``method``, ``path``, ``mailbox`` ...)."""
        response = await self.graph.post("/_emulator/faults", json=fault)
        assert response.status_code < 300, response.text

    async def clear_faults(self) -> None:
        assert (await self.graph.delete("/_emulator/faults")).status_code < 300
        self.erp.clear()
        self.state.crash = None

    async def aclose(self) -> None:
        await self.graph.aclose()
        await self.erp_http.aclose()
        await self.calendar.aclose()
        await self.erp.aclose()
        emulator = self.graph_app.state.emulator
        await emulator.notifier.close()
        await emulator.outbound.aclose()
        self.erp_app.state.store.close()
