"""The timer jobs: the safety-net delta run and subscription upkeep (R32)."""

from __future__ import annotations

from datetime import timedelta

from shared.composition import Services
from shared.errors import GraphError
from shared.handlers.common import renew_subscription
from shared.queueing import SyncRequest
from shared.state.model import Issue, IssueKind, SubscriptionRecord

RENEW_WHEN_LEFT = timedelta(hours=24)


async def safety_net(services: Services) -> int:
    """R32: queue a delta run for every enabled user, whatever notifications did or did not arrive."""
    users = await services.erp.list_users(enabled_only=True)
    for user in users:
        await services.queue.enqueue(SyncRequest(user_id=user.id, reason="safety-net"))
    return len(users)


async def maintain_subscriptions(services: Services) -> dict[str, int]:
    """R32: every enabled user has a live subscription; ones near expiry are renewed, lost ones recreated."""
    settings = services.settings
    counts = {"created": 0, "renewed": 0, "failed": 0}
    if not settings.graph_notification_url:
        return counts
    now = services.clock()
    records = {r.user_id: r for r in await services.state.subscriptions()}
    for user in await services.erp.list_users(enabled_only=True):
        if not user.email:
            continue
        record = records.get(user.id)
        try:
            if record is None:
                expires = now + timedelta(minutes=settings.graph_subscription_minutes)
                created = await services.calendar.create_subscription(
                    user.email,
                    notification_url=settings.graph_notification_url,
                    lifecycle_url=settings.graph_lifecycle_url or None,
                    client_state=settings.graph_client_state.get_secret_value(),
                    expires_at=expires,
                )
                await services.state.save_subscription(
                    SubscriptionRecord(
                        subscription_id=created.id,
                        user_id=user.id,
                        mailbox=user.email,
                        resource=created.resource,
                        expires_at=created.expires_at,
                        created_at=now,
                    )
                )
                counts["created"] += 1
            elif record.expires_at - now < RENEW_WHEN_LEFT:
                await renew_subscription(services, record)
                counts["renewed"] += 1
        except GraphError as error:
            counts["failed"] += 1
            await services.state.record_issue(
                Issue(
                    user_id=user.id,
                    key="subscription",
                    kind=IssueKind.FAILURE,
                    reason=f"could not create or renew the Graph subscription: {error}",
                    first_seen=now,
                    last_seen=now,
                )
            )
    return counts
