"""Meetings across synced mailboxes, end to end on the real adapters (msgraph-sdk to the Graph emulator, HttpErp
to the reference ERP, state in Azurite): one meeting is one ERP activity, whoever's sync sees it first (R10),
and every synced person's answer reaches their participant row and back (R27)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from emulators.erp.seed import seed_store
from shared.state.port import StateStore
from tests.sync.conftest import Stack

ANN, BOB, CY = "ann@contoso.example", "bob@contoso.example", "cy@contoso.example"
EVE = "eve@fabrikam.example"  # a customer contact: no synced mailbox
pytestmark = pytest.mark.integration


def _when(days: int, hour: int) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)


async def _people(stack: Stack) -> None:
    await stack.add_person(user_id="U-ANN", mailbox=ANN, name="Ann")
    await stack.add_person(user_id="U-BOB", mailbox=BOB, name="Bob")
    await stack.add_person(user_id="U-CY", mailbox=CY, name="Cy")
    seed_store(
        stack.erp_app.state.store,
        {
            "companies": [{"id": "C-FAB", "name": "Fabrikam"}],
            "contacts": [{"id": "K-EVE", "name": "Eve", "email": EVE, "companyId": "C-FAB"}],
        },
    )


async def _meeting(stack: Stack, organizer: str, *invitees: str, subject: str = "Quote review") -> dict[str, Any]:
    start, end = _when(2, 9), _when(2, 10)
    body = {
        "subject": subject,
        "body": {"contentType": "text", "content": "Agenda"},
        "start": {"dateTime": start.replace(tzinfo=None).isoformat(), "timeZone": "UTC"},
        "end": {"dateTime": end.replace(tzinfo=None).isoformat(), "timeZone": "UTC"},
        "attendees": [{"type": "required", "emailAddress": {"address": a}} for a in invitees],
    }
    return dict((await stack.outlook("POST", f"/users/{organizer}/events", json=body)).json())


async def _copy(stack: Stack, mailbox: str, ical_uid: str) -> dict[str, Any]:
    response = await stack.outlook("GET", f"/users/{mailbox}/events", params={"$filter": f"iCalUId eq '{ical_uid}'"})
    (found,) = response.json()["value"]
    return dict(found)


async def _live_activities(stack: Stack, user_id: str) -> list[dict[str, Any]]:
    page = (await stack.erp_call("GET", "/activity-changes", params={"userId": user_id})).json()
    return [c["activity"] for c in page["items"] if c.get("activity") and c["activity"]["state"] != "voided"]


async def _all_live(stack: Stack) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for user in ("U-ANN", "U-BOB", "U-CY"):
        for activity in await _live_activities(stack, user):
            found[activity["id"]] = activity
    return found


def _answer(activity: dict[str, Any], user_id: str) -> str | None:
    rows = [p for p in activity.get("participants", []) if p.get("refId") == user_id]
    return rows[0]["response"] if rows else None


async def _erp_meeting(stack: Stack, **fields: Any) -> dict[str, Any]:
    start = _when(3, 13).replace(tzinfo=None)
    body = {
        "type": "meeting",
        "subject": "Site visit",
        "start": start.isoformat(),
        "end": (start + timedelta(hours=1)).isoformat(),
        "timeZone": "UTC",
        "ownerId": "U-ANN",
        "state": "confirmed",
        **fields,
    }
    response = await stack.erp_call("POST", "/activities", json=body, headers={"Idempotency-Key": "visit"})
    return dict(response.json())


async def _sync(stack: Stack, *users: str) -> None:
    for user in users:
        report = await stack.services.engine.sync_user(user)
        assert report.status == "ok", report


async def test_meeting_with_two_synced_colleagues_and_a_customer_is_one_activity(stack: Stack) -> None:
    """R10: Ann organises with Bob and Cy (synced) and Eve (a contact). Whichever sync runs first, the ERP holds
    one meeting owned by Ann, with Bob and Cy as registered users and Eve's contact linked."""
    await _people(stack)
    await _meeting(stack, ANN, BOB, CY, EVE)
    await _sync(stack, "U-BOB", "U-CY", "U-ANN", "U-BOB", "U-CY")
    live = list((await _all_live(stack)).values())
    assert len(live) == 1, live
    (activity,) = live
    assert activity["ownerId"] == "U-ANN"
    assert sorted(activity["registeredUserIds"]) == ["U-BOB", "U-CY"]
    assert activity["contactIds"] == ["K-EVE"]
    for user in ("U-BOB", "U-CY"):
        links = await stack.services.state.links_for_user(user)
        assert [(link.activity_id, link.role.value) for link in links] == [(activity["id"], "copy")]


