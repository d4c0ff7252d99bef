"""One meeting, one activity, several users: each user's feed holds what they own or are registered to.

Alice (U1) owns, Bob (U2) is a registered user. Each test runs through HttpErp over the reference ERP
and through InProcessErp (the ``erp`` fixture); the last ones check the wire's ``userId``/``ownerId``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from emulators.erp.store import ErpStore
from shared.core.activities import (
    Activity,
    ActivityChange,
    ActivityFields,
    ActivityPatch,
    ActivityType,
    Participant,
    ParticipantKind,
    Response,
)
from shared.erp.port import ErpPort
from shared.errors import ErpInvalid

ALICE = Participant(email="alice@contoso.example", kind=ParticipantKind.USER, ref_id="U1", response=Response.ORGANIZER)
BOB = Participant(email="bob@contoso.example", kind=ParticipantKind.USER, ref_id="U2", response=Response.NONE)


def alice_meets_bob(**overrides: object) -> ActivityFields:
    base: dict[str, object] = {
        "type": ActivityType.MEETING,
        "subject": "Planning",
        "start": datetime(2026, 12, 3, 10, 0),
        "end": datetime(2026, 12, 3, 11, 0),
        "time_zone": "Europe/Oslo",
        "owner_id": "U1",
        "registered_user_ids": ("U2",),
        "participants": (ALICE, BOB),
    }
    return ActivityFields.model_validate({**base, **overrides})


async def changes(erp: ErpPort, user_id: str, cursor: str) -> tuple[dict[str, ActivityChange], str]:
    page = await erp.activity_changes(user_id=user_id, cursor=cursor)
    return {change.activity_id: change for change in page.items}, page.cursor


async def cursors(erp: ErpPort, *user_ids: str) -> dict[str, str]:
    """Each user's cursor after their snapshot: from here on only new changes show."""
    return {uid: (await erp.activity_changes(user_id=uid, cursor=None)).cursor for uid in user_ids}


async def test_registered_user_sees_the_owners_activity_in_his_feed(erp: ErpPort) -> None:
    """Bob, registered on Alice's meeting, finds it in his feed, named as Alice's; edits reach him too."""
    start = await cursors(erp, "U1", "U2")
    created = await erp.create_activity(alice_meets_bob(), idempotency_key="k-bob-sees")
    bob, bob_cursor = await changes(erp, "U2", start["U2"])
    alice, _ = await changes(erp, "U1", start["U1"])
    assert list(bob) == list(alice) == [created.id]
    assert bob[created.id].owner_id == "U1"
    assert bob[created.id].activity == created
    moved = await erp.update_activity(created.id, ActivityPatch(location="Fjord room"), version=created.version)
    again, _ = await changes(erp, "U2", bob_cursor)
    assert again[created.id].activity == moved


async def test_snapshot_holds_activities_the_user_is_registered_to(erp: ErpPort) -> None:
    """Without a cursor Bob's snapshot has his own activities and those he is registered to, not others (R4)."""
    registered = await erp.create_activity(alice_meets_bob(), idempotency_key="k-snap-reg")
    own = await erp.create_activity(alice_meets_bob(owner_id="U2", registered_user_ids=()), idempotency_key="k-own")
    await erp.create_activity(alice_meets_bob(registered_user_ids=(), participants=(ALICE,)), idempotency_key="k-not")
    snapshot = await erp.activity_changes(user_id="U2", cursor=None, ends_after=datetime(2026, 11, 1, tzinfo=UTC))
    owners = {change.activity_id: change.owner_id for change in snapshot.items}
    assert owners == {registered.id: "U1", own.id: "U2"}


async def test_user_participant_counts_as_registered(erp: ErpPort) -> None:
    """A participant of kind user naming Bob by refId puts the activity in Bob's feed, like registeredUserIds."""
    created = await erp.create_activity(alice_meets_bob(registered_user_ids=()), idempotency_key="k-participant")
    snapshot = await erp.activity_changes(user_id="U2", cursor=None)
    assert [change.activity_id for change in snapshot.items] == [created.id]


async def test_removed_user_is_told_once_then_no_more(erp: ErpPort) -> None:
    """Taking Bob off the meeting reports it to Bob once more, as it is now without him; later edits do not."""
    created = await erp.create_activity(alice_meets_bob(), idempotency_key="k-remove")
    start = await cursors(erp, "U2")
    removed = await erp.update_activity(
        created.id, ActivityPatch(registered_user_ids=(), participants=(ALICE,)), version=created.version
    )
    bob, bob_cursor = await changes(erp, "U2", start["U2"])
    assert list(bob) == [created.id]
    assert not bob[created.id].deleted
    assert bob[created.id].activity == removed
    assert bob[created.id].owner_id == "U1"
    await erp.update_activity(created.id, ActivityPatch(subject="Without Bob"), version=removed.version)
    after, _ = await changes(erp, "U2", bob_cursor)
    assert after == {}
    assert (await erp.activity_changes(user_id="U2", cursor=None)).items == ()


