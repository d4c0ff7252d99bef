"""Subscriptions and change notifications (https://learn.microsoft.com/en-us/graph/change-notifications-delivery-webhooks)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from msgraph import GraphServiceClient
from msgraph.generated.models.subscription import Subscription

from emulators.graph import Emulator
from tests.graph_emulator.helpers import Receiver, create, event_body

HOOK = "http://127.0.0.1/hook"
LIFE = "http://127.0.0.1/life"


def _sub(user: str, minutes: float = 60, **extra: Any) -> dict[str, Any]:
    return {
        "changeType": "created,updated,deleted",
        "notificationUrl": HOOK,
        "resource": f"/users/{user}/events",
        "expirationDateTime": (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z"),
        "clientState": "secret-state",
        **extra,
    }


async def test_create_runs_validation_handshake_through_sdk(
    graph: GraphServiceClient, alice: str, receiver: Receiver
) -> None:
    """Creation POSTs ?validationToken= to notificationUrl and lifecycleNotificationUrl first (https://learn.microsoft.com/en-us/graph/api/subscription-post-subscriptions)."""
    sub = await graph.subscriptions.post(
        Subscription(
            change_type="created,updated,deleted",
            notification_url=HOOK,
            lifecycle_notification_url=LIFE,
            resource=f"/users/{alice}/events",
            expiration_date_time=datetime.now(UTC) + timedelta(hours=2),
            client_state="secret-state",
        )
    )
    assert sub is not None
    assert sub.id
    assert sub.client_state == "secret-state"
    assert len(receiver.validations) == 2
    assert all(t.startswith("Validation:") for t in receiver.validations)


async def test_wrong_echo_or_failing_endpoint_refuses_the_subscription(
    http: httpx.AsyncClient, alice: str, receiver: Receiver, emulator: Emulator
) -> None:
    """No subscription is created unless the endpoint echoes the token with 200 text/plain (https://learn.microsoft.com/en-us/graph/change-notifications-delivery-webhooks)."""
    receiver.echo_wrong_token = True
    wrong = await http.post("/v1.0/subscriptions", json=_sub(alice))
    receiver.echo_wrong_token = False
    receiver.reject_validation = True
    failing = await http.post("/v1.0/subscriptions", json=_sub(alice))
    assert wrong.status_code == 400
    assert failing.status_code == 400
    assert "validation" in wrong.json()["error"]["message"].lower()
    assert emulator.state.subscriptions == {}


async def test_expiry_beyond_the_limit_is_refused_and_limit_is_a_setting(http: httpx.AsyncClient, alice: str) -> None:
    """Outlook subscriptions last at most 4,230 minutes by default; past that 400 (https://learn.microsoft.com/en-us/graph/api/resources/subscription)."""
    too_long = await http.post("/v1.0/subscriptions", json=_sub(alice, minutes=4231))
    assert too_long.status_code == 400
    assert too_long.json()["error"]["message"] == "Subscription expiration can only be 4230 minutes in the future."
    await http.put("/_emulator/settings", json={"maxSubscriptionMinutes": 10080})
    ok = await http.post("/v1.0/subscriptions", json=_sub(alice, minutes=10000))
    assert ok.status_code == 201


async def test_renew_delete_and_reauthorize(http: httpx.AsyncClient, alice: str) -> None:
    """PATCH renews (200), POST reauthorize works, DELETE answers 204 then 404 (https://learn.microsoft.com/en-us/graph/api/subscription-update)."""
    sub = (await http.post("/v1.0/subscriptions", json=_sub(alice))).json()
    later = (datetime.now(UTC) + timedelta(minutes=3000)).isoformat()
    renewed = await http.patch(f"/v1.0/subscriptions/{sub['id']}", json={"expirationDateTime": later})
    assert renewed.status_code == 200
    assert renewed.json()["expirationDateTime"] > sub["expirationDateTime"]
    too_far = await http.patch(
        f"/v1.0/subscriptions/{sub['id']}",
        json={"expirationDateTime": (datetime.now(UTC) + timedelta(days=30)).isoformat()},
    )
    assert too_far.status_code == 400
    assert (await http.post(f"/v1.0/subscriptions/{sub['id']}/reauthorize")).status_code == 204
    assert (await http.delete(f"/v1.0/subscriptions/{sub['id']}")).status_code == 204
    assert (await http.get(f"/v1.0/subscriptions/{sub['id']}")).status_code == 404


async def test_subscriptions_per_mailbox_are_capped(http: httpx.AsyncClient, alice: str) -> None:
    """At most 1,000 active subscriptions per mailbox (scaled down here), then 403 (https://learn.microsoft.com/en-us/graph/api/resources/subscription)."""
    await http.put("/_emulator/settings", json={"maxSubscriptionsPerMailbox": 2})
    statuses = [(await http.post("/v1.0/subscriptions", json=_sub(alice))).status_code for _ in range(3)]
    assert statuses == [201, 201, 403]


async def test_plain_http_to_a_public_host_is_refused(http: httpx.AsyncClient, alice: str) -> None:
    """notificationUrl must be https (the emulator only allows http to loopback) (https://learn.microsoft.com/en-us/graph/api/subscription-post-subscriptions)."""
    resp = await http.post("/v1.0/subscriptions", json=_sub(alice, notificationUrl="http://example.com/hook"))
    assert resp.status_code == 400


async def test_change_is_delivered_with_client_state_and_no_content(
    http: httpx.AsyncClient, alice: str, receiver: Receiver, emulator: Emulator
) -> None:
    """A change POSTs a notification with clientState, resource and resourceData id, no event content (https://learn.microsoft.com/en-us/graph/change-notifications-delivery-webhooks)."""
    sub = (await http.post("/v1.0/subscriptions", json=_sub(alice))).json()
    ev = await create(http, alice, event_body("private subject", "2026-12-01T10:00:00", "2026-12-01T11:00:00"))
    assert await emulator.notifier.drain(5)
    [note] = receiver.notifications
    assert note["subscriptionId"] == sub["id"]
    assert note["clientState"] == "secret-state"
    assert note["changeType"] == "created"
    assert note["tenantId"] == emulator.state.config.tenant_id
    assert note["resourceData"]["id"] == ev["id"]
    assert note["resourceData"]["@odata.type"] == "#Microsoft.Graph.Event"
    assert note["resource"].endswith(f"/Events/{ev['id']}")
    assert "private subject" not in str(note)


async def test_piled_up_changes_share_one_post(
    http: httpx.AsyncClient, alice: str, receiver: Receiver, emulator: Emulator
) -> None:
    """One POST may carry several notifications (https://learn.microsoft.com/en-us/graph/change-notifications-delivery-webhooks)."""
    await http.put("/_emulator/settings", json={"notificationDelayMs": 200})
    await http.post("/v1.0/subscriptions", json=_sub(alice))
    for i in range(4):
        await create(http, alice, event_body(f"e{i}", "2026-12-01T10:00:00", "2026-12-01T11:00:00"))
    assert await emulator.notifier.drain(5)
    assert len(receiver.notifications) == 4
    assert receiver.posts == 1


async def test_failed_delivery_is_retried_until_the_receiver_accepts(
    http: httpx.AsyncClient, alice: str, receiver: Receiver, emulator: Emulator
) -> None:
    """Graph retries failed deliveries with backoff (https://learn.microsoft.com/en-us/graph/change-notifications-delivery-webhooks)."""
    await http.post("/v1.0/subscriptions", json=_sub(alice))
    receiver.fail_next = 2
    await create(http, alice, event_body("x", "2026-12-01T10:00:00", "2026-12-01T11:00:00"))
    assert await emulator.notifier.drain(5)
    assert receiver.posts == 3
    assert len(receiver.notifications) == 1
    attempts = (await http.get("/_emulator/notifications")).json()["attempts"]
    assert [a["status"] for a in attempts] == [503, 503, 202]


async def test_delivery_does_not_block_the_change(
    http: httpx.AsyncClient, alice: str, receiver: Receiver, emulator: Emulator
) -> None:
    """The change answers before the notification is POSTed (https://learn.microsoft.com/en-us/graph/change-notifications-overview)."""
    await http.put("/_emulator/settings", json={"notificationDelayMs": 100})
    await http.post("/v1.0/subscriptions", json=_sub(alice))
    await create(http, alice, event_body("x", "2026-12-01T10:00:00", "2026-12-01T11:00:00"))
    assert receiver.posts == 0
    assert await emulator.notifier.drain(5)
    assert receiver.posts == 1


async def test_lifecycle_notification_on_demand(
    http: httpx.AsyncClient, alice: str, receiver: Receiver, emulator: Emulator
) -> None:
    """Lifecycle events go to lifecycleNotificationUrl; subscriptionRemoved ends the subscription (https://learn.microsoft.com/en-us/graph/change-notifications-lifecycle-events)."""
    sub = (await http.post("/v1.0/subscriptions", json=_sub(alice, lifecycleNotificationUrl=LIFE))).json()
    for event in ("reauthorizationRequired", "missed", "subscriptionRemoved"):
        resp = await http.post(f"/_emulator/subscriptions/{sub['id']}/lifecycle", json={"lifecycleEvent": event})
        assert resp.status_code == 202
    assert await emulator.notifier.drain(5)
    assert [n["lifecycleEvent"] for n in receiver.notifications] == [
        "reauthorizationRequired",
        "missed",
        "subscriptionRemoved",
    ]
    assert all(n["clientState"] == "secret-state" and n["subscriptionId"] == sub["id"] for n in receiver.notifications)
    assert (await http.get(f"/v1.0/subscriptions/{sub['id']}")).status_code == 404


async def test_delivery_is_dropped_after_the_retry_schedule(
    http: httpx.AsyncClient, alice: str, receiver: Receiver, emulator: Emulator
) -> None:
    """Graph retries for a bounded time, then drops the notification (https://learn.microsoft.com/en-us/graph/change-notifications-delivery-webhooks)."""
    await http.put("/_emulator/settings", json={"retryDelaysSeconds": [0.001, 0.001]})
    await http.post("/v1.0/subscriptions", json=_sub(alice))
    receiver.fail_next = 10
    await create(http, alice, event_body("x", "2026-12-01T10:00:00", "2026-12-01T11:00:00"))
    assert await emulator.notifier.drain(5)
    report = (await http.get("/_emulator/notifications")).json()
    assert receiver.posts == 3
    assert receiver.notifications == []
    assert report["dropped"] == 1


async def test_no_delivery_after_the_subscription_expired_or_was_deleted(
    http: httpx.AsyncClient, alice: str, receiver: Receiver, emulator: Emulator
) -> None:
    """A deleted subscription gets no more notifications (https://learn.microsoft.com/en-us/graph/api/subscription-delete)."""
    sub = (await http.post("/v1.0/subscriptions", json=_sub(alice))).json()
    await http.delete(f"/v1.0/subscriptions/{sub['id']}")
    await create(http, alice, event_body("x", "2026-12-01T10:00:00", "2026-12-01T11:00:00"))
    assert await emulator.notifier.drain(5)
    assert receiver.posts == 0


async def test_expired_subscription_gets_no_notifications_and_is_gone(
    http: httpx.AsyncClient, alice: str, receiver: Receiver, emulator: Emulator
) -> None:
    """After expirationDateTime a subscription delivers nothing and must be recreated (https://learn.microsoft.com/en-us/graph/api/resources/subscription)."""
    sub = (await http.post("/v1.0/subscriptions", json=_sub(alice, minutes=30))).json()
    moved = await http.post("/_emulator/clock", json={"advanceMinutes": 31})
    await create(http, alice, event_body("x", "2026-12-01T10:00:00", "2026-12-01T11:00:00"))
    assert await emulator.notifier.drain(5)
    assert moved.status_code == 200
    assert receiver.posts == 0
    assert (await http.get(f"/v1.0/subscriptions/{sub['id']}")).status_code == 404
    assert (await http.patch(f"/v1.0/subscriptions/{sub['id']}", json={})).status_code == 404
