"""Links and their event/activity/iCalUId index rows, on every state store (contract)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableServiceClient

from shared.core.attachments import AttachmentPair
from shared.core.items import Field, ItemKind, Side
from shared.core.links import Link, LinkState
from shared.errors import StateConflict
from shared.state.keys import make_key
from shared.state.port import StateStore
from shared.state.tables import TableStateStore
from tests.state.conftest import NOW

USER = "3f2c1a9e-5b7d-4c8e-9f10-1a2b3c4d5e6f"


def make_link(link_id: str = "L1", **changes: object) -> Link:
    values: dict[str, object] = {
        "user_id": USER,
        "link_id": link_id,
        "kind": ItemKind.MEETING,
        "origin": Side.M365,
        "event_id": f"AAMkAGI2/{link_id}+abc==",
        "ical_uid": f"040000008200E00074C5B7101A82E008{link_id}",
        "activity_id": f"ACT-{link_id}",
        "m365_fields": {Field.SUBJECT: "h-subject", Field.WHEN: "h-when"},
        "erp_fields": {Field.SUBJECT: "e-subject", Field.LOCATION: "e-location"},
        "m365_change_key": "DwAAABYAAAA",
        "erp_version": 7,
        "m365_modified_at": NOW,
        "erp_modified_at": NOW,
        "updated_at": NOW,
    }
    values.update(changes)
    return Link.model_validate(values)


async def stored_row_keys(connection_string: str, store: TableStateStore, user_id: str) -> set[str]:
    """Every RowKey in the user's partition of the links table, read past the store."""
    async with TableServiceClient.from_connection_string(connection_string) as service:
        table = service.get_table_client(store.table_names[0])
        rows = table.query_entities("PartitionKey eq @pk", parameters={"pk": make_key(user_id)})
        return {row["RowKey"] async for row in rows}


async def test_saved_link_reads_back_equal_with_its_new_etag(store: StateStore) -> None:
    """A link round-trips every field (fingerprints, enums, times, 64-bit version) and carries its ETag (R5)."""
    link = make_link(erp_version=2**40, state=LinkState.DETACHED)
    saved = await store.save_link(link)
    assert saved.etag
    assert saved == link.model_copy(update={"etag": saved.etag})
    assert await store.links_for_user(USER) == [saved]


async def test_a_links_synced_files_round_trip_and_can_all_go(store: StateStore) -> None:
    """R18: the pairs of files synced both ways are stored with the link, and a link whose files all went stores
    none (the replaced entity keeps no stale list)."""
    pair = AttachmentPair(
        event_attachment_id="AAMkAGI2=/att+1", activity_attachment_id="F-1", sha256="ab" * 32, name="q.pdf", size=9
    )
    saved = await store.save_link(make_link(attachments=(pair,)))
    assert (await store.links_for_user(USER))[0].attachments == (pair,)
    await store.save_link(saved.model_copy(update={"attachments": ()}))
    assert (await store.links_for_user(USER))[0].attachments == ()


async def test_link_is_found_by_event_and_activity(store: StateStore) -> None:
    """Each side's id leads to the link, so an incoming change finds what it was synced with (R5, R10)."""
    saved = await store.save_link(make_link())
    assert await store.link_by_event(USER, saved.event_id or "") == saved
    assert await store.link_by_activity(USER, saved.activity_id or "") == saved
    assert await store.link_by_event(USER, "unknown") is None
    assert await store.link_by_activity("another-user", saved.activity_id or "") is None


async def _as_stored_by_an_earlier_version(connection_string: str, store: TableStateStore, link: Link) -> None:
    """Make ``link``'s stored rows what versions before issue 12's last step wrote: an iCalUId index row too,
    and no ``ical_index`` mark on the link's entity."""
    async with TableServiceClient.from_connection_string(connection_string) as service:
        table = service.get_table_client(store.table_names[0])
        partition = make_key(link.user_id)
        entity = dict(await table.get_entity(partition, f"link|{link.link_id}"))
        del entity["ical_index"]
        await table.upsert_entity(entity, mode=UpdateMode.REPLACE)
        row = f"ical|{link.ical_uid}|{link.link_id}"
        await table.create_entity({"PartitionKey": partition, "RowKey": row, "link_id": link.link_id})


