"""Fixtures: an in-process emulator with fast settings, a raw authenticated client, an SDK client, a receiver."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from msgraph import GraphServiceClient
from starlette.applications import Starlette

from emulators.graph import Emulator, EmulatorConfig, create_app
from tests.graph_emulator.helpers import BASE, Receiver, fetch_token, sdk_client

FAST = EmulatorConfig(notification_delay_ms=20, retry_scale=0.001)


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
async def app(receiver: Receiver) -> AsyncIterator[Starlette]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver.app())) as outbound:
        application = create_app(FAST, outbound=outbound)
        yield application
        await application.state.emulator.notifier.close()


@pytest.fixture
def emulator(app: Starlette) -> Emulator:
    emu: Emulator = app.state.emulator
    return emu


@pytest.fixture
def alice(emulator: Emulator) -> str:
    return emulator.add_user("alice@contoso.com", "Alice Adams")


@pytest.fixture
def bob(emulator: Emulator) -> str:
    return emulator.add_user("bob@contoso.com", "Bob Brown")


@pytest.fixture
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """Raw HTTP with a valid app-only token, for shapes the SDK hides."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
        client.headers["Authorization"] = f"Bearer {await fetch_token(client)}"
        yield client


@pytest.fixture
def graph(app: Starlette) -> GraphServiceClient:
    return sdk_client(app)
