"""Issue 12, item 4: one run per burst. However many notifications and hook calls one user's changes cause,
one message waits for the user; a change during the run queues one follow-up; a busy user's message is
queued again only when no other message of the user waits (shared/sync_requests.py)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.storage.queue.aio import QueueClient

from shared import handlers, sync_requests
from shared.core.items import ItemKind, Side
from shared.core.links import Link, LinkState
from shared.erp.hook import sign_hook
from shared.errors import GraphTransient
from shared.queueing import StorageWorkQueue, SyncRequest
from shared.state.model import SubscriptionRecord
from shared.sync import engine
from tests.sync.conftest import Stack

ANN, ANN_MAILBOX = "U-ANN", "ann@contoso.example"


@pytest.fixture
async def queue_name(stack: Stack, azurite_connection_string: str) -> AsyncIterator[str]:
    """A work queue of this test alone, used by the stack's services; Ann can be synced."""
    name = "q" + uuid.uuid4().hex[:20]
    async with QueueClient.from_connection_string(azurite_connection_string, name) as client:
        await client.create_queue()
    stack.services.queue = StorageWorkQueue.from_connection_string(azurite_connection_string, queue=name)
    await stack.add_person(user_id=ANN, mailbox=ANN_MAILBOX, name="Ann")
    yield name
    await stack.services.queue.aclose()


async def _stored(conn: str, queue: str) -> int:
    """Messages on the queue, visible or hidden."""
    async with QueueClient.from_connection_string(conn, queue) as client:
        return int((await client.get_queue_properties()).approximate_message_count or 0)


async def _subscription(stack: Stack) -> str:
    sub_id = str(uuid.uuid4())
    await stack.services.state.save_subscription(
        SubscriptionRecord(
            subscription_id=sub_id,
            user_id=ANN,
            mailbox=ANN_MAILBOX,
            resource=f"/users/{ANN_MAILBOX}/events",
            expires_at=datetime.now(UTC) + timedelta(days=2),
            created_at=datetime.now(UTC),
        )
    )
    return sub_id


def _notification(stack: Stack, sub_id: str, event_id: str) -> bytes:
    state = stack.services.settings.graph_client_state.get_secret_value()
    note = {
        "subscriptionId": sub_id,
        "clientState": state,
        "changeType": "updated",
        "resource": f"Users/{ANN_MAILBOX}/Events/{event_id}",
        "tenantId": "t",
        "resourceData": {"@odata.type": "#Microsoft.Graph.Event", "id": event_id},
    }
    return json.dumps({"value": [note]}).encode()


def _hook_call(stack: Stack, activity_id: str) -> tuple[dict[str, str], bytes, int]:
    body = json.dumps({"changes": [{"entity": "activity", "id": activity_id, "userIds": [ANN]}]}).encode()
    secret = stack.services.settings.erp_hook_secret.get_secret_value()
    stamp = int(time.time())
    return sign_hook(body, secret=secret, timestamp=stamp, delivery_id=str(uuid.uuid4())), body, stamp


async def test_burst_of_notifications_and_hook_calls_queues_one_message(
    stack: Stack, queue_name: str, azurite_connection_string: str
) -> None:
    """An ERP import of 150 activities (150 hook calls) and 100 Outlook notifications for Ann, answered by
    several instances at once, leave ONE message waiting for her sync (graph-facts §2: every answer 202)."""
    sub_id = await _subscription(stack)
    calls = []
    for n in range(150):
        headers, body, stamp = _hook_call(stack, f"a{n}")
        calls.append(handlers.erp_hook(stack.services, headers=headers, body=body, now=stamp))
    for n in range(100):
        body = _notification(stack, sub_id, f"AAMk{n}")
        calls.append(handlers.graph_notification(stack.services, body=body, validation_token=None))
    answers = await asyncio.gather(*calls)
    assert {a.status for a in answers} == {202}
    assert await _stored(azurite_connection_string, queue_name) == 1


