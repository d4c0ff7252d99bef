"""The HTTP handlers: Graph change and lifecycle notifications (graph-facts §2) and the ERP's change hook."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from shared.composition import Services
from shared.erp.hook import HookRejected, verify_delivery
from shared.errors import GraphError, StateLimitExceeded
from shared.graph.notifications import (
    MalformedNotification,
    Notification,
    parse_notifications,
    plausible_subscription_id,
)
from shared.handlers.common import Answer, body_too_large, record_bad_input, renew_subscription
from shared.handlers.echoes import only_echoes, only_erp_echoes, run_note
from shared.handlers.note_sender import sender_for
from shared.handlers.subscription_map import subscription_map
from shared.queueing import NotedChange, NotificationBatch, SyncRequest
from shared.safe_log import outside
from shared.state.model import SubscriptionRecord
from shared.sync_requests import request_sync
from shared.telemetry import current_correlation_id, new_correlation_id

log = logging.getLogger(__name__)


# Graph's validation tokens are a short sentence with a request id; a far longer one is not Graph's.
MAX_VALIDATION_TOKEN_CHARS = 1024
_ENDPOINT_TEXT = {"graph-notification": "Graph notification", "graph-lifecycle": "lifecycle notification"}


def _validation_answer(endpoint: str, token: str) -> Answer:
    """Graph's handshake: the decoded token echoed as text/plain within 10 s (graph-facts §2), if it is sane."""
    if len(token) > MAX_VALIDATION_TOKEN_CHARS:
        log.warning("%s: validation token of %d characters refused", endpoint, len(token))
        return Answer(400, f"validation token over {MAX_VALIDATION_TOKEN_CHARS} characters")
    return Answer(200, token)


def _refused_unread(endpoint: str, body: bytes, validation_token: str | None) -> Answer | None:
    """413 for a body over the cap, else the validation handshake's answer, else None (go on and parse)."""
    too_large = body_too_large(body)
    if too_large is not None:
        log.warning("%s: body of %d bytes refused unread", endpoint, len(body))
        return too_large
    if validation_token is not None:
        return _validation_answer(endpoint, validation_token)
    return None


async def _read_notifications(services: Services, endpoint: str, body: bytes) -> list[Notification] | Answer:
    """The notifications in ``body``, or 400 when it is malformed, recorded for the admin (R31)."""
    try:
        return parse_notifications(body, client_state=services.settings.graph_client_state.get_secret_value())
    except MalformedNotification as error:
        await record_bad_input(services, endpoint, f"malformed {_ENDPOINT_TEXT[endpoint]}: {error}")
        return Answer(400, "malformed notification")


async def _our_subscription(services: Services, subscription_id: str) -> SubscriptionRecord | None:
    """The subscription this deployment created, or None: unknown, or an id Graph cannot have issued."""
    if not plausible_subscription_id(subscription_id):
        return None
    try:
        return await services.state.get_subscription(subscription_id)
    except StateLimitExceeded:
        return None


def _correlation_id() -> str:
    """The request's correlation id (set by the function, ``shared.telemetry.correlated``), carried by every
    sync it queues to the run's log record."""
    return current_correlation_id() or new_correlation_id()


def _log_discarded(endpoint: str, notes: list[Notification], ignored: list[Notification]) -> None:
    """One line per request, however many items it carried; outside ids escaped and cut."""
    if not ignored:
        return
    forged = sum(not note.client_state_ok for note in ignored)
    log.warning(
        "%s: %d of %d notification(s) discarded (%d with a wrong clientState, %d of no subscription of ours);"
        " first: subscription %s",
        endpoint,
        len(ignored),
        len(notes),
        forged,
        len(ignored) - forged,
        outside(ignored[0].subscription_id),
    )


async def graph_notification(services: Services, *, body: bytes, validation_token: str | None) -> Answer:
    """Graph's webhook, all in one: the validation handshake, then one queued sync per affected user
    (graph-facts §2). The function app answers with ``graph_notification_intake`` and leaves the rest to the
    worker; this is the same work done at once, for the tests of what notifications lead to.

    Notifications with a wrong clientState or of no subscription of ours are discarded with 202, as
    Graph expects; a body over the cap is 413 and a malformed one 400, neither parsed further."""
    read = await _accepted(services, body, validation_token)
    if isinstance(read, Answer):
        return read
    await _dispatch(services, read, correlations=[_correlation_id()] * len(read))
    return Answer(202)


async def graph_notification_intake(services: Services, *, body: bytes, validation_token: str | None) -> Answer:
    """Graph's webhook as the function app answers it (issue 12, item 7): the handshake, the body's checks and
    its clientStates, then ONE queue message with the notifications that passed, and 202. Which users they
    concern, which are echoes and whose sync to queue is the worker's job (``dispatch_notifications``), so an
    answer costs one storage request however busy Table Storage is (Graph wants it within 3 s)."""
    read = await _accepted(services, body, validation_token)
    if isinstance(read, Answer):
        return read
    if read:  # POSTs answered at the same moment share their messages (shared/handlers/note_sender.py)
        correlation_id = _correlation_id()
        await sender_for(services.queue).send([_noted(note, correlation_id) for note in read], correlation_id)
    return Answer(202)


async def dispatch_notifications(services: Services, batch: NotificationBatch) -> None:
    """The worker's half of ``graph_notification_intake``: the users' syncs the notifications call for."""
    notes = [Notification(client_state_ok=True, **n.model_dump(exclude={"correlation_id"})) for n in batch.notes]
    default = batch.correlation_id or _correlation_id()
    await _dispatch(services, notes, correlations=[n.correlation_id or default for n in batch.notes])


