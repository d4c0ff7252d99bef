"""The functions' behaviour without the Functions framework: webhooks, the ERP hook and the queue worker
(graph-facts §2; https://learn.microsoft.com/en-us/graph/change-notifications-delivery-webhooks)."""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from azure.storage.queue.aio import QueueClient

from shared import handlers, sync_requests
from shared.erp.hook import sign_hook
from shared.queueing import StorageWorkQueue, SyncRequest
from shared.state.model import IssueKind, SubscriptionRecord
from tests.sync.conftest import Stack


@pytest.fixture
async def queue_name(stack: Stack, azurite_connection_string: str) -> str:
    """Each test gets its own queue, created up front, so counts are its own and an empty read means
    nothing was queued (not that the queue is missing)."""
    name = "q" + uuid.uuid4().hex[:20]
    async with QueueClient.from_connection_string(azurite_connection_string, name) as client:
        await client.create_queue()
    stack.services.queue = StorageWorkQueue.from_connection_string(azurite_connection_string, queue=name)
    return name


async def _messages(conn: str, queue: str) -> list[dict[str, object]]:
    """Every message on the queue, decoded as the worker reads it; any storage error fails the test."""
    async with QueueClient.from_connection_string(conn, queue) as client:
        return [json.loads(base64.b64decode(m.content)) async for m in client.receive_messages(max_messages=32)]


async def _waiting(conn: str, queue: str) -> list[dict[str, object]]:
    """Every message on the queue, peeked (left visible)."""
    async with QueueClient.from_connection_string(conn, queue) as client:
        return [json.loads(base64.b64decode(m.content)) for m in await client.peek_messages(max_messages=32)]


async def _subscription(stack: Stack, user_id: str = "U-ANN") -> str:
    now = datetime.now(UTC)
    sub_id = str(uuid.uuid4())
    await stack.services.state.save_subscription(
        SubscriptionRecord(
            subscription_id=sub_id,
            user_id=user_id,
            mailbox="ann@contoso.example",
            resource="/users/ann/events",
            expires_at=now + timedelta(days=2),
            created_at=now,
        )
    )
    return sub_id


def _notification(sub_id: str, client_state: str) -> bytes:
    return json.dumps(
        {
            "value": [
                {
                    "subscriptionId": sub_id,
                    "clientState": client_state,
                    "changeType": "updated",
                    "resource": "Users/ann/Events/AAMk1",
                    "tenantId": "t",
                    "resourceData": {"@odata.type": "#Microsoft.Graph.Event", "id": "AAMk1"},
                }
            ]
        }
    ).encode()


async def test_validation_handshake_echoes_the_token_as_plain_text(stack: Stack) -> None:
    """Graph's validation request gets 200 text/plain with the decoded token as the body."""
    answer = await handlers.graph_notification(stack.services, body=b"", validation_token="Validation: Token+1")
    assert (answer.status, answer.mimetype, answer.body) == (200, "text/plain", "Validation: Token+1")


async def test_notification_queues_one_sync_for_the_subscription_owner(
    stack: Stack, queue_name: str, azurite_connection_string: str
) -> None:
    """A genuine notification answers 202 and queues the user's sync as base64 JSON (host default encoding)."""
    sub_id = await _subscription(stack)
    state = stack.services.settings.graph_client_state.get_secret_value()
    body = json.loads(_notification(sub_id, state))
    body["value"].append(body["value"][0])  # two notifications for one user: one sync
    answer = await handlers.graph_notification(stack.services, body=json.dumps(body).encode(), validation_token=None)
    assert answer.status == 202
    [message] = await _messages(azurite_connection_string, queue_name)
    assert (message["userId"], message["reason"]) == ("U-ANN", "notification")
    assert message["correlationId"]  # carried to the run's log record (tests/app/test_telemetry.py)


async def test_wrong_client_state_is_ignored(stack: Stack, queue_name: str, azurite_connection_string: str) -> None:
    """A notification whose clientState does not match is never a reason to sync."""
    sub_id = await _subscription(stack)
    answer = await handlers.graph_notification(
        stack.services, body=_notification(sub_id, "forged"), validation_token=None
    )
    assert answer.status == 202
    assert await _messages(azurite_connection_string, queue_name) == []