async def test_change_during_a_run_queues_exactly_one_follow_up(
    stack: Stack, queue_name: str, azurite_connection_string: str
) -> None:
    """The worker takes Ann's message and starts her run; ten changes arrive meanwhile: one more message, whose
    run reads them all (nothing waits for the 15-minute safety net, R5)."""
    headers, body, stamp = _hook_call(stack, "a1")
    await handlers.erp_hook(stack.services, headers=headers, body=body, now=stamp)
    await handlers.sync_message(stack.services, SyncRequest(user_id=ANN).to_json())  # the message's run
    for n in range(10):
        headers, body, stamp = _hook_call(stack, f"b{n}")
        await handlers.erp_hook(stack.services, headers=headers, body=body, now=stamp)
    assert await _stored(azurite_connection_string, queue_name) == 2  # the first (not deleted here) + one


async def test_busy_users_requeued_message_covers_the_changes_that_come_meanwhile(
    stack: Stack, queue_name: str, azurite_connection_string: str
) -> None:
    """Another worker holds Ann's lease; her message finds her busy and is queued again for when the lease ends.
    Notifications arriving meanwhile queue nothing more: that one message's run reads their changes."""
    lease = await stack.services.state.acquire_lease(
        ANN, owner="other-worker", now=datetime.now(UTC), ttl_seconds=engine.LEASE_SECONDS
    )
    assert lease is not None
    report = await handlers.sync_message(stack.services, SyncRequest(user_id=ANN).to_json())
    assert report is not None
    assert report.status == "busy"
    assert await _stored(azurite_connection_string, queue_name) == 1  # queued again, for when the lease ends
    for _ in range(5):
        asked = await sync_requests.request_sync(stack.services, SyncRequest(user_id=ANN, reason="notification"))
        assert asked is False  # covered by the waiting message
    assert await _stored(azurite_connection_string, queue_name) == 1


def _changed(stack: Stack, sub_id: str, event_id: str, change_key: str, change_type: str = "updated") -> bytes:
    body = json.loads(_notification(stack, sub_id, event_id))
    body["value"][0]["changeType"] = change_type
    body["value"][0]["resourceData"]["@odata.etag"] = f'W/"{change_key}"'
    return json.dumps(body).encode()


async def _linked(stack: Stack, event_id: str, change_key: str, state: LinkState = LinkState.ACTIVE) -> None:
    await stack.services.state.save_link(
        Link(
            user_id=ANN,
            link_id=str(uuid.uuid4()),
            kind=ItemKind.MEETING,
            origin=Side.ERP,
            state=state,
            event_id=event_id,
            activity_id=f"act-{event_id}",
            m365_change_key=change_key,
            updated_at=datetime.now(UTC),
        )
    )


async def test_notification_of_the_syncs_own_write_queues_no_run(
    stack: Stack, queue_name: str, azurite_connection_string: str
) -> None:
    """The sync wrote event E (its link holds E's change key K1); Graph's notification for version K1 is that
    write's echo: no message. A person's edit of E (K2) queues a run (graph-facts §2: resourceData's etag)."""
    sub_id = await _subscription(stack)
    await _linked(stack, "AAMk-ours", "K1")
    echo = _changed(stack, sub_id, "AAMk-ours", "K1")
    assert (await handlers.graph_notification(stack.services, body=echo, validation_token=None)).status == 202
    assert await _stored(azurite_connection_string, queue_name) == 0
    edit = _changed(stack, sub_id, "AAMk-ours", "K2")
    assert (await handlers.graph_notification(stack.services, body=edit, validation_token=None)).status == 202
    assert await _stored(azurite_connection_string, queue_name) == 1


