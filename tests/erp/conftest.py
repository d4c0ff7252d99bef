"""Servers for the ERP contract tests: the reference ERP and a change-hook receiver, on real loopback HTTP.

Both run under uvicorn in a thread of this process, on free ports, for the whole session, and are
stopped at its end. Each test starts from a reset ERP holding ``SEED``.

``erp`` is the ERP port under test, twice: ``HttpErp`` over the reference ERP (``[http]``) and the
in-process fake ``InProcessErp`` (``[in-process]``); ``erp_store`` is that ERP's store, for a test
acting as a person in the ERP. ``http_erp`` (with ``raw``) is for what only HTTP has. ``erp_without_series``
is the same two adapters over a reference ERP started without recurring series (R28).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from emulators.erp import create_app, seed_store
from emulators.erp.store import ErpStore
from emulators.fakes.erp import InProcessErp
from shared.erp.http_client import HttpErp
from shared.erp.port import ErpPort

API_KEY = "test-api-key-7f3a9c"
HOOK_SECRET = "test-hook-secret-41d2"

SEED: dict[str, Any] = {
    "users": [
        {
            "id": "U1",
            "displayName": "Alice",
            "email": "alice@contoso.example",
            "enabled": True,
            "defaultCompanyId": "C1",
            "defaultLocationId": "L1",
            "timeZone": "Europe/Oslo",
        },
        {"id": "U2", "displayName": "Bob", "email": "bob@contoso.example", "enabled": True, "timeZone": "UTC"},
        {"id": "U3", "displayName": "Carl", "email": "carl@contoso.example", "enabled": False},
    ],
    "companies": [
        {"id": "C1", "name": "Fabrikam", "email": "office@fabrikam.example"},
        {"id": "C2", "name": "Northwind", "email": "hello@northwind.example"},
    ],
    "contacts": [
        {"id": "P1", "name": "Frida", "email": "Frida@Fabrikam.example", "phone": "+47 1", "companyId": "C1"},
        {"id": "P2", "name": "Nils", "email": "nils@northwind.example", "companyId": "C2"},
    ],
    "facilities": [
        {"id": "F-ROOM", "name": "Fjord room", "roomMailbox": "fjord@contoso.example", "allowsNoSpecifiedTime": True},
        {"id": "F-LAB", "name": "Lab", "roomMailbox": "lab@contoso.example", "allowsNoSpecifiedTime": False},
    ],
    "activityTypes": [
        {"code": "TASK", "kind": "task", "name": "Task"},
        {"code": "PHONE", "kind": "phone_call", "name": "Phone call"},
    ],
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serving(app: Any) -> Iterator[str]:
    """Run ``app`` under uvicorn on a free loopback port in a thread; yields its base URL, then stops it."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"uvicorn did not start on port {port}")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass
class HookCall:
    headers: dict[str, str]
    body: bytes


@dataclass
class HookReceiver:
    """Records every call the ERP makes on its hook URL, answering ``status``."""

    url: str = ""
    calls: list[HookCall] = field(default_factory=list)
    status: int = 202
    fail_next: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, count: int, *, within: float = 5.0) -> list[HookCall]:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.calls) >= count:
                    return list(self.calls)
            time.sleep(0.02)
        with self.lock:
            return list(self.calls)


