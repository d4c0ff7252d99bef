"""The machine's world on the real adapters: msgraph-sdk and ``HttpErp`` over in-process HTTP transports to the
Graph emulator and the reference ERP, state in Table Storage (Azurite). Slower than ``FakeWorld``, so the
machine runs fewer examples here; the same faults are injected the way the wire allows.
"""

from __future__ import annotations

import os
import re
import socket

import httpx

from emulators.erp.seed import seed_store
from emulators.fakes.stack import CrashingState, ErpTrap, StateCrash
from emulators.stack import start_stack
from shared.composition import Services
from shared.sync.engine import SyncEngine
from tests.convergence.world import World, seed_people


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


class HttpWorld(World):
    azurite = ""  # set by the test (hypothesis builds the machine, so fixtures come in this way)

    def __init__(self) -> None:
        super().__init__()
        self.run(self._start())

    async def _start(self) -> None:
        transports: list[TrappedTransport] = []

        def trap(inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
            transports.append(TrappedTransport(inner))
            return transports[0]

        # A fresh state store (table prefix) and fresh emulators per machine run; the prefix comes from the OS,
        # since the machine's ids are seeded (the same each run, ``world.SeededIds``).
        stem = "cv" + os.urandom(4).hex()
        self.stack = await start_stack(type(self).azurite, prefix_stem=stem, erp_wrap=trap, SYNC_LEAVE_REQUESTS="true")
        self.trapped = transports[0]
        self.crashing = CrashingState(self.stack.services.state)
        self.engine = self.another_instance()
        self.graph, self.erp = self.stack.graph, self.stack.erp
        self.store, self.state = self.stack.erp_app.state.store, self.stack.services.state
        await seed_people(self.stack.add_person, self._add_mailbox, self._add_contact)

    async def _add_mailbox(self, mailbox: str, name: str) -> None:
        added = await self.graph.post(
            "/_emulator/users", json={"mail": mailbox, "displayName": name, "kind": "user", "hasMailbox": True}
        )
        assert added.status_code == 201, added.text

    async def _add_contact(self, *, contact_id: str, email: str, name: str, company_id: str, company: str) -> None:
        seed_store(
            self.stack.erp_app.state.store,
            {
                "companies": [{"id": company_id, "name": company}],
                "contacts": [{"id": contact_id, "name": name, "email": email, "companyId": company_id}],
            },
        )

    async def _aclose(self) -> None:
        await self.stack.aclose()

    def services(self) -> Services:
        return self.stack.services

    def another_instance(self) -> SyncEngine:
        services = self.stack.services
        return SyncEngine(
            calendar=services.calendar,
            erp=services.erp,
            state=self.crashing,  # the StateStore, with its crash point
            policy=services.settings.policy,
            clock=services.clock,
            worker_id=f"{socket.gethostname()}:{id(object())}",
        )

    async def erp_fault(self, status: int, count: int) -> None:
        response = await self.erp.post("_erp/faults", json={"status": status, "count": count})
        assert response.status_code < 300, response.text

    def erp_trap(self, trap: ErpTrap) -> None:
        self.trapped.trap = trap

    def state_crash(self, crash: StateCrash) -> None:
        self.crashing.crash = crash

    async def clear_faults(self) -> None:
        assert (await self.graph.delete("/_emulator/faults")).status_code < 300
        await self.erp_fault(503, 0)
        self.trapped.trap = None
        self.crashing.crash = None

    def sprung(self) -> int:
        sprung, self.trapped.sprung = self.trapped.sprung, 0
        return sprung