async def test_deletion_of_an_event_whose_link_ended_queues_no_run_but_a_linked_ones_does(
    stack: Stack, queue_name: str, azurite_connection_string: str
) -> None:
    """The sync deleted event D (its link retired): its deletion notification needs no run. A person deleting a
    linked event E (its link active) queues one (R8, R9)."""
    sub_id = await _subscription(stack)
    await _linked(stack, "AAMk-gone", "K1", LinkState.RETIRED)
    await _linked(stack, "AAMk-live", "K1")
    ours = _changed(stack, sub_id, "AAMk-gone", "K1", "deleted")
    await handlers.graph_notification(stack.services, body=ours, validation_token=None)
    assert await _stored(azurite_connection_string, queue_name) == 0
    theirs = _changed(stack, sub_id, "AAMk-live", "K1", "deleted")
    await handlers.graph_notification(stack.services, body=theirs, validation_token=None)
    assert await _stored(azurite_connection_string, queue_name) == 1


async def test_notification_of_an_unlinked_event_queues_a_run(
    stack: Stack, queue_name: str, azurite_connection_string: str
) -> None:
    """A new event made in Outlook has no link: never taken for an echo."""
    sub_id = await _subscription(stack)
    fresh = _changed(stack, sub_id, "AAMk-new", "K1", "created")
    await handlers.graph_notification(stack.services, body=fresh, validation_token=None)
    assert await _stored(azurite_connection_string, queue_name) == 1


def _hook_with_version(stack: Stack, activity_id: str, version: int | None) -> tuple[dict[str, str], bytes, int]:
    change: dict[str, object] = {"entity": "activity", "id": activity_id, "userIds": [ANN]}
    if version is not None:
        change["version"] = version
    body = json.dumps({"changes": [change]}).encode()
    secret = stack.services.settings.erp_hook_secret.get_secret_value()
    stamp = int(time.time())
    return sign_hook(body, secret=secret, timestamp=stamp, delivery_id=str(uuid.uuid4())), body, stamp


async def test_hook_call_for_the_syncs_own_erp_write_queues_no_run(
    stack: Stack, queue_name: str, azurite_connection_string: str
) -> None:
    """The sync wrote activity A to version 3 (its link holds 3): the hook's call for version 3 is that write's
    echo, no message (docs/erp-sync-api.yaml, HookChange.version). Version 4 (a person's edit) or a call without
    a version (a deletion) queues a run."""
    await stack.services.state.save_link(
        Link(
            user_id=ANN,
            link_id=str(uuid.uuid4()),
            kind=ItemKind.MEETING,
            origin=Side.M365,
            event_id="AAMk-a",
            activity_id="act-a",
            erp_version=3,
            updated_at=datetime.now(UTC),
        )
    )
    headers, body, stamp = _hook_with_version(stack, "act-a", 3)
    assert (await handlers.erp_hook(stack.services, headers=headers, body=body, now=stamp)).status == 202
    assert await _stored(azurite_connection_string, queue_name) == 0
    headers, body, stamp = _hook_with_version(stack, "act-a", None)
    await handlers.erp_hook(stack.services, headers=headers, body=body, now=stamp)
    assert await _stored(azurite_connection_string, queue_name) == 1
    await sync_requests.started(stack.services, ANN)
    headers, body, stamp = _hook_with_version(stack, "act-a", 4)
    await handlers.erp_hook(stack.services, headers=headers, body=body, now=stamp)
    assert await _stored(azurite_connection_string, queue_name) == 2


def _versioned_hook_call(stack: Stack, activity_id: str, version: int) -> tuple[dict[str, str], bytes, int]:
    change = {"entity": "activity", "id": activity_id, "userIds": [ANN], "version": version}
    body = json.dumps({"changes": [change]}).encode()
    secret = stack.services.settings.erp_hook_secret.get_secret_value()
    stamp = int(time.time())
    return sign_hook(body, secret=secret, timestamp=stamp, delivery_id=str(uuid.uuid4())), body, stamp


