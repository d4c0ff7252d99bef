"""Hostile input at the anonymous HTTP endpoints (issue 9, part 7): every answer is a clear 4xx, or Graph's
documented 202-and-discard, never a 500; nothing forged is queued; logs stay one escaped line per request.

Graph's contract (graph-facts §2; https://learn.microsoft.com/en-us/graph/change-notifications-delivery-webhooks):
the validation token is echoed within 10 s as text/plain; a notification whose clientState does not match
is discarded and answered 202; a clientState is at most 128 characters. The subscription ids Graph issues are
GUIDs (36 characters; the examples of the "subscription resource type" page).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import azure.functions as func
import pytest

from shared import handlers
from shared.functions import erp_hook as erp_hook_function
from shared.functions import graph_webhooks
from shared.handlers.common import MAX_BODY_BYTES, Answer
from shared.handlers.webhooks import MAX_VALIDATION_TOKEN_CHARS
from shared.queueing import SyncRequest
from shared.state.model import IssueKind, SubscriptionRecord
from tests.sync.conftest import Stack

WEBHOOK_LOGGER = "shared.handlers.webhooks"
GraphEndpoint = Callable[..., Awaitable[Answer]]


@pytest.fixture
def queued(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> list[SyncRequest]:
    """What the handlers queue during the test, recorded instead of sent (the queue itself stays, to be closed)."""
    requests: list[SyncRequest] = []

    async def record(request: SyncRequest, *, delay_seconds: int = 0) -> None:
        requests.append(request)

    monkeypatch.setattr(stack.services.queue, "enqueue", record)
    return requests


def _client_state(stack: Stack) -> str:
    return stack.services.settings.graph_client_state.get_secret_value()


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


def _item(sub_id: str, client_state: str, **extra: str) -> dict[str, object]:
    return {
        "subscriptionId": sub_id,
        "clientState": client_state,
        "changeType": "updated",
        "resource": "Users/ann/Events/AAMk1",
        "tenantId": "t",
        **extra,
    }


def _body(*items: dict[str, object]) -> bytes:
    return json.dumps({"value": list(items)}).encode()


def _webhook_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == WEBHOOK_LOGGER]


# --- malformed bodies: 400, recorded for the admin (R31), never a 500 ----------------------------------------------


@pytest.mark.parametrize("endpoint", [handlers.graph_notification, handlers.graph_lifecycle])
async def test_deeply_nested_json_answers_400_and_is_recorded_for_the_admin(
    stack: Stack, queued: list[SyncRequest], endpoint: GraphEndpoint
) -> None:
    """JSON nested 5,000 deep exhausts the parser's recursion; that is a malformed body (400, R31), not a 500."""
    body = b'{"value": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    answer = await endpoint(stack.services, body=body, validation_token=None)
    assert answer.status == 400
    assert queued == []
    issues = await stack.services.state.open_issues(handlers.TENANT)
    assert [(i.kind, "nested too deeply" in i.reason) for i in issues] == [(IssueKind.BAD_INPUT, True)]


async def test_a_number_too_long_to_read_answers_400(stack: Stack, queued: list[SyncRequest]) -> None:
    """Python refuses to convert integers of over 4,300 digits (a ValueError, not a JSONDecodeError): 400."""
    body = b'{"value": [], "n": ' + b"9" * 5000 + b"}"
    answer = await handlers.graph_notification(stack.services, body=body, validation_token=None)
    assert answer.status == 400
    assert queued == []


# --- ids Graph cannot have issued: Graph's contract is 202, the notification ignored ------------------------------


@pytest.mark.parametrize("sub_id", ["x" * 600, "a\ud800b"], ids=["600-characters", "lone-surrogate"])
async def test_a_subscription_id_no_graph_subscription_can_have_is_ignored_with_202(
    stack: Stack, queued: list[SyncRequest], sub_id: str
) -> None:
    """Even with the right clientState, an id that cannot be a Table key (600 characters; a lone surrogate)
    is no subscription of ours: ignored with 202 like any unknown subscription, not a 500 from the store."""
    body = _body(_item(sub_id, _client_state(stack)))
    assert (await handlers.graph_notification(stack.services, body=body, validation_token=None)).status == 202
    lifecycle = _body(_item(sub_id, _client_state(stack), lifecycleEvent="missed"))
    assert (await handlers.graph_lifecycle(stack.services, body=lifecycle, validation_token=None)).status == 202
    assert queued == []


async def test_a_client_state_with_a_lone_surrogate_is_discarded_with_202(
    stack: Stack, queued: list[SyncRequest]
) -> None:
    """A clientState that is not valid Unicode does not match (Graph: discard, answer 202); it cannot crash the
    constant-time comparison."""
    sub_id = await _subscription(stack)
    answer = await handlers.graph_notification(
        stack.services, body=_body(_item(sub_id, "\udfff")), validation_token=None
    )
    assert answer.status == 202
    assert queued == []


async def test_a_genuine_notification_next_to_hostile_ones_is_still_synced(
    stack: Stack, queued: list[SyncRequest]
) -> None:
    """Graph's batch may mix subscriptions; the forged and impossible items beside a genuine one are dropped,
    the genuine one queues its user's sync."""
    sub_id = await _subscription(stack)
    state = _client_state(stack)
    body = _body(_item("x" * 600, state), _item(sub_id, "forged-state-value"), _item(sub_id, state))
    answer = await handlers.graph_notification(stack.services, body=body, validation_token=None)
    assert answer.status == 202
    assert [(q.user_id, q.reason) for q in queued] == [("U-ANN", "notification")]


