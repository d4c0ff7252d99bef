"""Per-user leases: only one worker syncs a user at a time, on every state store (contract)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from shared.state.port import StateStore
from tests.state.conftest import NOW

USER = "u-lease/1"


async def test_free_lease_is_granted_and_a_held_one_is_not(store: StateStore) -> None:
    """A free lease goes to the first worker; the second gets None until it expires (one worker per user)."""
    lease = await store.acquire_lease(USER, owner="worker-a", now=NOW, ttl_seconds=60)
    assert lease is not None
    assert lease.owner == "worker-a"
    assert lease.expires_at == NOW + timedelta(seconds=60)
    assert lease.etag
    assert await store.acquire_lease(USER, owner="worker-b", now=NOW + timedelta(seconds=59), ttl_seconds=60) is None
    assert await store.acquire_lease("another-user", owner="worker-b", now=NOW, ttl_seconds=60) is not None


async def test_concurrent_acquirers_of_a_free_lease_have_exactly_one_winner(
    store: StateStore, other_store: StateStore
) -> None:
    """Many workers racing for one free user lease: exactly one gets it (Insert Entity is atomic)."""
    stores = [store, other_store] * 4
    results = await asyncio.gather(
        *(s.acquire_lease(USER, owner=f"worker-{i}", now=NOW, ttl_seconds=60) for i, s in enumerate(stores))
    )
    assert len([lease for lease in results if lease is not None]) == 1


async def test_expired_lease_is_taken_over(store: StateStore) -> None:
    """A crashed worker's lease is taken over once it expired, so the user is synced again (R32)."""
    await store.acquire_lease(USER, owner="crashed", now=NOW, ttl_seconds=60)
    later = NOW + timedelta(seconds=60)
    taken = await store.acquire_lease(USER, owner="worker-b", now=later, ttl_seconds=60)
    assert taken is not None
    assert taken.owner == "worker-b"
    assert taken.expires_at == later + timedelta(seconds=60)


async def test_concurrent_takeover_of_an_expired_lease_has_exactly_one_winner(
    store: StateStore, other_store: StateStore
) -> None:
    """Racing takeovers of an expired lease: the ETag condition lets exactly one through."""
    await store.acquire_lease(USER, owner="crashed", now=NOW, ttl_seconds=1)
    later = NOW + timedelta(minutes=5)
    stores = [store, other_store] * 4
    results = await asyncio.gather(
        *(s.acquire_lease(USER, owner=f"worker-{i}", now=later, ttl_seconds=60) for i, s in enumerate(stores))
    )
    assert len([lease for lease in results if lease is not None]) == 1


async def test_released_lease_is_free_again(store: StateStore) -> None:
    """Releasing ends the lease at once, so the next worker need not wait for expiry (one worker per user)."""
    lease = await store.acquire_lease(USER, owner="worker-a", now=NOW, ttl_seconds=600)
    assert lease is not None
    await store.release_lease(lease)
    assert await store.acquire_lease(USER, owner="worker-b", now=NOW, ttl_seconds=600) is not None


async def test_releasing_a_lease_taken_over_leaves_the_new_holder_alone(store: StateStore) -> None:
    """A slow worker releasing its expired lease must not free the one another worker now holds (If-Match)."""
    old = await store.acquire_lease(USER, owner="slow", now=NOW, ttl_seconds=1)
    assert old is not None
    new = await store.acquire_lease(USER, owner="worker-b", now=NOW + timedelta(seconds=5), ttl_seconds=600)
    assert new is not None
    await store.release_lease(old)
    await store.release_lease(old.model_copy(update={"etag": None}))
    assert await store.acquire_lease(USER, owner="worker-c", now=NOW + timedelta(seconds=6), ttl_seconds=60) is None