async def test_attendee_answers_in_outlook_reach_their_participant_rows(stack: Stack) -> None:
    """R27: Bob accepts and Cy declines their copies; their participant rows say so, and the meeting stays
    confirmed (a declining attendee is not the owner)."""
    await _people(stack)
    organised = await _meeting(stack, ANN, BOB, CY)
    await _sync(stack, "U-ANN", "U-BOB", "U-CY")
    bob_copy = await _copy(stack, BOB, organised["iCalUId"])
    cy_copy = await _copy(stack, CY, organised["iCalUId"])
    await stack.outlook("POST", f"/users/{BOB}/events/{bob_copy['id']}/accept", json={"sendResponse": True})
    await stack.outlook("POST", f"/users/{CY}/events/{cy_copy['id']}/decline", json={"sendResponse": True})
    await _sync(stack, "U-BOB", "U-CY", "U-ANN")
    (activity,) = (await _all_live(stack)).values()
    assert activity["state"] == "confirmed"
    assert _answer(activity, "U-BOB") == "accepted"
    assert _answer(activity, "U-CY") == "declined"


async def test_erp_meeting_with_registered_users_reaches_outlook_once_and_answers_flow_back(stack: Stack) -> None:
    """R10/R27: an ERP meeting owned by Ann with Bob registered is created once, in Ann's mailbox; Bob's
    invitation copy is linked to it, not turned into a second activity; the answer set for Bob in the ERP is
    given on his copy."""
    await _people(stack)
    created = await _erp_meeting(
        stack,
        registeredUserIds=["U-BOB"],
        contactIds=["K-EVE"],
        participants=[
            {"email": BOB, "kind": "user", "refId": "U-BOB"},
            {"email": EVE, "kind": "contact", "refId": "K-EVE"},
        ],
    )
    await _sync(stack, "U-BOB", "U-ANN", "U-BOB")
    assert list(await _all_live(stack)) == [created["id"]]
    bob_links = await stack.services.state.links_for_user("U-BOB")
    assert [(link.activity_id, link.role.value) for link in bob_links] == [(created["id"], "copy")]
    current = (await stack.erp_call("GET", f"/activities/{created['id']}")).json()
    rows = [{**p, "response": "declined"} if p.get("refId") == "U-BOB" else p for p in current["participants"]]
    await stack.erp_call(
        "PATCH",
        f"/activities/{created['id']}",
        json={"participants": rows},
        headers={"If-Match": f'"{current["version"]}"'},
    )
    await _sync(stack, "U-BOB", "U-ANN")
    bob_copy = await _copy(stack, BOB, bob_links[0].ical_uid or "")
    assert bob_copy["responseStatus"]["response"] == "declined"
    assert list(await _all_live(stack)) == [created["id"]]