@pytest.fixture(scope="session")
def hook_receiver() -> Iterator[HookReceiver]:
    receiver = HookReceiver()

    async def hook(request: Request) -> Response:
        body = await request.body()
        with receiver.lock:
            receiver.calls.append(HookCall(headers=dict(request.headers), body=body))
            if receiver.fail_next > 0:
                receiver.fail_next -= 1
                return Response(status_code=503)
            return Response(status_code=receiver.status)

    with serving(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as base:
        receiver.url = f"{base}/hook"
        yield receiver


@dataclass
class RunningErp:
    base_url: str
    store: ErpStore


@pytest.fixture(scope="session")
def running_erp(hook_receiver: HookReceiver) -> Iterator[RunningErp]:
    app = create_app(":memory:", api_key=API_KEY, hook_url=hook_receiver.url, hook_secret=HOOK_SECRET)
    with serving(app) as base:
        yield RunningErp(base_url=base, store=app.state.store)


@pytest.fixture
def erp_server(running_erp: RunningErp, hook_receiver: HookReceiver) -> RunningErp:
    """The reference ERP, reset and seeded with ``SEED``; hook calls of earlier tests forgotten."""
    auth = {"Authorization": f"Bearer {API_KEY}"}
    # Let hook calls of the previous test finish before forgetting them.
    httpx.get(f"{running_erp.base_url}/_erp/hooks", headers=auth).raise_for_status()
    httpx.post(f"{running_erp.base_url}/_erp/reset", headers=auth).raise_for_status()
    seed_store(running_erp.store, SEED)
    with hook_receiver.lock:
        hook_receiver.calls.clear()
        hook_receiver.status = 202
        hook_receiver.fail_next = 0
    return running_erp


@pytest.fixture
async def http_erp(erp_server: RunningErp) -> AsyncIterator[HttpErp]:
    """HttpErp over the reference ERP: for what is about HTTP (retries, faults, the wire)."""
    client = HttpErp(erp_server.base_url, api_key=API_KEY, timeout=5.0)
    yield client
    await client.aclose()


@dataclass
class ErpUnderTest:
    port: ErpPort
    store: ErpStore


@pytest.fixture(params=["http", "in-process"])
async def erp_under_test(request: pytest.FixtureRequest) -> AsyncIterator[ErpUnderTest]:
    """The ERP port over the reference ERP holding ``SEED``: over loopback HTTP, or in this process."""
    if request.param == "http":
        server: RunningErp = request.getfixturevalue("erp_server")
        client = HttpErp(server.base_url, api_key=API_KEY, timeout=5.0)
        yield ErpUnderTest(port=client, store=server.store)
        await client.aclose()
    else:
        fake = InProcessErp(seed=SEED)
        yield ErpUnderTest(port=fake, store=fake.store)
        await fake.aclose()


@pytest.fixture(scope="session")
def running_erp_without_series() -> Iterator[RunningErp]:
    """A second reference ERP, started with ``series=False`` (``--no-series``): it holds no recurring series."""
    app = create_app(":memory:", api_key=API_KEY, series=False)
    with serving(app) as base:
        yield RunningErp(base_url=base, store=app.state.store)


@pytest.fixture(params=["http", "in-process"])
async def erp_without_series(
    request: pytest.FixtureRequest,
) -> AsyncIterator[ErpPort]:
    """The ERP port over an ERP without series support (R28) holding ``SEED``: over HTTP, or in this process."""
    if request.param == "http":
        server: RunningErp = request.getfixturevalue("running_erp_without_series")
        server.store.reset()
        seed_store(server.store, SEED)
        client = HttpErp(server.base_url, api_key=API_KEY, timeout=5.0)
        yield client
        await client.aclose()
    else:
        fake = InProcessErp(seed=SEED, series=False)
        yield fake
        await fake.aclose()


@pytest.fixture
def erp(erp_under_test: ErpUnderTest) -> ErpPort:
    """The ERP port under test (HttpErp or InProcessErp); every contract test holds for both."""
    return erp_under_test.port


@pytest.fixture
def erp_store(erp_under_test: ErpUnderTest) -> ErpStore:
    """The store of the ERP under test: what a person does in the ERP (release, delete, edit) goes here."""
    return erp_under_test.store


@pytest.fixture
async def raw(erp_server: RunningErp) -> AsyncIterator[httpx.AsyncClient]:
    """Plain HTTP to the ERP, for what a person does in the ERP (release, delete) and wire-level checks."""
    async with httpx.AsyncClient(
        base_url=erp_server.base_url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=5.0
    ) as client:
        yield client