async def test_unknown_subscription_is_ignored(stack: Stack, queue_name: str, azurite_connection_string: str) -> None:
    """Notifications of subscriptions this deployment does not own queue nothing."""
    state = stack.services.settings.graph_client_state.get_secret_value()
    answer = await handlers.graph_notification(
        stack.services, body=_notification("someone-else", state), validation_token=None
    )
    assert answer.status == 202
    assert await _messages(azurite_connection_string, queue_name) == []


async def test_malformed_notification_is_recorded_for_the_admin(stack: Stack, queue_name: str) -> None:
    """Bad input gets a clear error where the admin sees it (R31), and a 400."""
    answer = await handlers.graph_notification(stack.services, body=b"{not json", validation_token=None)
    assert answer.status == 400
    issues = await stack.services.state.open_issues(handlers.TENANT)
    assert [i.kind for i in issues] == [IssueKind.BAD_INPUT]


async def test_signed_erp_hook_queues_each_user_once(
    stack: Stack, queue_name: str, azurite_connection_string: str
) -> None:
    """An authentic, fresh hook call queues one sync per affected user and answers 202."""
    body = json.dumps(
        {
            "changes": [
                {"entity": "activity", "id": "a1", "userIds": ["U-ANN", "U-BOB"]},
                {"entity": "activity", "id": "a2", "userIds": ["U-ANN"]},
            ]
        }
    ).encode()
    secret = stack.services.settings.erp_hook_secret.get_secret_value()
    headers = sign_hook(body, secret=secret, timestamp=int(time.time()), delivery_id=str(uuid.uuid4()))
    answer = await handlers.erp_hook(stack.services, headers=headers, body=body, now=time.time())
    assert answer.status == 202
    queued = await _messages(azurite_connection_string, queue_name)
    assert sorted(str(m["userId"]) for m in queued) == ["U-ANN", "U-BOB"]


@pytest.mark.parametrize("tamper", ["signature", "secret", "stale", "no-delivery-id"])
async def test_bad_or_replayed_erp_hook_is_refused_with_nothing_queued(
    stack: Stack, queue_name: str, azurite_connection_string: str, tamper: str
) -> None:
    """A wrong signature, wrong secret, a timestamp outside the replay window, or no delivery id (the contract
    requires one; there is no older rule to fall back to): 401, nothing queued."""
    body = json.dumps({"changes": [{"entity": "activity", "id": "a1", "userIds": ["U-ANN"]}]}).encode()
    secret = stack.services.settings.erp_hook_secret.get_secret_value()
    stamp = int(time.time()) - (3600 if tamper == "stale" else 0)
    headers = sign_hook(
        body, secret="other" if tamper == "secret" else secret, timestamp=stamp, delivery_id=str(uuid.uuid4())
    )
    if tamper == "signature":
        headers["X-Erp-Signature"] = "sha256=" + "0" * 64
    if tamper == "no-delivery-id":
        del headers["X-Erp-Delivery"]
    answer = await handlers.erp_hook(stack.services, headers=headers, body=body, now=time.time())
    assert answer.status == 401
    assert await _messages(azurite_connection_string, queue_name) == []


async def test_queue_message_that_is_not_a_sync_request_is_recorded(stack: Stack) -> None:
    """A malformed work item does not crash the worker into the poison queue; the admin sees it."""
    assert await handlers.sync_message(stack.services, b'{"nobody": 1}') is None
    assert [i.kind for i in await stack.services.state.open_issues(handlers.TENANT)] == [IssueKind.BAD_INPUT]


async def test_sync_request_round_trips_as_the_queue_carries_it() -> None:
    """The message text is JSON with the user id, as the worker reads it."""
    request = SyncRequest(user_id="U-1", reason="safety-net")
    assert SyncRequest.from_json(request.to_json().encode()) == request


