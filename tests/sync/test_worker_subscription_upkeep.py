"""Issue 9.8, R32: subscription upkeep compares its records with Graph's own list (GET /subscriptions).

A subscription Graph deleted without a lifecycle notice is recreated by the next hourly maintenance, not at
its renewal a day later; one merely missing from the list (paged, late) but alive is renewed, never doubled.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from emulators.fakes.calendar import accepting_receiver
from emulators.stack import start_stack
from shared import handlers
from shared.state.model import IssueKind
from tests.sync.conftest import Stack

ANN = "U-ANN"
SETTINGS = {
    "GRAPH_NOTIFICATION_URL": "https://sync.example/api/graph/notifications",
    "GRAPH_LIFECYCLE_URL": "https://sync.example/api/graph/lifecycle",
}


class HidingSubscriptionList(httpx.AsyncBaseTransport):
    """The service's Graph transport, answering GET /subscriptions with an empty list while ``hide`` is set."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.hide = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.hide and request.method == "GET" and request.url.path.rstrip("/").endswith("/v1.0/subscriptions"):
            return httpx.Response(200, json={"value": []})
        return await self.inner.handle_async_request(request)


@pytest.fixture
def hiding() -> list[HidingSubscriptionList]:
    return []


@pytest.fixture
async def upkeep(azurite_connection_string: str, hiding: list[HidingSubscriptionList]) -> AsyncIterator[Stack]:
    """The stack with a notification URL whose validation handshake succeeds, and Ann to subscribe for."""

    def wrap(inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        hiding.append(HidingSubscriptionList(inner))
        return hiding[-1]

    stack = await start_stack(azurite_connection_string, graph_wrap=wrap, **SETTINGS)
    receiver = httpx.AsyncClient(transport=httpx.MockTransport(accepting_receiver))
    stack.graph_app.state.emulator.subscriptions.outbound = receiver
    await stack.add_person(user_id=ANN, mailbox="ann@contoso.example", name="Ann")
    try:
        yield stack
    finally:
        await stack.aclose()
        await receiver.aclose()


async def _graph_ids(stack: Stack) -> list[str]:
    listed = await stack.graph.get("/_emulator/subscriptions")
    assert listed.status_code == 200, listed.text
    return [s["id"] for s in listed.json()["subscriptions"]]


async def _recorded_ids(stack: Stack) -> list[str]:
    return [r.subscription_id for r in await stack.services.state.subscriptions()]


async def test_subscription_deleted_without_notice_is_recreated_by_the_next_maintenance(upkeep: Stack) -> None:
    """R32: Graph drops Ann's subscription and sends no lifecycle notice; her record still looks good for
    days. The next maintenance sees Graph no longer lists it and recreates it, so notifications flow again."""
    assert (await handlers.maintain_subscriptions(upkeep.services))["created"] == 1
    (first,) = await _recorded_ids(upkeep)
    deleted = await upkeep.graph.delete(f"/v1.0/subscriptions/{first}")
    assert deleted.status_code == 204, deleted.text
    assert await _graph_ids(upkeep) == []
    counts = await handlers.maintain_subscriptions(upkeep.services)
    assert counts["recreated"] == 1
    graph_ids = await _graph_ids(upkeep)
    assert len(graph_ids) == 1
    assert graph_ids[0] != first
    assert await _recorded_ids(upkeep) == graph_ids


async def test_live_subscription_missing_from_graphs_list_is_renewed_not_doubled(
    upkeep: Stack, hiding: list[HidingSubscriptionList]
) -> None:
    """R32: Graph's list leaves out Ann's live subscription (a later page, a late replica). Maintenance
    confirms it by renewing it instead of creating a second subscription for the same mailbox."""
    await handlers.maintain_subscriptions(upkeep.services)
    (first,) = await _recorded_ids(upkeep)
    hiding[0].hide = True
    counts = await handlers.maintain_subscriptions(upkeep.services)
    assert (counts["renewed"], counts["created"], counts["recreated"]) == (1, 0, 0)
    assert await _graph_ids(upkeep) == [first]
    assert await _recorded_ids(upkeep) == [first]


async def test_unreadable_subscription_list_is_listed_for_the_admin_and_changes_nothing(upkeep: Stack) -> None:
    """R31/R32: when Graph refuses the list, the admin sees why; records are kept (nothing recreated on a
    guess), and the row is resolved once the list can be read again."""
    await handlers.maintain_subscriptions(upkeep.services)
    before = await _recorded_ids(upkeep)
    fault = {"method": "GET", "path": "^/subscriptions$", "status": 403, "count": 1}
    assert (await upkeep.graph.post("/_emulator/faults", json=fault)).status_code == 201
    counts = await handlers.maintain_subscriptions(upkeep.services)
    assert counts == {"created": 0, "renewed": 0, "recreated": 0, "failed": 0}
    assert await _recorded_ids(upkeep) == before
    tenant = await upkeep.services.state.open_issues(handlers.TENANT)
    assert [(i.key, i.kind) for i in tenant] == [("subscription-list", IssueKind.FAILURE)]
    await handlers.maintain_subscriptions(upkeep.services)
    assert await upkeep.services.state.open_issues(handlers.TENANT) == []