class _HookRightAfterWrites:
    """The ERP port, whose hook reaches the endpoint the moment a create or update is answered: before the run
    that wrote it has saved its link (the race issue 12 measured as 2.0 runs per Outlook change)."""

    def __init__(self, inner: Any, stack: Stack, person_edits: bool = False) -> None:
        self.inner, self.stack, self.person_edits = inner, stack, person_edits

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def create_activity(self, fields: Any, *, idempotency_key: str | None = None) -> Any:
        created = await self.inner.create_activity(fields, idempotency_key=idempotency_key)
        version = created.version + (1 if self.person_edits else 0)  # a person's edit right after ours
        headers, body, stamp = _versioned_hook_call(self.stack, created.id, version)
        assert (await handlers.erp_hook(self.stack.services, headers=headers, body=body, now=stamp)).status == 202
        return created


async def _run_with_hook_during_it(stack: Stack, *, person_edits: bool) -> None:
    await stack.outlook(
        "POST",
        f"/users/{ANN_MAILBOX}/events",
        json={
            "subject": "Visit",
            "start": {"dateTime": "2026-12-10T09:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2026-12-10T10:00:00", "timeZone": "UTC"},
        },
    )
    sync = stack.services.engine
    ports = sync._ports
    sync._ports = replace(ports, erp=_HookRightAfterWrites(ports.erp, stack, person_edits))
    try:
        report = await handlers.sync_message(stack.services, SyncRequest(user_id=ANN).to_json())
    finally:
        sync._ports = ports
    assert report is not None
    assert report.done.get("erp created") == 1, report


async def test_hook_of_the_runs_own_create_before_its_link_is_saved_queues_no_follow_up(
    stack: Stack, queue_name: str, azurite_connection_string: str
) -> None:
    """Issue 12 (sync runs per useful change ≤ 1.2): the ERP's hook for the activity the run just created arrives
    while the run still holds Ann's lease, before the link is saved. It is noted for the run, which finds it
    was its own write: no follow-up message, no second run."""
    await _run_with_hook_during_it(stack, person_edits=False)
    assert await _stored(azurite_connection_string, queue_name) == 0
    assert await stack.services.state.take_run_notes(ANN) == []


async def test_a_persons_edit_noted_during_a_run_still_gets_its_follow_up(
    stack: Stack, queue_name: str, azurite_connection_string: str
) -> None:
    """A change the hook noted during the run that is not the run's own write (a person edited the activity
    right after the create: a later version) queues exactly one follow-up once the run is over (R5)."""
    await _run_with_hook_during_it(stack, person_edits=True)
    assert await _stored(azurite_connection_string, queue_name) == 1


async def test_hook_without_a_run_under_way_queues_the_sync_at_once(
    stack: Stack, queue_name: str, azurite_connection_string: str
) -> None:
    """No run holds Ann's lease: a hook change is not noted but queues her sync, as before."""
    headers, body, stamp = _versioned_hook_call(stack, "a-new", 1)
    assert (await handlers.erp_hook(stack.services, headers=headers, body=body, now=stamp)).status == 202
    assert await _stored(azurite_connection_string, queue_name) == 1
    assert await stack.services.state.take_run_notes(ANN) == []


async def test_run_throttled_by_graph_is_queued_again_for_when_graph_said_and_not_failed(
    stack: Stack, queue_name: str, azurite_connection_string: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Graph answers 429 with Retry-After (a big mailbox's first sync spent the mailbox's 10,000 requests per
    10 minutes, Graph throttling limits): the message is not a failed try (no poison after five), the user's sync is
    queued again, hidden for the wait Graph named, and the status page says why."""

    async def throttled(user_id: str) -> Any:
        raise GraphTransient("Graph answered 429", status=429, retry_after=7)

    monkeypatch.setattr(stack.services.engine, "sync_user", throttled)
    assert await handlers.sync_message(stack.services, SyncRequest(user_id=ANN).to_json()) is None
    async with QueueClient.from_connection_string(azurite_connection_string, queue_name) as client:
        visible = [m async for m in client.receive_messages(max_messages=5)]
    assert visible == []  # hidden for the 7 s Graph asked for
    assert await _stored(azurite_connection_string, queue_name) == 1
    last = {run.user_id: run for run in await stack.services.state.last_runs()}[ANN]
    assert "throttled" in last.detail
