"""The notes of events made before their links (R10, R8; ``shared/state/events_made.py``), on both stores."""

from __future__ import annotations

from shared.state.port import StateStore

USER = "U-ANN"


async def test_a_note_of_events_made_is_read_back_until_it_is_forgotten(store: StateStore) -> None:
    """R10: a run's note survives the run (a crash), names each activity's event, and goes when forgotten."""
    first = await store.note_events_made(USER, {"ACT-1": "AAMk/1==", "ACT-2": "AAMk/2=="})
    second = await store.note_events_made(USER, {"ACT-3": "AAMk/3=="})
    assert await store.events_made(USER) == {
        first: {"ACT-1": "AAMk/1==", "ACT-2": "AAMk/2=="},
        second: {"ACT-3": "AAMk/3=="},
    }
    assert await store.events_made("U-BOB") == {}
    await store.forget_events_made(USER, [first])
    assert await store.events_made(USER) == {second: {"ACT-3": "AAMk/3=="}}


async def test_forgetting_a_note_twice_or_one_another_run_forgot_is_no_error(
    store: StateStore, other_store: StateStore
) -> None:
    """Two runs may forget the same note (one read it after the other wrote it): the second changes nothing."""
    note = await store.note_events_made(USER, {"ACT-1": "AAMk/1=="})
    kept = await store.note_events_made(USER, {"ACT-2": "AAMk/2=="})
    await other_store.forget_events_made(USER, [note])
    await store.forget_events_made(USER, [note, kept])
    await store.forget_events_made(USER, [note])
    assert await store.events_made(USER) == {}


async def test_notes_are_not_links(store: StateStore) -> None:
    """A note lives beside the user's links without being read as one."""
    await store.note_events_made(USER, {"ACT-1": "AAMk/1=="})
    assert await store.links_for_user(USER) == []
