"""What the handlers share: their answer type, the tenant-wide issue key and the helpers more than one job uses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from shared.composition import Services
from shared.errors import GraphError
from shared.state.model import Issue, IssueKind, SubscriptionRecord

TENANT = "_tenant"  # issues that belong to no single user

# The largest body an HTTP endpoint reads (Graph notifications, lifecycle notifications, the ERP hook).
# A basic Graph notification is under 1 KB and Graph documents no per-POST maximum (graph-facts §2:
# "one POST may carry several notifications"), so 1 MiB holds over a thousand; an ERP hook names changes,
# not records. Anything larger is refused with 413 before it is parsed.
MAX_BODY_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Answer:
    status: int
    body: str = ""
    mimetype: str = "text/plain"
    headers: tuple[tuple[str, str], ...] = ()


def body_too_large(body: bytes) -> Answer | None:
    """413 for a body over ``MAX_BODY_BYTES``, checked before anything parses it; None when it fits."""
    if len(body) > MAX_BODY_BYTES:
        return Answer(413, f"request body over {MAX_BODY_BYTES} bytes")
    return None


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