async def test_two_instances_seeing_an_external_organizers_meeting_at_once_create_one_activity(stack: Stack) -> None:
    """R10: a customer (not synced) invites Ann and Bob; both users' syncs run at the same moment on two
    instances: the claim lets exactly one create the activity and the other links its copy."""
    await _people(stack)
    added = await stack.graph.post(
        "/_emulator/users", json={"mail": EVE, "displayName": "Eve", "kind": "user", "hasMailbox": True}
    )
    assert added.status_code == 201, added.text
    await _meeting(stack, EVE, ANN, BOB)
    await asyncio.gather(stack.services.engine.sync_user("U-ANN"), stack.services.engine.sync_user("U-BOB"))
    await _sync(stack, "U-ANN", "U-BOB", "U-ANN", "U-BOB")
    live = list((await _all_live(stack)).values())
    assert len(live) == 1, live
    owner = live[0]["ownerId"]
    other = "U-BOB" if owner == "U-ANN" else "U-ANN"
    assert [link.role.value for link in await stack.services.state.links_for_user(other)] == ["copy"]


class _CrashOnce:
    """A state store whose next ``save_meeting`` fails, as a host dying between the ERP create and the claim."""

    def __init__(self, inner: StateStore) -> None:
        self.inner, self.armed = inner, True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def save_meeting(self, meeting: Any, *, read: Any = None) -> Any:
        if self.armed:
            self.armed = False
            raise RuntimeError("host crashed")
        return await self.inner.save_meeting(meeting, read=read)


async def test_crash_between_the_erp_create_and_the_claim_relinks_instead_of_duplicating(stack: Stack) -> None:
    """R10: the activity is created, then the host dies before the claim records it; the next runs of the
    organizer and the attendee end with one activity and both copies linked."""
    await _people(stack)
    await _meeting(stack, ANN, BOB, EVE)
    engine = stack.services.engine
    crashing = _CrashOnce(stack.services.state)
    ports = engine._ports
    engine._ports = type(ports)(
        calendar=ports.calendar,
        erp=ports.erp,
        state=crashing,
        policy=ports.policy,
        clock=ports.clock,  # type: ignore[arg-type]
    )
    with pytest.raises(RuntimeError):
        await engine.sync_user("U-ANN")
    engine._ports = ports
    await _sync(stack, "U-ANN", "U-BOB", "U-ANN")
    assert len(await _all_live(stack)) == 1
    assert [link.role.value for link in await stack.services.state.links_for_user("U-ANN")] == ["owner"]
    assert [link.role.value for link in await stack.services.state.links_for_user("U-BOB")] == ["copy"]


class _CrashOnceAt:
    """A state store whose next call of ``method`` fails, as a host dying right before that write."""

    def __init__(self, inner: StateStore, method: str) -> None:
        self.inner, self.method, self.armed = inner, method, True

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.inner, name)
        if name != self.method or not self.armed:
            return attribute

        async def crash(*args: Any, **kwargs: Any) -> Any:
            self.armed = False
            raise RuntimeError("host crashed")

        return crash


async def _sync_crashing_at(stack: Stack, user_id: str, method: str) -> None:
    engine = stack.services.engine
    ports = engine._ports
    engine._ports = type(ports)(
        calendar=ports.calendar,
        erp=ports.erp,
        state=_CrashOnceAt(stack.services.state, method),
        policy=ports.policy,
        clock=ports.clock,  # type: ignore[arg-type]
    )
    try:
        with pytest.raises(RuntimeError):
            await engine.sync_user(user_id)
    finally:
        engine._ports = ports


