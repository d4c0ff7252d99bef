"""One pending sync message per user (issue 12: one run per burst), on every state store (contract)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from shared.state.port import StateStore
from tests.state.conftest import NOW

USER = "u-pending/1"
STALE = timedelta(minutes=15)


async def test_first_request_of_a_burst_queues_and_the_rest_are_covered(store: StateStore) -> None:
    """The first request marks the user and must queue; requests while that message is pending must not."""
    assert await store.mark_sync_pending(USER, now=NOW, stale_after=STALE) is True
    assert await store.mark_sync_pending(USER, now=NOW + timedelta(seconds=1), stale_after=STALE) is False
    assert await store.mark_sync_pending("another-user", now=NOW, stale_after=STALE) is True


async def test_request_after_the_run_started_queues_one_follow_up(store: StateStore) -> None:
    """The worker clears the mark as its run starts: a change during the run queues exactly one more message."""
    await store.mark_sync_pending(USER, now=NOW, stale_after=STALE)
    await store.clear_sync_pending(USER)
    assert await store.mark_sync_pending(USER, now=NOW + timedelta(seconds=2), stale_after=STALE) is True
    assert await store.mark_sync_pending(USER, now=NOW + timedelta(seconds=3), stale_after=STALE) is False
    await store.clear_sync_pending(USER)
    await store.clear_sync_pending(USER)  # clearing twice is no error


async def test_stale_mark_of_a_lost_message_is_taken_over_once(store: StateStore, other_store: StateStore) -> None:
    """A mark older than ``stale_after`` (its message died with a host) does not silence the user forever:
    of many requests racing for it, exactly one queues."""
    await store.mark_sync_pending(USER, now=NOW, stale_after=STALE)
    later = NOW + STALE + timedelta(seconds=1)
    stores = [store, other_store] * 4
    results = await asyncio.gather(*(s.mark_sync_pending(USER, now=later, stale_after=STALE) for s in stores))
    assert results.count(True) == 1


async def test_concurrent_first_requests_queue_once(store: StateStore, other_store: StateStore) -> None:
    """Notifications for one user answered by several instances at once: one of them queues."""
    stores = [store, other_store] * 4
    results = await asyncio.gather(*(s.mark_sync_pending(USER, now=NOW, stale_after=STALE) for s in stores))
    assert results.count(True) == 1
