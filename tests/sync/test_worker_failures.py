"""Issue 9.5: a user whose sync always fails is listed for the admin (R31), and the poison queue never piles up.

The queue worker records a run that raises as the user's ``run`` issue (kind FAILURE) on its first failed
try and resolves it when a run completes; the safety net drains ``<queue>-poison`` into the same issue.
"""

from __future__ import annotations

import base64
import logging
import uuid
from collections.abc import AsyncIterator

import azure.functions as func
import pytest
from azure.storage.queue.aio import QueueClient

from emulators.functions_host import LocalFunctionsHost
from shared import handlers
from shared.queueing import StorageWorkQueue, SyncRequest
from shared.state.model import Issue, IssueKind
from tests.sync.conftest import Stack

ANN = "U-ANN"
RUN_ISSUE = "run"  # the admin's row for a user's failing runs
POISON_SUFFIX = "-poison"  # where the Functions host sets aside a message after maxDequeueCount tries
FAST_RETRIES = {"version": "2.0", "extensions": {"queues": {"maxDequeueCount": 2, "visibilityTimeout": "00:00:00"}}}


@pytest.fixture
async def queue_name(stack: Stack, azurite_connection_string: str) -> AsyncIterator[str]:
    """A work queue and poison queue of this test alone, used by the stack's services; Ann can be synced."""
    name = "q" + uuid.uuid4().hex[:20]
    for queue in (name, name + POISON_SUFFIX):
        async with QueueClient.from_connection_string(azurite_connection_string, queue) as client:
            await client.create_queue()
    stack.services.queue = StorageWorkQueue.from_connection_string(azurite_connection_string, queue=name)
    await stack.add_person(user_id=ANN, mailbox="ann@contoso.example", name="Ann")
    yield name
    await stack.services.queue.aclose()


async def _graph_refuses_every_delta(stack: Stack) -> None:
    """Graph answers 400 to the calendar-view delta, every time (a cause only a person can fix)."""
    added = await stack.graph.post("/_emulator/faults", json={"path": "delta", "status": 400, "count": 1000})
    assert added.status_code == 201, added.text


async def _run_issue(stack: Stack, user_id: str = ANN) -> Issue | None:
    return next((i for i in await stack.services.state.open_issues(user_id) if i.key == RUN_ISSUE), None)


async def _texts(conn: str, queue: str) -> list[str]:
    async with QueueClient.from_connection_string(conn, queue) as client:
        return [str(m.content) for m in await client.peek_messages(max_messages=32)]


def _message(user_id: str) -> str:
    return base64.b64encode(SyncRequest(user_id=user_id, reason="safety-net").to_json().encode()).decode()


async def test_user_whose_every_run_fails_is_listed_for_the_admin(stack: Stack, queue_name: str) -> None:
    """R31: Graph answers 400 to the delta on every try. The first failed try already lists the user for the
    admin (kind FAILURE, the error's class); a repeat counts on the same row; the host still sees a failure,
    so it retries the message."""
    await _graph_refuses_every_delta(stack)
    message = SyncRequest(user_id=ANN, reason="notification").to_json()
    with pytest.raises(Exception, match="400"):
        await handlers.sync_message(stack.services, message)
    first = await _run_issue(stack)
    assert first is not None
    assert first.kind == IssueKind.FAILURE
    assert "GraphInvalid" in first.reason
    assert "400" in first.reason
    with pytest.raises(Exception, match="400"):
        await handlers.sync_message(stack.services, message)
    issues = await stack.services.state.open_issues(ANN)
    assert [(i.key, i.occurrences) for i in issues] == [(RUN_ISSUE, 2)]


async def test_failed_run_issue_is_resolved_when_a_run_succeeds(stack: Stack, queue_name: str) -> None:
    """R31: once the cause is fixed (Graph answers again), the next run syncs the user and the admin's row
    is marked resolved."""
    await _graph_refuses_every_delta(stack)
    message = SyncRequest(user_id=ANN, reason="notification").to_json()
    with pytest.raises(Exception, match="400"):
        await handlers.sync_message(stack.services, message)
    assert await _run_issue(stack) is not None
    assert (await stack.graph.delete("/_emulator/faults")).status_code == 204
    report = await handlers.sync_message(stack.services, message)
    assert report is not None
    assert report.status == "ok"
    assert await _run_issue(stack) is None


