"""Issue 9.6: exactly one run per user, yet a crash blocks the user for a minute at most.

The engine's lease is short and renewed by a heartbeat while the run is alive; a renewal that finds the lease
lost cancels the run; a busy user's message is queued again, hidden until the holder's lease ends.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from azure.storage.queue.aio import QueueClient

from shared import handlers
from shared.queueing import StorageWorkQueue, SyncRequest
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


@pytest.fixture
def fast_lease(monkeypatch: pytest.MonkeyPatch) -> None:
    """A one-second lease renewed five times a second, so a test can outlast it quickly."""
    monkeypatch.setattr(engine, "LEASE_SECONDS", 1.0)
    monkeypatch.setattr(engine, "LEASE_RENEW_SECONDS", 0.2)


def _now() -> datetime:
    return datetime.now(UTC)


async def _slow_delta(stack: Stack, delay_ms: int) -> None:
    """The next calendar-view delta call takes ``delay_ms`` (a large mailbox, a slow Graph)."""
    added = await stack.graph.post("/_emulator/faults", json={"path": "delta", "count": 1, "delayMs": delay_ms})
    assert added.status_code == 201, added.text


async def _held_by_the_run(stack: Stack) -> None:
    for _ in range(200):
        lease = await stack.services.state.get_lease(ANN)
        if lease is not None and lease.owner != "worker-b":
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the run never took its lease")


async def _visible(conn: str, queue: str) -> list[str]:
    async with QueueClient.from_connection_string(conn, queue) as client:
        return [str(m.content) for m in await client.peek_messages(max_messages=32)]


async def _stored(conn: str, queue: str) -> int:
    async with QueueClient.from_connection_string(conn, queue) as client:
        return int((await client.get_queue_properties()).approximate_message_count or 0)


async def test_restarted_worker_takes_over_a_dead_workers_user_within_a_minute(stack: Stack, queue_name: str) -> None:
    """A worker died mid-run a minute ago, leaving its lease behind: the restarted worker syncs the user now,
    instead of waiting eleven minutes for the lease to expire."""
    dead = await stack.services.state.acquire_lease(
        ANN, owner="dead-host:4242", now=_now() - timedelta(seconds=60), ttl_seconds=engine.LEASE_SECONDS
    )
    assert dead is not None
    report = await handlers.sync_message(stack.services, SyncRequest(user_id=ANN).to_json())
    assert report is not None
    assert report.status == "ok"
    assert engine.LEASE_SECONDS <= 60
    assert await stack.services.state.get_lease(ANN) is None  # released at the end of the run


async def test_busy_user_message_comes_back_when_the_lease_ends(
    stack: Stack, queue_name: str, azurite_connection_string: str
) -> None:
    """Another worker holds Ann's lease for two more seconds: her message is put back hidden until then, and
    shows up once the lease has ended (not after a fixed 30 s, not at once)."""
    held = await stack.services.state.acquire_lease(ANN, owner="worker-b", now=_now(), ttl_seconds=2)
    assert held is not None
    started = time.monotonic()
    report = await handlers.sync_message(stack.services, SyncRequest(user_id=ANN).to_json())
    assert report is not None
    assert report.status == "busy"
    assert await _visible(azurite_connection_string, queue_name) == []
    while not await _visible(azurite_connection_string, queue_name):
        assert time.monotonic() - started < 8, "the busy user's message did not come back when the lease ended"
        await asyncio.sleep(0.2)
    assert time.monotonic() - started >= 1.5
    assert await stack.services.state.acquire_lease(ANN, owner="worker-c", now=_now(), ttl_seconds=60) is not None


@pytest.mark.usefixtures("fast_lease")
async def test_run_longer_than_its_lease_keeps_the_user_by_heartbeat(stack: Stack, queue_name: str) -> None:
    """A run that takes longer than the lease (a slow delta) keeps its user: its heartbeat renews the lease,
    so no other worker gets the user meanwhile (exactly one run per user); the lease is freed at the end."""
    await _slow_delta(stack, 2500)
    run = asyncio.create_task(stack.services.engine.sync_user(ANN))
    await _held_by_the_run(stack)
    await asyncio.sleep(1.6)  # past the first lease's end
    assert not run.done()
    assert await stack.services.state.acquire_lease(ANN, owner="worker-b", now=_now(), ttl_seconds=60) is None
    report = await run
    assert report.status == "ok"
    assert await stack.services.state.get_lease(ANN) is None


@pytest.mark.usefixtures("fast_lease")
async def test_run_whose_lease_was_taken_over_stops_and_its_message_waits_for_the_new_holder(
    stack: Stack, queue_name: str, azurite_connection_string: str
) -> None:
    """While Ann's run waits on a slow delta, another worker takes her lease over (as after a missed renewal).
    The run's next heartbeat finds the lease lost and stops the run before it writes anything more (no cursor
    stored); the new holder keeps the lease; the message is queued again, hidden until that lease ends."""
    await _slow_delta(stack, 3000)
    run = asyncio.create_task(handlers.sync_message(stack.services, SyncRequest(user_id=ANN).to_json()))
    await _held_by_the_run(stack)
    state = stack.services.state
    theirs = await state.get_lease(ANN)
    assert theirs is not None
    await state.release_lease(theirs)
    taken = await state.acquire_lease(ANN, owner="worker-b", now=_now(), ttl_seconds=60)
    assert taken is not None
    report = await asyncio.wait_for(run, timeout=2)
    assert report is not None
    assert report.status == "lease-lost"
    assert await state.get_delta_cursor(ANN_MAILBOX) is None
    assert await state.get_lease(ANN) == taken
    assert await _visible(azurite_connection_string, queue_name) == []
    assert await _stored(azurite_connection_string, queue_name) == 1
