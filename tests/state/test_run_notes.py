"""Changes noted for the run under way (issue 12, shared/state/run_notes.py), on every state store (contract)."""

from __future__ import annotations

from datetime import timedelta

from shared.state.port import StateStore
from tests.state.conftest import NOW

USER = "u-notes/1"


async def test_no_run_under_way_notes_nothing(store: StateStore) -> None:
    """Without a lease (or with an expired one) the hook must queue the sync itself: nothing is noted."""
    assert await store.note_during_run(USER, ["activity|1|A1"], now=NOW) is False
    lease = await store.acquire_lease(USER, owner="w1", now=NOW, ttl_seconds=60)
    assert lease is not None
    assert await store.note_during_run(USER, ["activity|1|A1"], now=NOW + timedelta(seconds=61)) is False


async def test_notes_of_a_run_are_read_once_after_it_released_its_lease(store: StateStore) -> None:
    """Notes written while the lease is held are all read back once (duplicates once) and then gone; another
    user's notes are not among them."""
    lease = await store.acquire_lease(USER, owner="w1", now=NOW, ttl_seconds=60)
    other = await store.acquire_lease("u-notes/2", owner="w1", now=NOW, ttl_seconds=60)
    assert lease is not None
    assert other is not None
    assert await store.note_during_run(USER, ["activity|1|A1", "activity|1|A1"], now=NOW) is True
    assert await store.note_during_run(USER, ["activity|3|A|2"], now=NOW) is True
    assert await store.note_during_run("u-notes/2", ["activity|1|B1"], now=NOW) is True
    await store.release_lease(lease)
    assert sorted(await store.take_run_notes(USER)) == ["activity|1|A1", "activity|3|A|2"]
    assert await store.take_run_notes(USER) == []
    assert await store.take_run_notes("u-notes/2") == ["activity|1|B1"]
    assert await store.note_during_run(USER, ["activity|2|A1"], now=NOW) is False  # released: queue instead
