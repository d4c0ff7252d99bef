"""What the handlers share: their answer type, the tenant-wide issue key and the helpers more than one job uses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from shared.composition import Services
from shared.errors import GraphError
from shared.state.model import Issue, IssueKind, SubscriptionRecord

TENANT = "_tenant"  # issues that belong to no single user


@dataclass(frozen=True)
class Answer:
    status: int
    body: str = ""
    mimetype: str = "text/plain"


async def record_bad_input(services: Services, key: str, reason: str) -> None:
    """Malformed input is recorded for the admin (R31) under the tenant, not under a user."""
    now = services.clock()
    await services.state.record_issue(
        Issue(user_id=TENANT, key=key, kind=IssueKind.BAD_INPUT, reason=reason, first_seen=now, last_seen=now)
    )


async def renew_subscription(services: Services, record: SubscriptionRecord) -> None:
    """Extend a subscription; one Graph refuses to renew is forgotten so the next upkeep recreates it."""
    expires = services.clock() + timedelta(minutes=services.settings.graph_subscription_minutes)
    try:
        renewed = await services.calendar.renew_subscription(record.subscription_id, expires_at=expires)
    except GraphError:
        await services.state.delete_subscription(record.subscription_id)  # recreated on the next maintenance
        raise
    await services.state.save_subscription(record.model_copy(update={"expires_at": renewed.expires_at}))