async def test_ann_invites_bob_to_a_meeting_she_made_with_a_customer_and_his_copy_joins_its_one_activity(
    stack: Stack,
) -> None:
    """R10: a meeting Ann made with nobody but a customer contact (Eve) invited is linked without a claim (no
    other synced mailbox can hold it). When she invites Bob, her run claims it before it writes Bob to the
    activity; Bob's copy, seen first by his own run (which waits for the organizer's), is then linked to that
    one activity."""
    await _people(stack)
    made = await _meeting(stack, ANN, EVE)
    await _sync(stack, "U-ANN")
    (solo,) = await stack.services.state.links_for_user("U-ANN")
    assert not solo.claimed
    assert await stack.services.state.get_meeting(made["iCalUId"]) is None
    await stack.outlook(
        "PATCH",
        f"/users/{ANN}/events/{made['id']}",
        json={"attendees": [{"type": "required", "emailAddress": {"address": a}} for a in (EVE, BOB)]},
    )
    await _sync(stack, "U-BOB", "U-ANN", "U-BOB")
    (activity,) = (await _all_live(stack)).values()
    assert (activity["id"], activity["ownerId"]) == (solo.activity_id, "U-ANN")
    assert activity["registeredUserIds"] == ["U-BOB"]
    claim = await stack.services.state.get_meeting(made["iCalUId"])
    assert claim is not None
    assert (claim.owner_user_id, claim.activity_id) == ("U-ANN", solo.activity_id)
    assert [(link.activity_id, link.role.value) for link in await stack.services.state.links_for_user("U-BOB")] == [
        (solo.activity_id, "copy")
    ]
    assert [link.claimed for link in await stack.services.state.links_for_user("U-ANN")] == [True]


async def test_bob_registered_in_the_erp_on_a_customer_meeting_is_invited_to_its_one_event(stack: Stack) -> None:
    """R10: an ERP meeting of Ann's with only a customer contact in it becomes her event, unclaimed. Bob
    registered on it later: Ann's run claims the meeting, then invites Bob; his invitation is linked as a copy,
    nothing is made twice."""
    await _people(stack)
    eve = {"email": EVE, "kind": "contact", "refId": "K-EVE"}
    created = await _erp_meeting(stack, contactIds=["K-EVE"], participants=[eve])
    await _sync(stack, "U-ANN")
    (solo,) = await stack.services.state.links_for_user("U-ANN")
    assert not solo.claimed
    assert solo.ical_uid
    current = (await stack.erp_call("GET", f"/activities/{created['id']}")).json()
    await stack.erp_call(
        "PATCH",
        f"/activities/{created['id']}",
        json={"registeredUserIds": ["U-BOB"], "participants": [eve, {"email": BOB, "kind": "user", "refId": "U-BOB"}]},
        headers={"If-Match": f'"{current["version"]}"'},
    )
    await _sync(stack, "U-BOB", "U-ANN", "U-BOB")
    assert list(await _all_live(stack)) == [created["id"]]
    claim = await stack.services.state.get_meeting(solo.ical_uid)
    assert claim is not None
    assert (claim.owner_user_id, claim.activity_id) == ("U-ANN", created["id"])
    bob_links = await stack.services.state.links_for_user("U-BOB")
    assert [(link.activity_id, link.role.value) for link in bob_links] == [(created["id"], "copy")]
    assert len((await stack.outlook("GET", f"/users/{ANN}/events")).json()["value"]) == 1


async def test_a_crash_before_the_link_of_a_meeting_made_alone_in_outlook_makes_no_second_activity(
    stack: Stack,
) -> None:
    """R10: no claim records the activity of a meeting nobody else holds; the ERP create's idempotency key does:
    the host dies after the create, before the link, and the next run finds the same activity."""
    await _people(stack)
    await _meeting(stack, ANN)
    await _sync_crashing_at(stack, "U-ANN", "save_link")
    await _sync(stack, "U-ANN", "U-ANN")
    assert len(await _all_live(stack)) == 1
    assert len(await stack.services.state.links_for_user("U-ANN")) == 1


async def test_a_crash_before_the_link_of_an_erp_meeting_made_alone_makes_no_second_event(stack: Stack) -> None:
    """R10: Graph's ``transactionId`` (the same on a retried create) returns the event the host made before it
    died, instead of a second one; the next run links it."""
    await _people(stack)
    created = await _erp_meeting(stack)
    await _sync_crashing_at(stack, "U-ANN", "save_link")
    await _sync(stack, "U-ANN", "U-ANN")
    events = (await stack.outlook("GET", f"/users/{ANN}/events")).json()["value"]
    assert len(events) == 1
    assert [link.activity_id for link in await stack.services.state.links_for_user("U-ANN")] == [created["id"]]