async def test_an_earlier_versions_ical_index_row_goes_when_its_link_is_saved_again(
    table_store: TableStateStore, azurite_connection_string: str, table_prefix: str
) -> None:
    """Issue 12: links keep no iCalUId index row any more (nothing read it); one an earlier version wrote is
    removed in the transaction that next saves its link, whether the store read the link or not."""
    saved = await table_store.save_link(make_link())
    await _as_stored_by_an_earlier_version(azurite_connection_string, table_store, saved)
    fresh = TableStateStore.from_connection_string(azurite_connection_string, prefix=table_prefix)
    try:
        read = (await fresh.links_for_user(USER))[0]
        await fresh.save_link(read.model_copy(update={"state": LinkState.RETIRED}))
    finally:
        await fresh.aclose()
    assert await stored_row_keys(azurite_connection_string, table_store, USER) == {
        "link|L1",
        "event|AAMkAGI2~2FL1+abc==",
        "activity|ACT-L1",
    }


async def test_an_earlier_versions_ical_index_row_goes_with_its_link(
    table_store: TableStateStore, azurite_connection_string: str
) -> None:
    """Issue 12: deleting a link an earlier version stored deletes its iCalUId index row too: no row is left."""
    saved = await table_store.save_link(make_link())
    await _as_stored_by_an_earlier_version(azurite_connection_string, table_store, saved)
    read = (await table_store.links_for_user(USER))[0]
    await table_store.delete_link(read)
    assert await stored_row_keys(azurite_connection_string, table_store, USER) == set()


async def test_changed_ids_move_the_index_rows(table_store: TableStateStore, azurite_connection_string: str) -> None:
    """Changing event id and dropping the activity re-points lookups in one save (R5)."""
    saved = await table_store.save_link(make_link())
    assert await stored_row_keys(azurite_connection_string, table_store, USER) == {
        "link|L1",
        "event|AAMkAGI2~2FL1+abc==",
        "activity|ACT-L1",
    }
    changed = saved.model_copy(update={"event_id": "AAMk/new==", "activity_id": None, "ical_uid": "uid-new"})
    resaved = await table_store.save_link(changed)
    assert await table_store.link_by_event(USER, saved.event_id or "") is None
    assert await table_store.link_by_activity(USER, saved.activity_id or "") is None
    assert await table_store.link_by_event(USER, "AAMk/new==") == resaved
    assert await table_store.links_for_user(USER) == [resaved]
    assert await stored_row_keys(azurite_connection_string, table_store, USER) == {
        "link|L1",
        "event|AAMk~2Fnew==",
    }


async def test_changed_ids_and_deletion_re_point_every_lookup(store: StateStore) -> None:
    """A save that changes ids is found only by the new ones; a deleted link by none, and its event is free (R5)."""
    saved = await store.save_link(make_link())
    resaved = await store.save_link(saved.model_copy(update={"event_id": "AAMk/new==", "activity_id": None}))
    assert await store.link_by_event(USER, saved.event_id or "") is None
    assert await store.link_by_activity(USER, saved.activity_id or "") is None
    assert await store.link_by_event(USER, "AAMk/new==") == resaved
    await store.delete_link(resaved)
    assert await store.links_for_user(USER) == []
    assert await store.link_by_event(USER, "AAMk/new==") is None
    await store.save_link(make_link("L9", event_id="AAMk/new=="))
    await store.delete_link(resaved)  # deleting twice is a no-op


async def test_stale_save_raises_conflict_and_keeps_the_winner(store: StateStore) -> None:
    """Saving a link read before another writer's save fails with StateConflict (optimistic concurrency)."""
    saved = await store.save_link(make_link())
    winner = await store.save_link(saved.model_copy(update={"erp_version": 8}))
    with pytest.raises(StateConflict):
        await store.save_link(saved.model_copy(update={"event_id": "AAMk/stale=="}))
    assert await store.link_by_event(USER, saved.event_id or "") == winner
    assert await store.link_by_event(USER, "AAMk/stale==") is None