async def test_replayed_erp_hook_call_is_refused_the_second_time(
    stack: Stack, queue_name: str, azurite_connection_string: str
) -> None:
    """Issue 4: a valid call sent again inside the replay window is a replay: 401, nothing more queued."""
    body = json.dumps({"changes": [{"entity": "activity", "id": "a1", "userIds": ["U-ANN"]}]}).encode()
    secret = stack.services.settings.erp_hook_secret.get_secret_value()
    headers = sign_hook(body, secret=secret, timestamp=int(time.time()), delivery_id=str(uuid.uuid4()))
    first = await handlers.erp_hook(stack.services, headers=headers, body=body, now=time.time())
    again = await handlers.erp_hook(stack.services, headers=headers, body=body, now=time.time())
    assert (first.status, again.status) == (202, 401)
    assert len(await _messages(azurite_connection_string, queue_name)) == 1


def _hook_call(stack: Stack, *, stamp: int, delivery_id: str) -> tuple[dict[str, str], bytes]:
    """One signed change-hook call announcing a change of activity a1 for U-ANN."""
    body = json.dumps({"changes": [{"entity": "activity", "id": "a1", "userIds": ["U-ANN"]}]}).encode()
    secret = stack.services.settings.erp_hook_secret.get_secret_value()
    return sign_hook(body, secret=secret, timestamp=stamp, delivery_id=delivery_id), body


async def test_two_changes_of_one_activity_in_one_second_are_both_synced(
    stack: Stack, queue_name: str, azurite_connection_string: str
) -> None:
    """Issue 9 and 12: an activity edited twice within a second gives two calls with the same timestamp and body;
    they are two deliveries (distinct ids), both accepted (R5). While the first call's message waits, it covers
    the second (one run reads both changes); once its run has started, the second queues one follow-up, so
    the second change is never left to the 15-minute safety net."""
    stamp = int(time.time())
    answers = []
    for _ in range(2):
        headers, body = _hook_call(stack, stamp=stamp, delivery_id=str(uuid.uuid4()))
        answers.append((await handlers.erp_hook(stack.services, headers=headers, body=body, now=stamp)).status)
    assert answers == [202, 202]
    assert len(await _waiting(azurite_connection_string, queue_name)) == 1
    await sync_requests.started(stack.services, "U-ANN")  # the worker took the message: its run has begun
    headers, body = _hook_call(stack, stamp=stamp, delivery_id=str(uuid.uuid4()))
    assert (await handlers.erp_hook(stack.services, headers=headers, body=body, now=stamp)).status == 202
    assert len(await _waiting(azurite_connection_string, queue_name)) == 2


async def test_retry_of_an_accepted_delivery_is_refused_with_nothing_more_queued(
    stack: Stack, queue_name: str, azurite_connection_string: str
) -> None:
    """The ERP re-signs a retry with a fresh timestamp but keeps its delivery id: once that delivery was accepted
    (its answer lost on the way back), the retry is a replay, 401 with nothing more queued; the first attempt
    already queued the sync, so nothing is lost (R5)."""
    stamp = int(time.time()) // 3600 * 3600 + 60  # both attempts inside one UTC hour, the replay table's partition
    delivery_id = str(uuid.uuid4())
    headers, body = _hook_call(stack, stamp=stamp, delivery_id=delivery_id)
    first = await handlers.erp_hook(stack.services, headers=headers, body=body, now=stamp)
    headers, body = _hook_call(stack, stamp=stamp + 2, delivery_id=delivery_id)
    retry = await handlers.erp_hook(stack.services, headers=headers, body=body, now=stamp + 2)
    assert (first.status, retry.status) == (202, 401)
    assert len(await _messages(azurite_connection_string, queue_name)) == 1


async def test_captured_call_with_a_forged_delivery_id_is_refused(
    stack: Stack, queue_name: str, azurite_connection_string: str
) -> None:
    """Someone replaying a captured call under a fresh delivery id, to get past the replay guard, breaks the
    signature, which covers the id: 401, nothing more queued."""
    stamp = int(time.time())
    headers, body = _hook_call(stack, stamp=stamp, delivery_id=str(uuid.uuid4()))
    genuine = await handlers.erp_hook(stack.services, headers=headers, body=body, now=stamp)
    forged = {**headers, "X-Erp-Delivery": str(uuid.uuid4())}
    replayed = await handlers.erp_hook(stack.services, headers=forged, body=body, now=stamp)
    assert (genuine.status, replayed.status) == (202, 401)
    assert len(await _messages(azurite_connection_string, queue_name)) == 1
