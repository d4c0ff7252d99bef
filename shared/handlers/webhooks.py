"""The HTTP handlers: Graph change and lifecycle notifications (graph-facts §2) and the ERP's change hook."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime

from shared.composition import Services
from shared.erp.hook import SIGNATURE_HEADER, TIMESTAMP_HEADER, HookRejected, header_value, verify_hook
from shared.errors import GraphError
from shared.graph.notifications import MalformedNotification, parse_notifications
from shared.handlers.common import Answer, record_bad_input, renew_subscription
from shared.queueing import SyncRequest

log = logging.getLogger(__name__)


async def graph_notification(services: Services, *, body: bytes, validation_token: str | None) -> Answer:
    """Graph's webhook: the validation handshake, then one queued sync per affected user (graph-facts §2)."""
    if validation_token is not None:
        return Answer(200, validation_token)  # plain text, the decoded token, within 10 s
    try:
        notifications = parse_notifications(body, client_state=services.settings.graph_client_state.get_secret_value())
    except MalformedNotification as error:
        await record_bad_input(services, "graph-notification", f"malformed Graph notification: {error}")
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
        await record_bad_input(services, "graph-lifecycle", f"malformed lifecycle notification: {error}")
        return Answer(400, "malformed notification")
    for note in notifications:
        record = await services.state.get_subscription(note.subscription_id) if note.client_state_ok else None
        if record is None:
            continue
        if note.lifecycle_event == "subscriptionRemoved":
            await services.state.delete_subscription(record.subscription_id)
        elif note.lifecycle_event == "reauthorizationRequired":
            try:
                await renew_subscription(services, record)
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
