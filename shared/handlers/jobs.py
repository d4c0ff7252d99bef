"""The timer jobs: the safety-net delta run and subscription upkeep (R32).

``safety_net`` also drains the poison queue into issues (R31, ``shared/handlers/poison.py``).
``maintain_subscriptions`` compares its records with Graph's own list: a subscription Graph deleted without a
lifecycle notice is recreated within the hour instead of at its renewal a day later. A record missing from
the list is first renewed (the list may be paged or late): only Graph's "not found" makes it recreated, so a
live subscription is never duplicated.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from shared.composition import Services
from shared.errors import GraphError, GraphNotFound
from shared.handlers.common import TENANT, renew_subscription
from shared.handlers.failures import secrets_of
from shared.handlers.poison import drain_poison
from shared.queueing import SyncRequest
from shared.safe_log import safe_text
from shared.state.model import Issue, IssueKind, SubscriptionRecord
from shared.sync_requests import request_sync
from shared.telemetry import current_correlation_id

log = logging.getLogger(__name__)

RENEW_WHEN_LEFT = timedelta(hours=24)
SUBSCRIPTION_LIST_ISSUE = "subscription-list"


async def safety_net(services: Services) -> int:
    """R32: queue a delta run for every enabled user, whatever notifications did or did not arrive; then
    record (R31) and remove the sync requests the host set aside after every try failed."""
    users = await services.erp.list_users(enabled_only=True)
    for user in users:
        await request_sync(
            services, SyncRequest(user_id=user.id, reason="safety-net", correlation_id=current_correlation_id())
        )
    drained = await drain_poison(services)
    if drained:
        log.warning("%d sync requests had failed on every try; each is listed for the admin", drained)
    return len(users)


async def maintain_subscriptions(services: Services) -> dict[str, int]:
    """R32: every enabled user has a live subscription; ones near expiry are renewed, lost ones recreated."""
    settings = services.settings
    counts = {"created": 0, "renewed": 0, "recreated": 0, "failed": 0}
    if not settings.graph_notification_url:
        return counts
    now = services.clock()
    records = {r.user_id: r for r in await services.state.subscriptions()}
    live = await _graph_subscription_ids(services)
    for user in await services.erp.list_users(enabled_only=True):
        if not user.email:
            continue
        record, lost = records.get(user.id), False
        try:
            if record is not None and live is not None and record.subscription_id not in live:
                lost = not await _still_alive(services, record)
                if not lost:
                    counts["renewed"] += 1
                    continue
                record = None
            if record is None:
                await _create(services, user.id, user.email)
                counts["recreated" if lost else "created"] += 1
            elif record.expires_at - now < RENEW_WHEN_LEFT:
                await renew_subscription(services, record)
                counts["renewed"] += 1
            else:
                continue
        except GraphError as error:
            counts["failed"] += 1
            await _record(
                services, user.id, "subscription", f"could not create or renew the Graph subscription: {error}"
            )
            continue
        await services.state.resolve_issue(user.id, "subscription", now=services.clock())
    return counts


async def _graph_subscription_ids(services: Services) -> set[str] | None:
    """The ids Graph lists for this app, or None when the list cannot be read (recorded for the admin)."""
    try:
        listed = await services.calendar.subscriptions()
    except GraphError as error:
        await _record(services, TENANT, SUBSCRIPTION_LIST_ISSUE, f"could not list the Graph subscriptions: {error}")
        return None
    await services.state.resolve_issue(TENANT, SUBSCRIPTION_LIST_ISSUE, now=services.clock())
    return {subscription.id for subscription in listed}


async def _still_alive(services: Services, record: SubscriptionRecord) -> bool:
    """Renew a subscription Graph did not list: True if it lives on, False (record forgotten) if it is gone."""
    try:
        await renew_subscription(services, record)  # forgets the record on any refusal
    except GraphNotFound:
        log.warning("the Graph subscription of user %.80r was deleted without notice; recreating it", record.user_id)
        return False
    return True


async def _create(services: Services, user_id: str, mailbox: str) -> None:
    settings, now = services.settings, services.clock()
    created = await services.calendar.create_subscription(
        mailbox,
        notification_url=settings.graph_notification_url,
        lifecycle_url=settings.graph_lifecycle_url or None,
        client_state=settings.graph_client_state.get_secret_value(),
        expires_at=now + timedelta(minutes=settings.graph_subscription_minutes),
    )
    await services.state.save_subscription(
        SubscriptionRecord(
            subscription_id=created.id,
            user_id=user_id,
            mailbox=mailbox,
            resource=created.resource,
            expires_at=created.expires_at,
            created_at=now,
        )
    )


async def _record(services: Services, user_id: str, key: str, reason: str) -> None:
    """A subscription failure for the admin (R31); the reason is made safe (secrets masked, text escaped)."""
    now, reason = services.clock(), safe_text(reason, secrets=secrets_of(services.settings))
    # The alert "subscription failures" (infra/core/monitor/alerts.bicep) counts these lines.
    log.warning("sync issue for user %s: %s: %s", safe_text(user_id, limit=100), key, reason)
    await services.state.record_issue(
        Issue(user_id=user_id, key=key, kind=IssueKind.FAILURE, reason=reason, first_seen=now, last_seen=now)
    )
