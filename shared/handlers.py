"""What each Azure Function does, free of the Functions framework (so tests and the demo call it too).

Each handler takes plain inputs and ``Services`` and returns an ``Answer`` or a report; the
blueprints in ``shared/functions`` only translate ``azure.functions`` types.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError

from shared.composition import Services
from shared.erp.hook import SIGNATURE_HEADER, TIMESTAMP_HEADER, HookRejected, header_value, verify_hook
from shared.errors import GraphError
from shared.graph.notifications import MalformedNotification, parse_notifications
from shared.queueing import SyncRequest
from shared.state.model import Issue, IssueKind, SubscriptionRecord
from shared.sync.report import RunReport

log = logging.getLogger(__name__)
TENANT = "_tenant"  # issues that belong to no single user
BUSY_RETRY_SECONDS = 30
RENEW_WHEN_LEFT = timedelta(hours=24)


@dataclass(frozen=True)
class Answer:
    status: int
    body: str = ""
    mimetype: str = "text/plain"


async def _bad_input(services: Services, key: str, reason: str) -> None:
    now = services.clock()
    await services.state.record_issue(
        Issue(user_id=TENANT, key=key, kind=IssueKind.BAD_INPUT, reason=reason, first_seen=now, last_seen=now)
    )


async def graph_notification(services: Services, *, body: bytes, validation_token: str | None) -> Answer:
    """Graph's webhook: the validation handshake, then one queued sync per affected user (graph-facts §2)."""
    if validation_token is not None:
        return Answer(200, validation_token)  # plain text, the decoded token, within 10 s
    try:
        notifications = parse_notifications(body, client_state=services.settings.graph_client_state.get_secret_value())
    except MalformedNotification as error:
        await _bad_input(services, "graph-notification", f"malformed Graph notification: {error}")
        return Answer(400, "malformed notification")
    users: dict[str, str] = {}
    for note in notifications:
        if not note.client_state_ok:
            log.warning("notification with a wrong clientState ignored (subscription %s)", note.subscription_id)
            continue
        record = await services.state.get_subscription(note.subscription_id)
        if record is None:
            continue  # not ours (or already deleted): ignored, as Graph recommends
        users[record.user_id] = note.lifecycle_event or "notification"
    for user_id, reason in users.items():
        await services.queue.enqueue(SyncRequest(user_id=user_id, reason=reason))
    return Answer(202)


async def graph_lifecycle(services: Services, *, body: bytes, validation_token: str | None) -> Answer:
    """Lifecycle notifications: a removed subscription is forgotten (the renewal job recreates it) and
    every lifecycle event queues a delta run for the user, which repairs anything missed (R32)."""
    if validation_token is not None:
        return Answer(200, validation_token)
    try:
        notifications = parse_notifications(body, client_state=services.settings.graph_client_state.get_secret_value())
    except MalformedNotification as error:
        await _bad_input(services, "graph-lifecycle", f"malformed lifecycle notification: {error}")
        return Answer(400, "malformed notification")
    for note in notifications:
        record = await services.state.get_subscription(note.subscription_id) if note.client_state_ok else None
        if record is None:
            continue
        if note.lifecycle_event == "subscriptionRemoved":
            await services.state.delete_subscription(record.subscription_id)
        elif note.lifecycle_event == "reauthorizationRequired":
            try:
                await _renew(services, record)
            except GraphError:
                log.warning("renewal after reauthorizationRequired failed; the renewal job recreates it")
        await services.queue.enqueue(SyncRequest(user_id=record.user_id, reason=note.lifecycle_event or "lifecycle"))
    return Answer(202)


async def erp_hook(services: Services, *, headers: Mapping[str, str], body: bytes, now: float) -> Answer:
    """The ERP's change hook: authentic and fresh, or 401 with nothing queued."""
    try:
        payload = verify_hook(headers, body, secret=services.settings.erp_hook_secret.get_secret_value(), now=now)
    except HookRejected as error:
        log.warning("ERP hook call rejected: %s", error.reason)
        return Answer(401, "rejected")
    # verify_hook checked both headers exist and the timestamp is unix seconds.
    signature = header_value(headers, SIGNATURE_HEADER) or ""
    signed_at = datetime.fromtimestamp(int((header_value(headers, TIMESTAMP_HEADER) or "0").strip()), tz=UTC)
    if not await services.state.first_use(f"erp-hook|{signature.strip().lower()}", at=signed_at):
        log.warning("ERP hook call rejected: replayed")
        return Answer(401, "rejected")
    users = {user_id for change in payload.changes for user_id in change.user_ids}
    for user_id in sorted(users):
        await services.queue.enqueue(SyncRequest(user_id=user_id, reason="erp-hook"))
    return Answer(202)


async def sync_message(services: Services, text: str | bytes) -> RunReport | None:
    """The queue worker: sync the user named in the message (a busy user is re-queued for later)."""
    try:
        request = SyncRequest.from_json(text)
    except (ValueError, ValidationError):
        await _bad_input(services, "queue-message", "a sync queue message was not a valid SyncRequest")
        return None
    report = await services.engine.sync_user(request.user_id)
    if report.status == "busy":
        await services.queue.enqueue(request, delay_seconds=BUSY_RETRY_SECONDS)
    return report


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
                await _renew(services, record)
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


async def _renew(services: Services, record: SubscriptionRecord) -> None:
    expires = services.clock() + timedelta(minutes=services.settings.graph_subscription_minutes)
    try:
        renewed = await services.calendar.renew_subscription(record.subscription_id, expires_at=expires)
    except GraphError:
        await services.state.delete_subscription(record.subscription_id)  # recreated on the next maintenance
        raise
    await services.state.save_subscription(record.model_copy(update={"expires_at": renewed.expires_at}))