async def _accepted(services: Services, body: bytes, validation_token: str | None) -> list[Notification] | Answer:
    """The notifications of a POST whose clientState is ours (the others logged and dropped), or the answer."""
    refused = _refused_unread("graph-notification", body, validation_token)
    if refused is not None:
        return refused
    read = await _read_notifications(services, "graph-notification", body)
    if isinstance(read, Answer):
        return read
    plausible = [n for n in read if n.client_state_ok and plausible_subscription_id(n.subscription_id)]
    _log_discarded("graph-notification", read, [n for n in read if n not in plausible])
    return plausible


def _noted(note: Notification, correlation_id: str) -> NotedChange:
    return NotedChange(
        correlation_id=correlation_id,
        subscription_id=note.subscription_id,
        change_type=note.change_type[:64],  # outside text: kept to what the fields allow
        resource=note.resource[:2048],
        lifecycle_event=note.lifecycle_event,
        event_id=note.event_id,
        change_key=note.change_key,
    )


async def _dispatch(services: Services, read: list[Notification], *, correlations: Sequence[str]) -> None:
    """Each user's sync, unless all of their notifications are echoes; it carries the correlation id of the
    user's first notification."""
    users: dict[str, str] = {}
    correlation_of: dict[str, str] = {}
    notes_of: dict[str, list[Notification]] = {}
    # One look-up for the whole batch (and none while the process knows them all): issue 12, item 7.
    asked = {n.subscription_id for n in read}
    owners = await subscription_map(services.state).owners(services.state, asked) if asked else {}
    ignored: list[Notification] = []
    for note, correlation_id in zip(read, correlations, strict=True):
        record = owners.get(note.subscription_id)
        if record is None:
            ignored.append(note)  # not ours (or already deleted): ignored, as Graph recommends
            continue
        users[record.user_id] = note.lifecycle_event or "notification"
        correlation_of.setdefault(record.user_id, correlation_id)
        notes_of.setdefault(record.user_id, []).append(note)
    _log_discarded("graph-notification", read, ignored)
    echoes = await asyncio.gather(*(only_echoes(services.state, user_id, notes_of[user_id]) for user_id in users))
    for (user_id, reason), echo in zip(users.items(), echoes, strict=True):
        if not echo:  # the sync's own writes, already linked as they are now, need no run (issue 12)
            request = SyncRequest(user_id=user_id, reason=reason, correlation_id=correlation_of[user_id])
            await request_sync(services, request)


async def graph_lifecycle(services: Services, *, body: bytes, validation_token: str | None) -> Answer:
    """Lifecycle notifications: a removed subscription is forgotten (the renewal job recreates it) and
    every lifecycle event queues a delta run for the user, which repairs anything missed (R32)."""
    refused = _refused_unread("graph-lifecycle", body, validation_token)
    if refused is not None:
        return refused
    read = await _read_notifications(services, "graph-lifecycle", body)
    if isinstance(read, Answer):
        return read
    ignored: list[Notification] = []
    for note in read:
        record = await _our_subscription(services, note.subscription_id) if note.client_state_ok else None
        if record is None:
            ignored.append(note)
            continue
        if note.lifecycle_event == "subscriptionRemoved":
            await services.state.delete_subscription(record.subscription_id)
        elif note.lifecycle_event == "reauthorizationRequired":
            try:
                await renew_subscription(services, record)
            except GraphError:
                log.warning("renewal after reauthorizationRequired failed; the renewal job recreates it")
        reason = note.lifecycle_event or "lifecycle"
        await request_sync(
            services, SyncRequest(user_id=record.user_id, reason=reason, correlation_id=_correlation_id())
        )
    _log_discarded("graph-lifecycle", read, ignored)
    return Answer(202)


async def erp_hook(services: Services, *, headers: Mapping[str, str], body: bytes, now: float) -> Answer:
    """The ERP's change hook: authentic, fresh and a delivery not seen before, or 401 with nothing queued.

    Replays are refused by delivery id (docs/erp-sync-api.yaml, ``webhooks.erpChange``): each id is accepted
    once, so two changes signed in the same second are two deliveries (R5), and a copy of an accepted call,
    or the ERP's retry of a delivery that already got through (its sync is queued), is refused.
    """
    try:
        delivery = verify_delivery(headers, body, secret=services.settings.erp_hook_secret.get_secret_value(), now=now)
    except HookRejected as error:
        log.warning("ERP hook call rejected: %s", error.reason)
        return Answer(401, "rejected")
    # Looked up in the UTC hour of this call's timestamp: a copy of the call always lands in the same hour;
    # a retry re-signed in the next hour is accepted again, which only queues one more sync.
    signed_at = datetime.fromtimestamp(delivery.timestamp, tz=UTC)
    if not await services.state.first_use(f"erp-hook-delivery|{delivery.delivery_id}", at=signed_at):
        log.warning("ERP hook call rejected: delivery %s seen before", delivery.delivery_id)
        return Answer(401, "rejected")
    users = sorted({user_id for change in delivery.payload.changes for user_id in change.user_ids})
    correlation_id = _correlation_id()
    mine = [[c for c in delivery.payload.changes if user_id in c.user_ids] for user_id in users]
    echoes = await asyncio.gather(*(only_erp_echoes(services.state, u, c) for u, c in zip(users, mine, strict=True)))
    for user_id, changes, echo in zip(users, mine, echoes, strict=True):
        if echo:  # the sync's own write, its link at that version already, needs no run (issue 12)
            continue
        # During a run, the change may be its own write whose link is not saved yet: the worker looks at it once
        # the run is over (shared/handlers/echoes.py); otherwise the user's sync is queued.
        notes = [run_note(change) for change in changes]
        if not await services.state.note_during_run(user_id, notes, now=services.clock()):
            await request_sync(services, SyncRequest(user_id=user_id, reason="erp-hook", correlation_id=correlation_id))
    return Answer(202)
