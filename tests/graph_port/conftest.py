"""Both calendars on an in-process Graph emulator: ``GraphCalendar`` over HTTP (msgraph-sdk through
``httpx.ASGITransport``, as ``emulators/stack.py`` builds it) and ``InProcessCalendar`` on the dispatcher."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from emulators.fakes.calendar import InProcessCalendar, accepting_receiver
from emulators.graph import Emulator, create_app
from shared.graph.auth import LoopbackClientSecretCredential
from shared.graph.client import GraphCalendar
from shared.graph.port import CalendarPort

HOST = "http://127.0.0.1"
APP_ID = "sync-app"


def graph_calendar(app: Starlette) -> GraphCalendar:
    """The real adapter against the emulator, built like the composition root does it."""
    transport = httpx.ASGITransport(app=app)
    credential = LoopbackClientSecretCredential(
        authority=HOST, tenant_id="contoso.example", client_id=APP_ID, client_secret="s3cret", transport=transport
    )
    return GraphCalendar(credential=credential, base_url=f"{HOST}/v1.0", transport=transport)


@dataclass
class Side:
    """One calendar under test, its emulator, and a person's Outlook on the same emulator."""

    kind: str
    calendar: CalendarPort
    emulator: Emulator
    outlook: httpx.AsyncClient

    async def person(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A person in Outlook: Graph REST with a token of their own (``path`` below ``/v1.0``)."""
        response = await self.outlook.request(method, f"/v1.0{path}", **kwargs)
        assert response.status_code < 300, response.text
        return response

    async def control(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = await self.outlook.request(method, f"/_emulator{path}", **kwargs)
        assert response.status_code < 300, response.text
        return response


@pytest.fixture
def emulator_app() -> Starlette:
    return create_app(outbound=httpx.AsyncClient(transport=httpx.MockTransport(accepting_receiver)))


@pytest.fixture(params=["graph", "fake"])
async def side(request: pytest.FixtureRequest, emulator_app: Starlette) -> AsyncIterator[Side]:
    calendar: GraphCalendar | InProcessCalendar
    if request.param == "graph":
        calendar = graph_calendar(emulator_app)
    else:
        calendar = InProcessCalendar(emulator_app, app_id=APP_ID)
    person = InProcessCalendar(emulator_app)
    outlook = await person.outlook()
    emulator: Emulator = emulator_app.state.emulator
    emulator.add_user("alice@contoso.com", "Alice Adams")
    emulator.add_user("bob@contoso.com", "Bob Brown")
    yield Side(kind=request.param, calendar=calendar, emulator=emulator, outlook=outlook)
    await outlook.aclose()
    await calendar.aclose()
    await emulator.notifier.close()