@pytest.mark.parametrize(
    ("first", "second"),
    [({"erp_version": 8}, {"erp_version": 9}), ({"event_id": "AAMk/a=="}, {"event_id": "AAMk/b=="})],
    ids=["fields-only", "event-id"],
)
async def test_concurrent_saves_of_one_read_have_exactly_one_winner(
    store: StateStore, other_store: StateStore, first: dict[str, object], second: dict[str, object]
) -> None:
    """Two workers saving changes to the same read link at once: one wins, the other gets StateConflict (If-Match)."""
    saved = await store.save_link(make_link())
    results = await asyncio.gather(
        store.save_link(saved.model_copy(update=first)),
        other_store.save_link(saved.model_copy(update=second)),
        return_exceptions=True,
    )
    winners = [result for result in results if isinstance(result, Link)]
    assert len(winners) == 1
    assert sum(isinstance(result, StateConflict) for result in results) == 1
    assert await store.links_for_user(USER) == winners
    assert await store.link_by_event(USER, winners[0].event_id or "") == winners[0]


async def test_inserting_an_existing_link_raises_conflict(store: StateStore) -> None:
    """A second insert of the same link id (etag None) is a conflict, not an overwrite (R10)."""
    await store.save_link(make_link())
    with pytest.raises(StateConflict):
        await store.save_link(make_link(event_id="AAMk/other=="))


async def test_second_link_claiming_a_linked_event_is_refused_atomically(store: StateStore) -> None:
    """One event links to one record (R10): the claim fails and leaves no half-written link behind."""
    first = await store.save_link(make_link("L1"))
    with pytest.raises(StateConflict, match="event"):
        await store.save_link(make_link("L2", event_id=first.event_id))
    assert [link.link_id for link in await store.links_for_user(USER)] == ["L1"]
    assert await store.link_by_activity(USER, "ACT-L2") is None


async def test_deleted_link_leaves_no_index_rows(table_store: TableStateStore, azurite_connection_string: str) -> None:
    """Deleting a link removes its index rows too, so no lookup finds a ghost (R5)."""
    saved = await table_store.save_link(make_link())
    await table_store.delete_link(saved)
    assert await stored_row_keys(azurite_connection_string, table_store, USER) == set()
    assert await table_store.links_for_user(USER) == []
    assert await table_store.link_by_event(USER, saved.event_id or "") is None
    await table_store.save_link(make_link(link_id="L9", event_id=saved.event_id))  # the event is free again
    await table_store.delete_link(saved)  # deleting twice is a no-op


async def test_stale_delete_raises_conflict(store: StateStore) -> None:
    """A delete based on an outdated read fails rather than discard the newer state (If-Match)."""
    saved = await store.save_link(make_link())
    await store.save_link(saved.model_copy(update={"state": LinkState.RETIRED}))
    with pytest.raises(StateConflict):
        await store.delete_link(saved)
    assert len(await store.links_for_user(USER)) == 1


@pytest.mark.parametrize(
    ("user_id", "link_id", "event_id", "ical_uid"),
    [
        ("user/with#hash?and\\slash", "link/1", "AAMk/+=#?\\", "uid/#?\\"),
        ("Ünïcødé 会議 🎉", "l'ink %2F ~7E", "ev|ent|", "ical|uid"),
        ("ctrl\x01\x1f\x7f\x9f", "tab\tlink", "nl\nevent", "cr\ruid"),
    ],
)
async def test_hostile_ids_round_trip_through_the_store(
    store: StateStore, user_id: str, link_id: str, event_id: str, ical_uid: str
) -> None:
    """Ids with / \\ # ? control characters, quotes, | and unicode are stored and found again (Table key rules)."""
    link = make_link(link_id, user_id=user_id, event_id=event_id, ical_uid=ical_uid, activity_id=f"A/{link_id}")
    saved = await store.save_link(link)
    assert await store.link_by_event(user_id, event_id) == saved
    assert await store.link_by_activity(user_id, f"A/{link_id}") == saved
    assert await store.links_for_user(user_id) == [saved]
    await store.delete_link(saved)
    assert await store.links_for_user(user_id) == []


async def test_links_of_other_users_are_not_listed(store: StateStore) -> None:
    """A user's links are that user's only (R2: sync is per user)."""
    mine = await store.save_link(make_link())
    await store.save_link(make_link(user_id="someone-else"))
    assert await store.links_for_user(USER) == [mine]


