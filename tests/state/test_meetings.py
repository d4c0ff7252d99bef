"""Tenant-wide meeting claims and link roles (R10: one meeting in several synced mailboxes is one ERP activity).

Contract tests run on both stores; the raw-row tests (old link rows, long iCalUIds, crash leftovers)
on Azurite only.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from azure.data.tables.aio import TableServiceClient

from shared.core.items import ItemKind, Side
from shared.core.links import Link
from shared.core.meetings import LinkRole, Meeting
from shared.errors import StateConflict
from shared.state.entities import link_entity
from shared.state.meetings import activity_index_entity, meeting_keys
from shared.state.port import StateStore
from shared.state.tables import TableStateStore
from tests.state.conftest import NOW

# An Outlook iCalUId, and one from another system with characters Table keys forbid.
UID = "040000008200E00074C5B7101A82E00800000000D0A1B2C3D4E5F601000000000000000010000000ABCDEF0123456789"
ODD_UID = "meeting/2026#kick-off?from=crm\\contoso|ünïcødé"


def meeting(ical_uid: str = UID, **changes: object) -> Meeting:
    values: dict[str, object] = {
        "ical_uid": ical_uid,
        "owner_user_id": "u-adele",
        "owner_mailbox": "adele.vance@contoso.example",
        "updated_at": NOW,
    }
    values.update(changes)
    return Meeting.model_validate(values)


async def test_a_meeting_is_claimed_once_even_from_another_worker(store: StateStore, other_store: StateStore) -> None:
    """R10: the first mailbox to see a meeting claims it; every later claim, from any worker, gets None."""
    claimed = await store.claim_meeting(meeting())
    assert claimed is not None
    assert claimed.etag
    assert await store.claim_meeting(meeting(owner_user_id="u-bob", owner_mailbox="bob@contoso.example")) is None
    assert await other_store.claim_meeting(meeting(owner_user_id="u-bob", owner_mailbox="bob@contoso.example")) is None
    assert await other_store.get_meeting(UID) == claimed
    assert await store.get_meeting("never-claimed") is None


async def test_concurrent_claims_from_two_workers_have_exactly_one_winner(
    store: StateStore, other_store: StateStore
) -> None:
    """R10: two mailboxes syncing the same meeting at once: exactly one claim wins, so one activity is created."""
    contenders = [
        (store, "u-adele"),
        (other_store, "u-bob"),
        (store, "u-chris"),
        (other_store, "u-dana"),
    ]
    results = await asyncio.gather(
        *(
            worker.claim_meeting(meeting(owner_user_id=user, owner_mailbox=f"{user}@contoso.example"))
            for worker, user in contenders
        )
    )
    winners = [result for result in results if result is not None]
    assert len(winners) == 1
    assert await store.get_meeting(UID) == winners[0]


async def test_saving_a_claim_with_a_stale_etag_raises_conflict(store: StateStore) -> None:
    """R10: a claim changed by another worker since it was read is not overwritten (If-Match)."""
    claimed = await store.claim_meeting(meeting())
    assert claimed is not None
    winner = await store.save_meeting(claimed.model_copy(update={"activity_id": "ACT-1"}))
    assert winner.etag != claimed.etag
    with pytest.raises(StateConflict):
        await store.save_meeting(claimed.model_copy(update={"activity_id": "ACT-2"}))
    assert await store.get_meeting(UID) == winner
    assert await store.meeting_by_activity("ACT-2") is None


async def test_saved_activity_id_finds_the_meeting(store: StateStore, other_store: StateStore) -> None:
    """R10: once the owner created the activity, an ERP change to it leads back to the meeting's claim."""
    claimed = await store.claim_meeting(meeting(ODD_UID))
    assert claimed is not None
    assert claimed.activity_id is None
    assert await store.meeting_by_activity("ACT/1") is None
    saved = await store.save_meeting(claimed.model_copy(update={"activity_id": "ACT/1", "updated_at": NOW}))
    assert await store.meeting_by_activity("ACT/1") == saved
    assert await other_store.meeting_by_activity("ACT/1") == saved
    assert await store.get_meeting(ODD_UID) == saved


async def test_moving_the_activity_id_moves_the_index(store: StateStore) -> None:
    """R10: the claim re-pointed at another activity is found by the new id only; the old id is free again."""
    claimed = await store.claim_meeting(meeting(activity_id="ACT-old"))
    assert claimed is not None
    assert await store.meeting_by_activity("ACT-old") == claimed
    moved = await store.save_meeting(claimed.model_copy(update={"activity_id": "ACT-new"}))
    assert await store.meeting_by_activity("ACT-new") == moved
    assert await store.meeting_by_activity("ACT-old") is None
    other = await store.claim_meeting(meeting("uid-2", activity_id="ACT-old"))
    assert other is not None
    assert await store.meeting_by_activity("ACT-old") == other


