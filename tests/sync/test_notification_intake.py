"""The function app's Graph webhook answers at once and leaves the rest to the worker (issue 12, item 7): one
queue message per POST, no Table Storage look-up on Graph's clock. Graph wants an answer within 3 s and counts
slower ones against the endpoint (page "Set up notifications for changes in resource data",
https://learn.microsoft.com/en-us/graph/change-notifications-delivery-webhooks)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from shared import handlers
from shared.handlers.poison import record_set_aside
from shared.queueing import NotificationBatch, SetAside, SyncRequest, read_message
from shared.telemetry import correlated
from tests.sync.conftest import Stack
from tests.sync.status_helpers import RecordingQueue
from tests.sync.test_notification_lookups import _subscribe

ANN = "U-ANN"


def _post(stack: Stack, sub_id: str, *, client_state: str | None = None, count: int = 1) -> bytes:
    state = client_state or stack.services.settings.graph_client_state.get_secret_value()
    notes = [
        {
            "subscriptionId": sub_id,
            "clientState": state,
            "changeType": "updated",
            "resource": f"Users/x/Events/AAMk{n}",
            "resourceData": {"@odata.type": "#Microsoft.Graph.Event", "id": f"AAMk{n}", "@odata.etag": 'W/"CK1"'},
        }
        for n in range(count)
    ]
    return json.dumps({"value": notes}).encode()


@pytest.fixture
def queue(stack: Stack) -> RecordingQueue:
    recording = RecordingQueue()
    stack.services.queue = recording  # type: ignore[assignment]
    return recording


def _no_state(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every state method the intake calls is listed (it should call none)."""
    called: list[str] = []
    state: Any = stack.services.state
    for name in ("get_subscription", "subscriptions", "link_by_event", "mark_sync_pending", "record_issue"):
        real = getattr(state, name)

        async def listed(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            called.append(_name)
            return await _real(*args, **kwargs)

        monkeypatch.setattr(state, name, listed)
    return called


async def test_notification_post_is_answered_with_one_queue_message_and_no_state_look_up(
    stack: Stack, queue: RecordingQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A POST of 3 notifications: 202, one message holding the 3 (ids and change keys kept for the echo
    check), and not one Table Storage request on Graph's clock."""
    sub_id = await _subscribe(stack, ANN)
    called = _no_state(stack, monkeypatch)
    answer = await handlers.graph_notification_intake(
        stack.services, body=_post(stack, sub_id, count=3), validation_token=None
    )
    assert answer.status == 202
    assert called == []
    assert len(queue.requests) == 1
    batch = queue.requests[0]
    assert isinstance(batch, NotificationBatch)
    assert [n.event_id for n in batch.notes] == ["AAMk0", "AAMk1", "AAMk2"]
    assert {n.change_key for n in batch.notes} == {"CK1"}


async def test_worker_turns_the_queued_notifications_into_the_users_sync(stack: Stack, queue: RecordingQueue) -> None:
    """The worker reads the batch off the queue: Ann's subscription leads to one sync request for her."""
    sub_id = await _subscribe(stack, ANN)
    await handlers.graph_notification_intake(stack.services, body=_post(stack, sub_id, count=2), validation_token=None)
    message = queue.requests.pop()
    assert await handlers.sync_message(stack.services, message.to_json()) is None
    assert [(r.user_id, r.reason) for r in queue.requests if isinstance(r, SyncRequest)] == [(ANN, "notification")]


async def test_forged_notifications_queue_nothing(stack: Stack, queue: RecordingQueue) -> None:
    """A wrong clientState is dropped at the door (202, as Graph expects), and a malformed body is 400: neither
    reaches the queue."""
    sub_id = await _subscribe(stack, ANN)
    forged = await handlers.graph_notification_intake(
        stack.services, body=_post(stack, sub_id, client_state="guess"), validation_token=None
    )
    malformed = await handlers.graph_notification_intake(stack.services, body=b"{not json", validation_token=None)
    assert (forged.status, malformed.status) == (202, 400)
    assert queue.requests == []


async def test_a_long_post_is_split_into_messages_a_queue_holds(stack: Stack, queue: RecordingQueue) -> None:
    """25 notifications in one POST: three messages of at most 10, each well within a queue message's 64 KiB
    once base64-encoded."""
    sub_id = await _subscribe(stack, ANN)
    await handlers.graph_notification_intake(stack.services, body=_post(stack, sub_id, count=25), validation_token=None)
    sizes = [len(batch.notes) for batch in queue.requests if isinstance(batch, NotificationBatch)]
    assert sizes == [10, 10, 5]
    assert all(len(m.to_json()) * 4 / 3 < 64 * 1024 for m in queue.requests)
    assert isinstance(read_message(queue.requests[0].to_json()), NotificationBatch)


async def test_set_aside_notifications_are_listed_for_the_admin(stack: Stack, queue: RecordingQueue) -> None:
    """A batch of notifications that failed on every try is recorded where the admin sees it (R31): the safety
    net's delta runs read what it announced."""
    sub_id = await _subscribe(stack, ANN)
    await handlers.graph_notification_intake(stack.services, body=_post(stack, sub_id), validation_token=None)
    body = queue.requests[0].to_json().encode()
    await record_set_aside(stack.services, SetAside(body=body, inserted_on=datetime.now(UTC)))
    reasons = [issue.reason for issue in await stack.services.state.open_issues()]
    assert any("Graph notification(s) could not be handled" in reason for reason in reasons), reasons


class _SlowQueue(RecordingQueue):
    """A queue whose every send takes a moment (as a storage round trip does), optionally failing."""

    fail: bool = False

    async def enqueue(self, request: Any, *, delay_seconds: int = 0) -> None:
        await asyncio.sleep(0.01)
        if self.fail:
            raise OSError("queue unreachable")
        self.requests.append(request)


async def test_posts_answered_together_share_their_queue_messages(stack: Stack) -> None:
    """100 POSTs at once (one notification each): every answer waits for its note to be on the queue, but
    they go out ten to a message, not one message each; every note is there exactly once."""
    queue = _SlowQueue()
    stack.services.queue = queue  # type: ignore[assignment]
    subs = [await _subscribe(stack, f"U-{n}") for n in range(100)]
    answers = await asyncio.gather(
        *(handlers.graph_notification_intake(stack.services, body=_post(stack, s), validation_token=None) for s in subs)
    )
    assert {a.status for a in answers} == {202}
    notes = [n.subscription_id for m in queue.requests if isinstance(m, NotificationBatch) for n in m.notes]
    assert sorted(notes) == sorted(subs)
    assert len(queue.requests) <= 15


async def test_a_failed_send_fails_the_posts_it_carried(stack: Stack) -> None:
    """The queue cannot be reached: the POSTs are not answered 202 (the function answers 500 and Graph sends
    them again), rather than acknowledged and lost."""
    queue = _SlowQueue()
    queue.fail = True
    stack.services.queue = queue  # type: ignore[assignment]
    sub_id = await _subscribe(stack, ANN)
    with pytest.raises(OSError, match="queue unreachable"):
        await handlers.graph_notification_intake(stack.services, body=_post(stack, sub_id), validation_token=None)
    assert queue.requests == []


async def test_merged_posts_keep_each_their_correlation_id(stack: Stack) -> None:
    """Two POSTs answered together share one message; each user's sync still carries the correlation id of the
    POST that named them, so an admin can follow a notification to its run."""
    queue = _SlowQueue()
    stack.services.queue = queue  # type: ignore[assignment]
    ann, bob = await _subscribe(stack, ANN), await _subscribe(stack, "U-BOB")

    async def post(sub_id: str, correlation_id: str) -> None:
        with correlated(correlation_id):
            await handlers.graph_notification_intake(stack.services, body=_post(stack, sub_id), validation_token=None)

    await asyncio.gather(post(ann, "corr-ann"), post(bob, "corr-bob"))
    assert len(queue.requests) == 1
    message = queue.requests.pop()
    await handlers.sync_message(stack.services, message.to_json())
    requests = {r.user_id: r.correlation_id for r in queue.requests if isinstance(r, SyncRequest)}
    assert requests == {ANN: "corr-ann", "U-BOB": "corr-bob"}