async def test_owner_change_moves_the_activity_to_the_new_owners_feed(erp: ErpPort) -> None:
    """Handing the meeting to Bob: his feed names him owner; Alice (not kept on it) is told once, then not."""
    created = await erp.create_activity(
        alice_meets_bob(registered_user_ids=(), participants=()), idempotency_key="k-handover"
    )
    start = await cursors(erp, "U1", "U2")
    handed = await erp.update_activity(created.id, ActivityPatch(owner_id="U2"), version=created.version)
    assert (handed.owner_id, handed.registered_user_ids) == ("U2", ())
    bob, _ = await changes(erp, "U2", start["U2"])
    alice, alice_cursor = await changes(erp, "U1", start["U1"])
    assert bob[created.id].owner_id == alice[created.id].owner_id == "U2"
    assert alice[created.id].activity == handed
    await erp.update_activity(created.id, ActivityPatch(subject="Bob's now"), version=handed.version)
    later, _ = await changes(erp, "U1", alice_cursor)
    assert later == {}
    snapshots = {uid: (await erp.activity_changes(user_id=uid, cursor=None)).items for uid in ("U1", "U2")}
    assert [change.activity_id for change in snapshots["U2"]] == [created.id]
    assert snapshots["U1"] == ()


async def test_owner_change_keeping_the_old_owner_registered_keeps_it_in_her_feed(erp: ErpPort) -> None:
    """When the handover also registers Alice, the meeting stays in her feed and later edits reach her."""
    created = await erp.create_activity(alice_meets_bob(), idempotency_key="k-handover-keep")
    patch = ActivityPatch(owner_id="U2", registered_user_ids=("U1",))
    handed = await erp.update_activity(created.id, patch, version=created.version)
    start = await cursors(erp, "U1")
    await erp.update_activity(created.id, ActivityPatch(location="Lab"), version=handed.version)
    alice, _ = await changes(erp, "U1", start["U1"])
    assert alice[created.id].owner_id == "U2"


async def test_owner_change_to_unknown_user_is_invalid(erp: ErpPort) -> None:
    """ownerId must name an existing user: 422 unknown-reference → ErpInvalid, and the owner stays."""
    created = await erp.create_activity(alice_meets_bob(), idempotency_key="k-handover-ghost")
    with pytest.raises(ErpInvalid) as caught:
        await erp.update_activity(created.id, ActivityPatch(owner_id="ghost"), version=created.version)
    assert str(caught.value.problem_type).endswith("/unknown-reference")
    assert (await erp.get_activity(created.id)).owner_id == "U1"


async def test_one_participants_response_set_through_the_whole_list(erp: ErpPort) -> None:
    """The sync sets Bob's response by sending every participant with Bob's row changed; both feeds see it."""
    created = await erp.create_activity(alice_meets_bob(), idempotency_key="k-response")
    start = await cursors(erp, "U1", "U2")
    accepted = BOB.model_copy(update={"response": Response.ACCEPTED})
    answered = await erp.update_activity(
        created.id, ActivityPatch(participants=(ALICE, accepted)), version=created.version
    )
    assert answered.participants == (ALICE, accepted)
    assert answered.registered_user_ids == ("U2",)
    for uid in ("U1", "U2"):
        seen, _ = await changes(erp, uid, start[uid])
        activity = seen[created.id].activity
        assert isinstance(activity, Activity)
        assert activity.participants[1].response is Response.ACCEPTED


async def test_deleted_activity_is_a_tombstone_for_everyone_on_it(erp: ErpPort, erp_store: ErpStore) -> None:
    """A person deleting Alice's meeting in the ERP: Alice and Bob both get a tombstone naming Alice."""
    created = await erp.create_activity(alice_meets_bob(), idempotency_key="k-delete-shared")
    start = await cursors(erp, "U1", "U2")
    erp_store.delete_activity(created.id, version=created.version)
    for uid in ("U1", "U2"):
        seen, _ = await changes(erp, uid, start[uid])
        assert (seen[created.id].deleted, seen[created.id].activity, seen[created.id].owner_id) == (True, None, "U1")


# --- the wire: userId and its deprecated alias ownerId ----------------------------------------------------


async def test_owner_id_is_a_deprecated_alias_of_user_id(raw: httpx.AsyncClient) -> None:
    """``ownerId`` answers what ``userId`` does (owned or registered); both disagreeing or neither is 400."""
    body = alice_meets_bob().model_dump(by_alias=True, mode="json")
    created = (await raw.post("/activities", json=body, headers={"Idempotency-Key": "k-alias"})).json()
    by_user = (await raw.get("/activity-changes", params={"userId": "U2"})).json()
    by_owner = (await raw.get("/activity-changes", params={"ownerId": "U2"})).json()
    assert [item["activityId"] for item in by_user["items"]] == [created["id"]]
    assert by_owner["items"] == by_user["items"]
    both = await raw.get("/activity-changes", params={"userId": "U2", "ownerId": "U2"})
    assert both.status_code == 200
    differ = await raw.get("/activity-changes", params={"userId": "U2", "ownerId": "U1"})
    neither = await raw.get("/activity-changes")
    assert (differ.status_code, neither.status_code) == (400, 400)
    assert differ.headers["content-type"] == "application/problem+json"