async def test_an_activity_carried_by_one_meeting_cannot_be_given_to_another(store: StateStore) -> None:
    """R10: one activity is one meeting; pointing a second meeting at it is a StateConflict, the first keeps it."""
    first = await store.claim_meeting(meeting(activity_id="ACT-1"))
    second = await store.claim_meeting(meeting("uid-2"))
    assert first is not None
    assert second is not None
    with pytest.raises(StateConflict, match="ACT-1"):
        await store.save_meeting(second.model_copy(update={"activity_id": "ACT-1"}))
    assert await store.meeting_by_activity("ACT-1") == first
    assert await store.get_meeting("uid-2") == second


async def test_deleted_meeting_is_gone_with_its_index(store: StateStore) -> None:
    """R10: a meeting cancelled everywhere loses its claim; its uid and activity can be claimed afresh."""
    claimed = await store.claim_meeting(meeting(activity_id="ACT-1"))
    assert claimed is not None
    changed = await store.save_meeting(claimed.model_copy(update={"updated_at": NOW + timedelta(minutes=1)}))
    with pytest.raises(StateConflict):
        await store.delete_meeting(claimed)  # read before the last save
    await store.delete_meeting(changed)
    assert await store.get_meeting(UID) is None
    assert await store.meeting_by_activity("ACT-1") is None
    await store.delete_meeting(changed)  # deleting twice is a no-op
    assert await store.claim_meeting(meeting(owner_user_id="u-bob", activity_id="ACT-1")) is not None


async def test_link_role_and_response_round_trip(store: StateStore) -> None:
    """R10/R27: a copy's link keeps its role and the person's last synced response; owners default to OWNER."""
    copy = Link(
        user_id="u-bob",
        link_id="L1",
        kind=ItemKind.MEETING,
        origin=Side.M365,
        role=LinkRole.COPY,
        event_id="AAMk/bob==",
        ical_uid=UID,
        activity_id="ACT-1",
        response="tentativelyAccepted",
        updated_at=NOW,
    )
    saved = await store.save_link(copy)
    assert await store.link_by_event("u-bob", "AAMk/bob==") == saved
    assert saved.role is LinkRole.COPY
    assert saved.response == "tentativelyAccepted"
    owner = await store.save_link(Link(user_id="u-adele", link_id="L2", kind=ItemKind.MEETING, origin=Side.ERP))
    [read] = await store.links_for_user("u-adele")
    assert read == owner
    assert read.role is LinkRole.OWNER
    assert read.response is None


# --- Table Storage rows (Azurite only) -------------------------------------------------------------


async def test_old_link_row_without_role_reads_as_owner(
    table_store: TableStateStore, azurite_connection_string: str
) -> None:
    """R10: links stored before copies existed have no role or response property; they read as OWNER / None."""
    link = Link(user_id="u-old", link_id="L1", kind=ItemKind.MEETING, origin=Side.M365, event_id="AAMk/old==")
    row = link_entity(link)
    del row["role"]
    assert "response" not in row
    async with TableServiceClient.from_connection_string(azurite_connection_string) as service:
        await service.get_table_client(table_store.table_names[0]).create_entity(row)
    [read] = await table_store.links_for_user("u-old")
    assert read.role is LinkRole.OWNER
    assert read.response is None
    assert read == link.model_copy(update={"etag": read.etag})


async def test_meetings_table_is_created_and_claims_spread_over_buckets(table_store: TableStateStore) -> None:
    """R10: the claims live in <prefix>Meetings, partitioned by a two-hex-digit hash bucket of the iCalUId."""
    assert table_store.table_names[-1].endswith("Meetings")
    partitions = {meeting_keys(f"uid-{index}")[0] for index in range(64)}
    assert len(partitions) > 32
    assert all(partition.startswith("meeting-") and len(partition) == len("meeting-00") for partition in partitions)


async def test_an_icaluid_too_long_for_a_key_is_claimed_by_its_hash(table_store: TableStateStore) -> None:
    """R10: an iCalUId over the 1 KiB key limit (other systems make up long ones) is still claimed once."""
    long_uid = "x/" * 400  # 1 600 UTF-16 units once '/' is escaped
    assert meeting_keys(long_uid)[1].startswith("sha256|")
    claimed = await table_store.claim_meeting(meeting(long_uid, activity_id="ACT-long"))
    assert claimed is not None
    assert await table_store.claim_meeting(meeting(long_uid)) is None
    assert await table_store.get_meeting(long_uid) == claimed
    assert await table_store.meeting_by_activity("ACT-long") == claimed


async def test_an_index_row_left_by_a_crash_is_not_believed(
    table_store: TableStateStore, azurite_connection_string: str
) -> None:
    """R10: a crash after the index write but before the meeting write leaves a row no lookup trusts or keeps."""
    claimed = await table_store.claim_meeting(meeting())
    assert claimed is not None
    async with TableServiceClient.from_connection_string(azurite_connection_string) as service:
        table = service.get_table_client(table_store.table_names[-1])
        await table.create_entity(activity_index_entity("ACT-1", UID))  # the meeting never got ACT-1
    assert await table_store.meeting_by_activity("ACT-1") is None
    other = await table_store.claim_meeting(meeting("uid-2", activity_id="ACT-1"))
    assert other is not None
    assert await table_store.meeting_by_activity("ACT-1") == other