async def test_failed_run_reason_shows_no_secret_and_no_raw_outside_text(
    stack: Stack, queue_name: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """R31 and the secrets rule: an unexpected error whose text carries a secret, a forged log line and a
    flood is listed with its class and a masked, escaped, cut message; the host's log sees the same text."""
    secret = stack.services.settings.erp_api_key.get_secret_value()

    async def explode(user_id: str) -> None:
        raise RuntimeError(f"call with key {secret} failed\nCRITICAL forged line Bearer abc.def " + "x" * 5000)

    monkeypatch.setattr(stack.services.engine, "sync_user", explode)
    with caplog.at_level(logging.DEBUG), pytest.raises(Exception, match="RuntimeError") as raised:
        await handlers.sync_message(stack.services, SyncRequest(user_id=ANN).to_json())
    issue = await _run_issue(stack)
    assert issue is not None
    assert "RuntimeError" in issue.reason
    assert secret not in issue.reason
    assert "abc.def" not in issue.reason
    assert "\n" not in issue.reason
    assert len(issue.reason) < 500
    assert str(raised.value) == issue.reason
    assert raised.value.__cause__ is None
    assert all(secret not in r.getMessage() and "\nCRITICAL" not in r.getMessage() for r in caplog.records)


async def test_poisoned_sync_requests_are_listed_for_the_admin_and_removed(
    stack: Stack, queue_name: str, azurite_connection_string: str
) -> None:
    """R31: requests the host set aside after every try failed (two for Ann, with no error recorded, as after
    a crash; one that is not even base64) become issues at the next safety net, and leave the poison queue."""
    poison = queue_name + POISON_SUFFIX
    async with QueueClient.from_connection_string(azurite_connection_string, poison) as client:
        for text in (_message(ANN), _message(ANN), "not base64 {}"):
            await client.send_message(text)
    await handlers.safety_net(stack.services)
    assert await _texts(azurite_connection_string, poison) == []
    issue = await _run_issue(stack)
    assert issue is not None
    assert issue.kind == IssueKind.FAILURE
    assert "set aside" in issue.reason
    assert issue.occurrences == 2
    tenant = await stack.services.state.open_issues(handlers.TENANT)
    assert [(i.key, i.kind) for i in tenant] == [("poison-message", IssueKind.BAD_INPUT)]


async def test_user_whose_every_run_fails_does_not_pile_up_on_the_poison_queue(
    stack: Stack, queue_name: str, azurite_connection_string: str
) -> None:
    """R31/R32: on the local Functions host (poison after maxDequeueCount), three safety-net rounds for a
    user whose runs always fail leave at most one set-aside request, and one admin row naming the error."""
    app = func.FunctionApp()

    @app.queue_trigger(arg_name="msg", queue_name=queue_name, connection="AzureWebJobsStorage")
    async def sync_user(msg: func.QueueMessage) -> None:
        await handlers.sync_message(stack.services, msg.get_body())

    host = LocalFunctionsHost(app, environ={"AzureWebJobsStorage": azurite_connection_string}, host_json=FAST_RETRIES)
    await _graph_refuses_every_delta(stack)
    poison = queue_name + POISON_SUFFIX
    for _ in range(3):
        await handlers.safety_net(stack.services)
        await host.drain_queues(timeout=30, include_invisible=True)
        assert len(await _texts(azurite_connection_string, poison)) == 1
    await handlers.safety_net(stack.services)
    assert await _texts(azurite_connection_string, poison) == []
    issues = await stack.services.state.open_issues(ANN)
    assert [i.key for i in issues] == [RUN_ISSUE]
    assert "GraphInvalid" in issues[0].reason
    assert "set aside" in issues[0].reason