async def test_active_links_leave_the_tombstones_on_the_server(store: StateStore) -> None:
    """Issue 12: a run reads only the active links, so its cost does not grow with retired and detached ones."""
    live = await store.save_link(make_link("live"))
    retired = await store.save_link(make_link("gone"))
    await store.save_link(retired.model_copy(update={"state": LinkState.RETIRED}))
    active = await store.links_for_user(USER, active_only=True)
    assert [link.link_id for link in active] == [live.link_id]
    assert {link.link_id for link in await store.links_for_user(USER)} == {"live", "gone"}


async def test_a_group_of_new_links_is_stored_together_and_each_is_found(store: StateStore) -> None:
    """Issue 12: the new links of a group of writes (60 links: more than one 100-operation transaction holds)
    are stored by ``insert_links``; each comes back with its ETag and is found by its event and activity."""
    links = [make_link(f"G{n:02d}") for n in range(60)]
    stored = await store.insert_links(links)
    assert all(link is not None and link.etag for link in stored)
    assert len(await store.links_for_user(USER)) == 60
    for link in links:
        found = await store.link_by_event(USER, link.event_id or "")
        assert found is not None
        assert found.link_id == link.link_id
        assert await store.link_by_activity(USER, link.activity_id or "") == found


async def test_a_new_link_whose_event_is_linked_already_is_left_to_its_caller(store: StateStore) -> None:
    """A link of the group whose event another link holds is not stored (None: the caller saves it alone and
    meets the conflict there); nothing of it half-stored, and the earlier link untouched (R10)."""
    earlier = await store.save_link(make_link("E1"))
    clash = make_link("E2", event_id=earlier.event_id)
    stored = await store.insert_links([make_link("E3"), clash])
    assert stored[1] is None
    assert await store.link_by_event(USER, earlier.event_id or "") == earlier
    assert await store.link_by_activity(USER, clash.activity_id or "") is None
    with pytest.raises(StateConflict):
        await store.save_link(clash)
    retried = [link for link in stored if link is not None] or [await store.save_link(make_link("E3"))]
    assert [link.link_id for link in retried] == ["E3"]


async def test_a_link_changed_by_another_worker_is_not_replaced_from_memory(
    store: StateStore, other_store: StateStore
) -> None:
    """The store remembers the index rows of links at the ETag it saw (issue 12: no read before a replace);
    another worker's change gives the link a new ETag, so a replace at the old one is still a conflict and
    the other worker's index rows stay (R5)."""
    saved = await store.save_link(make_link("M1"))
    theirs = await other_store.save_link(saved.evolve({"event_id": "moved-by-them"}))
    with pytest.raises(StateConflict):
        await store.save_link(saved.evolve({"event_id": "moved-by-us"}))
    assert await store.link_by_event(USER, "moved-by-them") == theirs
    assert await store.link_by_event(USER, "moved-by-us") is None


async def test_replacing_a_link_this_store_wrote_needs_no_read_first(
    table_store: TableStateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A link saved (or read) by this store is replaced in one request: its index rows at that ETag are known,
    and they still follow a changed event id (R5)."""
    saved = await table_store.save_link(make_link("M2"))
    reads: list[str] = []
    import shared.state.links as links_module

    real_get = links_module.rows.get

    async def counting_get(*args: object, **kwargs: object) -> object:
        reads.append("get")
        return await real_get(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(links_module.rows, "get", counting_get)
    moved = await table_store.save_link(saved.evolve({"event_id": "moved"}))
    assert reads == []
    monkeypatch.undo()
    assert await table_store.link_by_event(USER, "moved") == moved
    assert await table_store.link_by_event(USER, saved.event_id or "") is None


async def test_the_clean_up_job_deletes_an_earlier_versions_ical_index_row_with_its_stale_link(
    table_store: TableStateStore, azurite_connection_string: str
) -> None:
    """Issue 12: a retired link an earlier version stored goes with its iCalUId index row when the daily
    clean-up prunes it: nothing of it is left in the partition."""
    old = NOW - timedelta(days=40)
    saved = await table_store.save_link(make_link(state=LinkState.RETIRED, updated_at=old))
    await _as_stored_by_an_earlier_version(azurite_connection_string, table_store, saved)
    stale = await table_store.stale_links(before=NOW - timedelta(days=30), limit=10)
    assert await table_store.delete_links(stale) == 1
    assert await stored_row_keys(azurite_connection_string, table_store, USER) == set()