async def test_an_unknown_lifecycle_event_never_becomes_a_queue_reason(stack: Stack, queued: list[SyncRequest]) -> None:
    """Only Graph's three lifecycle events are read as such (graph-facts §2); any other text is not carried on."""
    sub_id = await _subscription(stack)
    body = _body(_item(sub_id, _client_state(stack), lifecycleEvent="evil\nline"))
    assert (await handlers.graph_lifecycle(stack.services, body=body, validation_token=None)).status == 202
    assert [(q.user_id, q.reason) for q in queued] == [("U-ANN", "lifecycle")]


# --- logs: one escaped line per request ----------------------------------------------------------------------------


async def test_a_newline_in_a_subscription_id_cannot_forge_a_log_line(
    stack: Stack, queued: list[SyncRequest], caplog: pytest.LogCaptureFixture
) -> None:
    """An attacker's subscriptionId is shown escaped (``\\n``) in one line, so it cannot start a line of its own."""
    forged = "abc\n2026-01-01 00:00:00 CRITICAL admin password reset"
    with caplog.at_level(logging.INFO, logger=WEBHOOK_LOGGER):
        answer = await handlers.graph_notification(
            stack.services, body=_body(_item(forged, "forged-state-value")), validation_token=None
        )
    assert answer.status == 202
    lines = _webhook_lines(caplog)
    assert len(lines) == 1
    assert "\n" not in lines[0]
    assert "'abc\\n2026-01-01 00:00:00 CRITICAL" in lines[0]


async def test_a_flood_of_forged_notifications_writes_one_log_line(
    stack: Stack, queued: list[SyncRequest], caplog: pytest.LogCaptureFixture
) -> None:
    """Thousands of forged notifications in one POST are discarded with 202 (Graph's contract) and logged once,
    with counts, not once per item; nothing is queued."""
    items = [_item(str(uuid.uuid4()), "forged-state-value") for _ in range(3000)]
    with caplog.at_level(logging.INFO, logger=WEBHOOK_LOGGER):
        answer = await handlers.graph_notification(stack.services, body=_body(*items), validation_token=None)
    assert answer.status == 202
    assert queued == []
    lines = _webhook_lines(caplog)
    assert len(lines) == 1
    assert "3000 of 3000 notification(s) discarded (3000 with a wrong clientState" in lines[0]


# --- size: a body cap, and a cap on the echoed validation token ----------------------------------------------------


@pytest.mark.parametrize("endpoint", [handlers.graph_notification, handlers.graph_lifecycle])
async def test_an_oversized_body_answers_413_before_parsing(
    stack: Stack, queued: list[SyncRequest], endpoint: GraphEndpoint
) -> None:
    """A body one byte over the cap is refused with 413 unread: no issue recorded, nothing queued, even though
    it holds a genuine notification."""
    sub_id = await _subscription(stack)
    body = _body(_item(sub_id, _client_state(stack)))
    body = body + b" " * (MAX_BODY_BYTES + 1 - len(body))
    answer = await endpoint(stack.services, body=body, validation_token=None)
    assert answer.status == 413
    assert queued == []
    assert await stack.services.state.open_issues(handlers.TENANT) == []


async def test_a_body_exactly_at_the_cap_is_still_read(stack: Stack, queued: list[SyncRequest]) -> None:
    """The cap refuses only what is over it: a genuine notification padded to exactly 1 MiB is synced."""
    sub_id = await _subscription(stack)
    body = _body(_item(sub_id, _client_state(stack)))
    body = body + b" " * (MAX_BODY_BYTES - len(body))
    answer = await handlers.graph_notification(stack.services, body=body, validation_token=None)
    assert answer.status == 202
    assert [(q.user_id, q.reason) for q in queued] == [("U-ANN", "notification")]


@pytest.mark.parametrize(
    ("function", "route"),
    [
        (graph_webhooks.graph_notifications, "graph/notifications"),
        (graph_webhooks.graph_lifecycle, "graph/lifecycle"),
        (erp_hook_function.erp_change_hook, "erp/hook"),
    ],
    ids=["graph_notifications", "graph_lifecycle", "erp_change_hook"],
)
async def test_the_functions_answer_an_oversized_body_413_before_building_anything(
    function: func.decorators.function_app.FunctionBuilder, route: str
) -> None:
    """Each anonymous function refuses a 2 MiB body with 413 before it reads settings or builds the services
    (no app settings exist in this test, so anything further would fail)."""
    body = b"{" * (2 * MAX_BODY_BYTES)
    request = func.HttpRequest(
        method="POST", url=f"http://localhost/api/{route}", headers={"Content-Type": "application/json"}, body=body
    )
    response = await function.build().get_user_function()(request)
    assert response.status_code == 413


async def test_an_over_long_validation_token_answers_400(stack: Stack, caplog: pytest.LogCaptureFixture) -> None:
    """Graph's handshake echoes the token (text/plain, within 10 s); a token over the cap is not Graph's and is
    refused with 400 instead of being reflected; the log line gives its length, not the token."""
    token = "Validation: " + "A" * MAX_VALIDATION_TOKEN_CHARS
    with caplog.at_level(logging.INFO, logger=WEBHOOK_LOGGER):
        notification = await handlers.graph_notification(stack.services, body=b"", validation_token=token)
        lifecycle = await handlers.graph_lifecycle(stack.services, body=b"", validation_token=token)
    assert (notification.status, lifecycle.status) == (400, 400)
    assert token not in notification.body
    assert all("AAAA" not in line for line in _webhook_lines(caplog))
    fits = "Validation: " + "A" * (MAX_VALIDATION_TOKEN_CHARS - len("Validation: "))
    echoed = await handlers.graph_notification(stack.services, body=b"", validation_token=fits)
    assert (echoed.status, echoed.mimetype, echoed.body) == (200, "text/plain", fits)