async def test_holder_renews_its_lease_and_it_stays_exclusive_past_the_first_expiry(store: StateStore) -> None:
    """Issue 9.6: a live run's heartbeat extends its short lease; no other worker gets the user meanwhile."""
    lease = await store.acquire_lease(USER, owner="worker-a", now=NOW, ttl_seconds=60)
    assert lease is not None
    renewed = await store.renew_lease(lease, now=NOW + timedelta(seconds=20), ttl_seconds=60)
    assert renewed is not None
    assert renewed.owner == "worker-a"
    assert renewed.expires_at == NOW + timedelta(seconds=80)
    assert renewed.etag
    assert renewed.etag != lease.etag
    later = NOW + timedelta(seconds=70)  # past the first expiry, before the renewed one
    assert await store.acquire_lease(USER, owner="worker-b", now=later, ttl_seconds=60) is None
    again = await store.renew_lease(renewed, now=later, ttl_seconds=60)
    assert again is not None
    assert again.expires_at == later + timedelta(seconds=60)


async def test_renewal_finds_a_lease_taken_over_lost_and_leaves_the_new_holder_alone(
    store: StateStore, other_store: StateStore
) -> None:
    """Issue 9.6: a worker whose lease expired and went to another worker learns it lost it (None), so its
    run stops; the new holder keeps the user (exactly one run per user)."""
    old = await store.acquire_lease(USER, owner="slow", now=NOW, ttl_seconds=60)
    assert old is not None
    taken = await other_store.acquire_lease(USER, owner="worker-b", now=NOW + timedelta(seconds=61), ttl_seconds=60)
    assert taken is not None
    assert await store.renew_lease(old, now=NOW + timedelta(seconds=62), ttl_seconds=60) is None
    assert await store.get_lease(USER) == taken
    assert await store.acquire_lease(USER, owner="worker-c", now=NOW + timedelta(seconds=63), ttl_seconds=60) is None


async def test_renewal_of_a_released_lease_finds_it_lost(store: StateStore) -> None:
    """Issue 9.6: a released lease cannot be brought back by a late heartbeat; the user stays free."""
    lease = await store.acquire_lease(USER, owner="worker-a", now=NOW, ttl_seconds=60)
    assert lease is not None
    await store.release_lease(lease)
    assert await store.renew_lease(lease, now=NOW + timedelta(seconds=1), ttl_seconds=60) is None
    assert await store.get_lease(USER) is None


async def test_expired_lease_nobody_took_over_is_still_renewed_by_its_holder(store: StateStore) -> None:
    """Issue 9.6: a heartbeat that came late finds the lease expired but untouched: still the holder's
    (no other worker can have started), so it is renewed rather than the run abandoned."""
    lease = await store.acquire_lease(USER, owner="worker-a", now=NOW, ttl_seconds=60)
    assert lease is not None
    renewed = await store.renew_lease(lease, now=NOW + timedelta(seconds=65), ttl_seconds=60)
    assert renewed is not None
    assert renewed.expires_at == NOW + timedelta(seconds=125)


async def test_concurrent_renewal_and_takeover_of_an_expired_lease_have_exactly_one_winner(
    store: StateStore, other_store: StateStore
) -> None:
    """Issue 9.6: a late heartbeat racing a takeover: the ETag lets exactly one of them through."""
    lease = await store.acquire_lease(USER, owner="late", now=NOW, ttl_seconds=60)
    assert lease is not None
    later = NOW + timedelta(seconds=90)
    renewed, taken = await asyncio.gather(
        store.renew_lease(lease, now=later, ttl_seconds=60),
        other_store.acquire_lease(USER, owner="worker-b", now=later, ttl_seconds=60),
    )
    assert (renewed is None) != (taken is None)


async def test_stored_lease_tells_when_a_busy_user_is_free_again(store: StateStore) -> None:
    """Issue 9.6: a busy user's work item waits until the holder's lease ends, so the end must be readable."""
    assert await store.get_lease(USER) is None
    lease = await store.acquire_lease(USER, owner="worker-a", now=NOW, ttl_seconds=60)
    assert lease is not None
    stored = await store.get_lease(USER)
    assert stored is not None
    assert (stored.owner, stored.expires_at, stored.etag) == ("worker-a", NOW + timedelta(seconds=60), lease.etag)
