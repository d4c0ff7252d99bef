"""The notification endpoint looks the subscriptions up once per burst, not once per notification (issue 12,
item 7). Graph wants an answer within 3 s and counts slower ones against the endpoint (page "Set up
notifications for changes in resource data",
https://learn.microsoft.com/en-us/graph/change-notifications-delivery-webhooks; graph-facts §2)."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared import handlers
from shared.state.model import SubscriptionRecord
from tests.sync.conftest import Stack


async def _subscribe(stack: Stack, user_id: str) -> str:
    now = datetime.now(UTC)
    sub_id = str(uuid.uuid4())
    await stack.services.state.save_subscription(
        SubscriptionRecord(
            subscription_id=sub_id,
            user_id=user_id,
            mailbox=f"{user_id}@contoso.example",
            resource=f"/users/{user_id}@contoso.example/events",
            expires_at=now + timedelta(days=2),
            created_at=now,
        )
    )
    return sub_id


def _body(stack: Stack, sub_id: str) -> bytes:
    note = {
        "subscriptionId": sub_id,
        "clientState": stack.services.settings.graph_client_state.get_secret_value(),
        "changeType": "updated",
        "resource": "Users/x/Events/AAMk1",
        "tenantId": "t",
        "resourceData": {"@odata.type": "#Microsoft.Graph.Event", "id": "AAMk1"},
    }
    return json.dumps({"value": [note]}).encode()


def _count_lookups(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    counts = {"subscriptions": 0, "get_subscription": 0}
    state: Any = stack.services.state
    for name in counts:
        real = getattr(state, name)

        async def counting(*args: Any, _real: Any = real, _name: str = name) -> Any:
            counts[_name] += 1
            return await _real(*args)

        monkeypatch.setattr(state, name, counting)
    return counts


async def test_a_burst_of_40_notifications_reads_the_subscriptions_once(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """40 concurrent POSTs for 40 users: one query of the subscriptions for all of them, each answered 202."""
    subs = [await _subscribe(stack, f"U-{n}") for n in range(40)]
    counts = _count_lookups(stack, monkeypatch)
    answers = await asyncio.gather(
        *(handlers.graph_notification(stack.services, body=_body(stack, s), validation_token=None) for s in subs)
    )
    assert {a.status for a in answers} == {202}
    assert counts == {"subscriptions": 1, "get_subscription": 0}
    again = await handlers.graph_notification(stack.services, body=_body(stack, subs[0]), validation_token=None)
    assert again.status == 202
    assert counts == {"subscriptions": 1, "get_subscription": 0}


async def test_a_subscription_made_after_the_map_was_read_is_still_ours(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new subscription (a renewal that recreated it) is not in the map yet: read on its own, then known;
    an id of no subscription of ours stays ignored."""
    first = await _subscribe(stack, "U-A")
    await handlers.graph_notification(stack.services, body=_body(stack, first), validation_token=None)
    newer = await _subscribe(stack, "U-B")
    counts = _count_lookups(stack, monkeypatch)
    answer = await handlers.graph_notification(stack.services, body=_body(stack, newer), validation_token=None)
    assert answer.status == 202
    assert counts == {"subscriptions": 0, "get_subscription": 1}
    forged = await handlers.graph_notification(
        stack.services, body=_body(stack, str(uuid.uuid4())), validation_token=None
    )
    assert forged.status == 202
    assert counts["get_subscription"] == 2
