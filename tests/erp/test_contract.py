"""The ERP port against the reference ERP: every operation, through HttpErp over real loopback HTTP and
through the in-process fake InProcessErp (the ``erp`` fixture runs each test on both), so the fake
keeps HttpErp's behaviour. Tests about HTTP itself (the wire, retries, Retry-After, auth) use
``http_erp`` and ``raw``, HttpErp only."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import httpx
import pytest
import stamina

from emulators.erp.problems import Problem
from emulators.erp.store import ErpStore, LeaveRequestFields, LeaveRequestPatch
from emulators.fakes import erp as in_process
from shared.core.activities import (
    AccessLevel,
    ActivityFields,
    ActivityPatch,
    ActivityState,
    ActivityType,
    LeaveStatus,
    Origin,
    Participant,
    ParticipantKind,
    Recurrence,
    Response,
    ShowAs,
)
from shared.erp import http_client, http_wire
from shared.erp.http_client import HttpErp
from shared.erp.port import ErpPort
from shared.errors import ErpConflict, ErpError, ErpInvalid, ErpNotFound, ErpReadOnly, ErpTransient
from tests.erp.conftest import API_KEY, RunningErp, free_port


def meeting(**overrides: object) -> ActivityFields:
    base: dict[str, object] = {
        "type": ActivityType.MEETING,
        "subject": "Quarterly review",
        "start": datetime(2026, 12, 3, 10, 0),
        "end": datetime(2026, 12, 3, 11, 0),
        "time_zone": "Europe/Oslo",
        "owner_id": "U1",
    }
    return ActivityFields.model_validate({**base, **overrides})


# --- reference data ----------------------------------------------------------------------------------------


async def test_list_users_enabled_only_leaves_out_disabled_users(erp: ErpPort) -> None:
    """Only users switched on for sync are listed by default; all with enabled_only=False (R2)."""
    enabled = await erp.list_users()
    everyone = await erp.list_users(enabled_only=False)
    assert [user.id for user in enabled] == ["U1", "U2"]
    assert [user.id for user in everyone] == ["U1", "U2", "U3"]
    alice = enabled[0]
    assert (alice.email, alice.default_company_id, alice.default_location_id) == ("alice@contoso.example", "C1", "L1")


async def test_get_user_returns_the_user_and_unknown_user_is_not_found(erp: ErpPort) -> None:
    """GET /users/{id} answers the user, or 404 → ErpNotFound (R2 needs the user's defaults)."""
    assert (await erp.get_user("U2")).display_name == "Bob"
    with pytest.raises(ErpNotFound):
        await erp.get_user("nobody")


async def test_find_contacts_matches_addresses_case_insensitively(erp: ErpPort) -> None:
    """Attendee addresses find ERP contacts whatever their case (R15); unknown addresses find nothing."""
    found = await erp.find_contacts(["frida@fabrikam.EXAMPLE", "stranger@else.example", "NILS@northwind.example"])
    assert sorted(contact.id for contact in found) == ["P1", "P2"]
    assert await erp.find_contacts([]) == []


async def test_find_companies_by_email(erp: ErpPort) -> None:
    """Companies are found by their email address (R15, R23)."""
    found = await erp.find_companies(["Office@Fabrikam.example"])
    assert [(company.id, company.name) for company in found] == [("C1", "Fabrikam")]


async def test_get_company_returns_the_company_by_id(erp: ErpPort) -> None:
    """GET /companies/{id} answers the company whose name a meeting's title carries (R21)."""
    company = await erp.get_company("C2")
    assert (company.id, company.name, company.email) == ("C2", "Northwind", "hello@northwind.example")


async def test_get_unknown_company_is_not_found(erp: ErpPort) -> None:
    """An unknown company id answers 404 problem details → ErpNotFound (R21 then titles without a company)."""
    with pytest.raises(ErpNotFound) as caught:
        await erp.get_company("C-NOBODY")
    assert caught.value.status == 404
    assert str(caught.value.problem_type).endswith("/not-found")


@pytest.mark.parametrize("company_id", ["C1?email=office@fabrikam.example", "C1#top", "C1/.."])
async def test_company_id_is_sent_as_one_path_segment(erp: ErpPort, company_id: str) -> None:
    """An id holding '?', '#' or '/' is escaped into one path segment (RFC 3986 §3.3), never read as company C1."""
    with pytest.raises(ErpNotFound):
        await erp.get_company(company_id)


async def test_get_company_needs_the_api_key(erp_server: RunningErp) -> None:
    """GET /companies/{id} is behind the same Bearer key as the rest of the API (RFC 6750 §3)."""
    async with httpx.AsyncClient(base_url=erp_server.base_url) as client:
        answer = await client.get("/companies/C1")
    assert answer.status_code == 401
    assert "Fabrikam" not in answer.text


async def test_list_facilities_carries_room_mailbox_and_no_time_rule(erp: ErpPort) -> None:
    """Facilities come with their room mailbox (R16) and whether no-specified-time items are allowed (R13)."""
    facilities = {facility.id: facility for facility in await erp.list_facilities()}
    assert facilities["F-ROOM"].room_mailbox == "fjord@contoso.example"
    assert facilities["F-ROOM"].allows_no_specified_time is True
    assert facilities["F-LAB"].allows_no_specified_time is False


async def test_ensure_activity_type_creates_missing_meeting_type_once(erp: ErpPort, erp_store: ErpStore) -> None:
    """A missing "Meeting" type is created, and asking again reuses it instead of creating another (R23)."""
    first = await erp.ensure_activity_type(ActivityType.MEETING)
    second = await erp.ensure_activity_type(ActivityType.MEETING)
    task = await erp.ensure_activity_type(ActivityType.TASK)
    assert first == second
    assert first.kind is ActivityType.MEETING
    assert task.code == "TASK"
    kinds = [item.kind for item in erp_store.list_activity_types()]
    assert kinds.count(ActivityType.MEETING) == 1


# --- activities --------------------------------------------------------------------------------------------


async def test_create_then_get_keeps_every_field(erp: ErpPort) -> None:
    """Every contract field survives a create and a read (R12, R17, R27, R28), with a link to the record (R19)."""
    fields = meeting(
        description="Agenda",
        show_as=ShowAs.TENTATIVE,
        access_level=AccessLevel.SHOW_AS_BUSY,
        location="Fjord room",
        facility_ids=("F-ROOM",),
        registered_user_ids=("U2",),
        contact_ids=("P1",),
        company_id="C1",
        participants=(
            Participant(
                email="alice@contoso.example", kind=ParticipantKind.USER, ref_id="U1", response=Response.ORGANIZER
            ),
            Participant(
                email="frida@fabrikam.example",
                name="Frida",
                kind=ParticipantKind.CONTACT,
                ref_id="P1",
                response=Response.TENTATIVE,
                required=False,
            ),
        ),
        categories=("Customer", "Blue"),
        recurrence=Recurrence(
            pattern={"type": "weekly", "interval": 1, "daysOfWeek": ["thursday"]},
            range={"type": "endDate", "startDate": "2026-12-03", "endDate": "2027-03-25"},
        ),
        origin=Origin(mailbox="alice@contoso.example", event_id="AAMk1", ical_uid="040000"),
    )
    created = await erp.create_activity(fields, idempotency_key="k-roundtrip")
    fetched = await erp.get_activity(created.id)
    assert fetched == created
    assert created.version == 1
    assert created.state is ActivityState.CONFIRMED
    assert ActivityFields.model_validate(created.model_dump()) == fields
    assert created.web_url is not None
    assert created.id in created.web_url


async def test_get_unknown_activity_is_not_found(erp: ErpPort) -> None:
    """A missing activity answers 404 → ErpNotFound."""
    with pytest.raises(ErpNotFound) as caught:
        await erp.get_activity("does-not-exist")
    assert caught.value.status == 404


async def test_create_retried_with_same_key_returns_first_activity(erp: ErpPort) -> None:
    """A retried create with the same Idempotency-Key returns the first activity, never a second copy (R10)."""
    first = await erp.create_activity(meeting(), idempotency_key="event-42")
    again = await erp.create_activity(meeting(), idempotency_key="event-42")
    assert again.id == first.id
    feed = await erp.activity_changes(user_id="U1", cursor=None)
    assert [change.activity_id for change in feed.items] == [first.id]


async def test_same_idempotency_key_with_other_body_is_refused(erp: ErpPort) -> None:
    """Reusing a key for a different activity is a client bug: 422 idempotency-key-reused → ErpInvalid (R10)."""
    await erp.create_activity(meeting(), idempotency_key="event-43")
    with pytest.raises(ErpInvalid) as caught:
        await erp.create_activity(meeting(subject="Something else"), idempotency_key="event-43")
    assert caught.value.problem_type is not None
    assert caught.value.problem_type.endswith("/idempotency-key-reused")


async def test_create_with_unknown_owner_is_invalid(erp: ErpPort) -> None:
    """References to records the ERP does not have are refused with 422 → ErpInvalid."""
    with pytest.raises(ErpInvalid) as caught:
        await erp.create_activity(meeting(owner_id="ghost", contact_ids=("P404",)), idempotency_key="k-ghost")
    assert caught.value.problem_type is not None
    assert caught.value.problem_type.endswith("/unknown-reference")


async def test_update_with_current_version_applies_only_the_given_fields(erp: ErpPort) -> None:
    """A patch at the current version changes just its fields and bumps the version (optimistic concurrency)."""
    created = await erp.create_activity(meeting(location="Old room", categories=("A",)), idempotency_key="k-upd")
    patch = ActivityPatch(start=datetime(2026, 12, 3, 12, 0), end=datetime(2026, 12, 3, 13, 30), company_id=None)
    updated = await erp.update_activity(created.id, patch, version=created.version)
    assert updated.version == created.version + 1
    assert (updated.start, updated.end) == (datetime(2026, 12, 3, 12, 0), datetime(2026, 12, 3, 13, 30))
    assert (updated.location, updated.categories, updated.subject) == ("Old room", ("A",), "Quarterly review")
    assert updated.modified_at >= created.modified_at


async def test_update_with_stale_version_is_a_conflict(erp: ErpPort) -> None:
    """A write based on an old version is refused with 412 → ErpConflict, and nothing changes."""
    created = await erp.create_activity(meeting(), idempotency_key="k-stale")
    await erp.update_activity(created.id, ActivityPatch(subject="Moved"), version=created.version)
    with pytest.raises(ErpConflict) as caught:
        await erp.update_activity(created.id, ActivityPatch(subject="Lost update"), version=created.version)
    assert caught.value.status == 412
    assert (await erp.get_activity(created.id)).subject == "Moved"


@pytest.mark.parametrize("action", ["release", "close"])
async def test_update_of_released_or_closed_activity_is_read_only(
    erp: ErpPort, erp_store: ErpStore, action: str
) -> None:
    """A released or closed activity refuses changes with 409 read-only → ErpReadOnly, left as it is (R7)."""
    created = await erp.create_activity(meeting(), idempotency_key=f"k-ro-{action}")
    erp_store.transition_activity(created.id, action, version=created.version)  # a person in the ERP
    locked = await erp.get_activity(created.id)
    assert locked.read_only
    with pytest.raises(ErpReadOnly) as caught:
        await erp.update_activity(created.id, ActivityPatch(subject="Changed in Outlook"), version=locked.version)
    assert caught.value.status == 409
    assert await erp.get_activity(created.id) == locked


async def test_void_makes_the_activity_voided_and_read_only(erp: ErpPort) -> None:
    """Voiding (what an Outlook delete does to a meeting) keeps the record, voided and read-only (R8)."""
    created = await erp.create_activity(meeting(), idempotency_key="k-void")
    voided = await erp.void_activity(created.id, version=created.version)
    assert voided.state is ActivityState.VOIDED
    assert (await erp.get_activity(created.id)).state is ActivityState.VOIDED
    with pytest.raises(ErpReadOnly):
        await erp.update_activity(created.id, ActivityPatch(subject="x"), version=voided.version)


async def test_void_repeated_after_it_went_through_returns_the_voided_activity(erp: ErpPort) -> None:
    """A retried void whose first call succeeded reports success, not a conflict (R10: retries are safe)."""
    created = await erp.create_activity(meeting(), idempotency_key="k-void-twice")
    first = await erp.void_activity(created.id, version=created.version)
    again = await erp.void_activity(created.id, version=created.version)
    assert again == first


async def test_close_activity_closes_it(erp: ErpPort) -> None:
    """The daily job closes ended activities (R29)."""
    created = await erp.create_activity(meeting(), idempotency_key="k-close")
    closed = await erp.close_activity(created.id, version=created.version)
    assert closed.state is ActivityState.CLOSED
    assert closed.version == created.version + 1


async def test_close_with_stale_version_is_a_conflict(erp: ErpPort) -> None:
    """Closing at an old version is refused: someone else changed the record in between."""
    created = await erp.create_activity(meeting(), idempotency_key="k-close-stale")
    await erp.update_activity(created.id, ActivityPatch(location="Elsewhere"), version=created.version)
    with pytest.raises(ErpConflict):
        await erp.close_activity(created.id, version=created.version)


async def test_no_specified_time_item_booking_forbidding_facility_is_refused(erp: ErpPort) -> None:
    """An item with no specified time that books a facility forbidding that is refused with a clear error (R13)."""
    fields = meeting(
        start=datetime(2026, 12, 4), end=datetime(2026, 12, 5), no_specified_time=True, facility_ids=("F-LAB",)
    )
    with pytest.raises(ErpInvalid) as caught:
        await erp.create_activity(fields, idempotency_key="k-r13")
    assert caught.value.status == 422
    assert caught.value.problem_type is not None
    assert caught.value.problem_type.endswith("/facility-forbids-no-specified-time")
    allowed = await erp.create_activity(
        fields.model_copy(update={"facility_ids": ("F-ROOM",)}), idempotency_key="k-r13-ok"
    )
    assert allowed.no_specified_time


async def test_update_into_no_specified_time_with_forbidding_facility_is_refused(erp: ErpPort) -> None:
    """The facility rule also holds when a change, not a create, would break it (R13)."""
    created = await erp.create_activity(
        meeting(start=datetime(2026, 12, 4), end=datetime(2026, 12, 5), all_day=True, facility_ids=("F-LAB",)),
        idempotency_key="k-r13-upd",
    )
    with pytest.raises(ErpInvalid):
        await erp.update_activity(
            created.id, ActivityPatch(all_day=False, no_specified_time=True), version=created.version
        )


async def test_wall_clock_time_with_an_offset_is_invalid(erp: ErpPort) -> None:
    """An activity time carrying an offset (or a fraction of a second) is not a wall-clock time: ErpInvalid."""
    with pytest.raises(ErpInvalid) as caught:
        await erp.create_activity(meeting(start=datetime(2026, 12, 3, 10, tzinfo=UTC)), idempotency_key="k-offset")
    assert caught.value.status == 422
    created = await erp.create_activity(meeting(), idempotency_key="k-offset-ok")
    with pytest.raises(ErpInvalid):
        await erp.update_activity(
            created.id, ActivityPatch(end=datetime(2026, 12, 3, 11, 0, 0, 500)), version=created.version
        )


async def test_offset_in_wall_clock_time_is_refused(raw: httpx.AsyncClient) -> None:
    """Activity times are wall-clock in timeZone; a time with an offset is invalid input (422 problem)."""
    body = meeting().model_dump(by_alias=True, mode="json") | {"start": "2026-12-03T10:00:00Z"}
    answer = await raw.post("/activities", json=body)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"].endswith("/invalid-request")


async def test_patch_without_if_match_requires_a_precondition(raw: httpx.AsyncClient, http_erp: HttpErp) -> None:
    """Writes without If-Match are refused with 428 Precondition Required (RFC 6585 §3)."""
    created = await http_erp.create_activity(meeting(), idempotency_key="k-428")
    answer = await raw.patch(f"/activities/{created.id}", json={"subject": "x"})
    assert answer.status_code == 428
    assert answer.json()["type"].endswith("/precondition-required")


# --- change feeds ------------------------------------------------------------------------------------------


async def test_snapshot_lists_current_activities_ending_after_the_window_start(erp: ErpPort) -> None:
    """Without a cursor the feed is a snapshot of the owner's activities that end after ends_after (R4)."""
    old = await erp.create_activity(
        meeting(start=datetime(2026, 11, 1, 9), end=datetime(2026, 11, 1, 10)), idempotency_key="k-old"
    )
    new = await erp.create_activity(meeting(), idempotency_key="k-new")
    await erp.create_activity(meeting(owner_id="U2"), idempotency_key="k-other-owner")
    page = await erp.activity_changes(user_id="U1", cursor=None, ends_after=datetime(2026, 11, 20, tzinfo=UTC))
    assert [change.activity_id for change in page.items] == [new.id]
    everything = await erp.activity_changes(user_id="U1", cursor=None)
    assert {change.activity_id for change in everything.items} == {old.id, new.id}
    assert all(not change.deleted and change.activity is not None for change in everything.items)


async def test_feed_after_cursor_holds_each_change_once_with_tombstones(erp: ErpPort, erp_store: ErpStore) -> None:
    """After a cursor the feed holds every changed activity once, as it is now, deleted ones as tombstones."""
    kept = await erp.create_activity(meeting(), idempotency_key="k-kept")
    doomed = await erp.create_activity(meeting(subject="Doomed"), idempotency_key="k-doomed")
    start = await erp.activity_changes(user_id="U1", cursor=None)
    moved = await erp.update_activity(kept.id, ActivityPatch(subject="Renamed"), version=kept.version)
    moved = await erp.update_activity(kept.id, ActivityPatch(location="Room 2"), version=moved.version)
    erp_store.delete_activity(doomed.id, version=doomed.version)  # a person deletes it in the ERP
    added = await erp.create_activity(meeting(subject="New"), idempotency_key="k-added")

    changes = await erp.activity_changes(user_id="U1", cursor=start.cursor)
    by_id = {change.activity_id: change for change in changes.items}
    assert list(by_id) == [kept.id, doomed.id, added.id]
    assert len(changes.items) == 3
    assert by_id[kept.id].activity == moved
    assert by_id[doomed.id].deleted
    assert by_id[doomed.id].activity is None
    assert [change.seq for change in changes.items] == sorted(change.seq for change in changes.items)
    quiet = await erp.activity_changes(user_id="U1", cursor=changes.cursor)
    assert quiet.items == ()


async def test_adapter_follows_every_page_of_the_feed(erp: ErpPort, monkeypatch: pytest.MonkeyPatch) -> None:
    """The adapter follows nextCursor until hasMore is false, for the snapshot and for changes."""
    monkeypatch.setattr(http_client, "PAGE_SIZE", 2)
    monkeypatch.setattr(in_process, "PAGE_SIZE", 2)
    ids = [(await erp.create_activity(meeting(subject=f"S{n}"), idempotency_key=f"k-page-{n}")).id for n in range(5)]
    snapshot = await erp.activity_changes(user_id="U1", cursor=None)
    assert sorted(change.activity_id for change in snapshot.items) == sorted(ids)
    more = [(await erp.create_activity(meeting(subject=f"T{n}"), idempotency_key=f"k-more-{n}")).id for n in range(5)]
    changes = await erp.activity_changes(user_id="U1", cursor=snapshot.cursor)
    assert [change.activity_id for change in changes.items] == more


async def test_feed_pages_skip_nothing_under_concurrent_writes(http_erp: HttpErp, raw: httpx.AsyncClient) -> None:
    """Writes that commit while a client pages through the feed all reach it on a later page."""
    erp = http_erp
    ids = [(await erp.create_activity(meeting(subject=f"S{n}"), idempotency_key=f"k-c-{n}")).id for n in range(6)]
    seen: dict[str, int] = {}
    cursor = ""
    params = {"ownerId": "U1", "limit": "2", "cursor": "eyJzZXEiOjB9"}  # cursor at seq 0: everything is a change
    written = False
    while True:
        page = (await raw.get("/activity-changes", params=params)).json()
        for item in page["items"]:
            seen[item["activityId"]] = item["activity"]["version"]
        if not written:
            # A person edits an activity already paged past, and one not yet reached, between two pages.
            for activity_id in (ids[0], ids[5]):
                current = await erp.get_activity(activity_id)
                await erp.update_activity(activity_id, ActivityPatch(location="Moved"), version=current.version)
            written = True
        cursor = page["nextCursor"]
        params["cursor"] = cursor
        if not page["hasMore"]:
            break
    assert set(seen) == set(ids)
    assert seen[ids[0]] == 2
    assert seen[ids[5]] == 2


async def test_bad_cursor_is_a_bad_request(raw: httpx.AsyncClient) -> None:
    """A cursor the ERP did not issue is refused with 400 problem details."""
    answer = await raw.get("/activity-changes", params={"userId": "U1", "cursor": "not-a-cursor"})
    assert answer.status_code == 400
    assert answer.json()["type"].endswith("/bad-cursor")


async def test_bad_cursor_is_invalid(erp: ErpPort) -> None:
    """A cursor the ERP did not issue → ErpInvalid with the bad-cursor problem type."""
    with pytest.raises(ErpInvalid) as caught:
        await erp.activity_changes(user_id="U1", cursor="%%%")
    assert str(caught.value.problem_type).endswith("/bad-cursor")


async def test_leave_request_feed_follows_approval_and_cancellation(erp: ErpPort, erp_store: ErpStore) -> None:
    """Leave requests have their own feed: created, approved, then cancelled, each seen as it is now (R30)."""
    body = {
        "userId": "U2",
        "leaveType": "Vacation",
        "description": "Christmas",
        "start": "2026-12-21T00:00:00",
        "end": "2026-12-24T00:00:00",
        "timeZone": "Europe/Oslo",
        "allDay": True,
    }
    leave = erp_store.create_leave_request(LeaveRequestFields.model_validate(body)).model_dump(by_alias=True)
    snapshot = await erp.leave_request_changes(user_id="U2", cursor=None, ends_after=datetime(2026, 12, 1, tzinfo=UTC))
    assert [change.leave_request_id for change in snapshot.items] == [leave["id"]]
    assert snapshot.items[0].leave_request is not None
    assert snapshot.items[0].leave_request.status is LeaveStatus.REQUESTED

    erp_store.update_leave_request(leave["id"], LeaveRequestPatch(status=LeaveStatus.APPROVED), version=1)
    changes = await erp.leave_request_changes(user_id="U2", cursor=snapshot.cursor)
    assert [(c.leave_request_id, c.leave_request.status if c.leave_request else None) for c in changes.items] == [
        (leave["id"], LeaveStatus.APPROVED)
    ]
    with pytest.raises(Problem) as stale:
        erp_store.update_leave_request(leave["id"], LeaveRequestPatch(status=LeaveStatus.CANCELLED), version=1)
    assert stale.value.status == 412
    fetched = erp_store.get_leave_request(leave["id"])
    assert (fetched.status, fetched.version) == (LeaveStatus.APPROVED, 2)
    assert (await erp.leave_request_changes(user_id="U1", cursor=None)).items == ()


async def test_one_leave_request_is_read_as_stored_and_an_unknown_one_is_not_found(
    erp: ErpPort, erp_store: ErpStore
) -> None:
    """R30: the sync reads a leave request by id to put its event back; an id the ERP does not hold is 404."""
    body = {"userId": "U2", "leaveType": "Sick leave", "start": "2026-12-07T08:00:00", "end": "2026-12-07T12:00:00"}
    created = erp_store.create_leave_request(LeaveRequestFields.model_validate({**body, "allDay": False}))
    fetched = await erp.get_leave_request(created.id)
    assert (fetched.leave_type, fetched.all_day, fetched.status, fetched.version) == (
        "Sick leave",
        False,
        LeaveStatus.REQUESTED,
        1,
    )
    with pytest.raises(ErpNotFound):
        await erp.get_leave_request("no-such-leave")


# --- transport: auth, retries, errors ----------------------------------------------------------------------


async def test_wrong_api_key_is_refused_without_echoing_any_key(erp_server: object) -> None:
    """A wrong key answers 401; the error names neither the key sent nor the right one."""
    base = erp_server.base_url  # type: ignore[attr-defined]
    async with HttpErp(base, api_key="wrong-key-123") as client:
        with pytest.raises(ErpError) as caught:
            await client.list_users()
    assert caught.value.status == 401
    assert "wrong-key-123" not in str(caught.value)
    assert API_KEY not in str(caught.value)
    assert "wrong-key-123" not in repr(client)


async def test_throttled_and_unavailable_answers_are_retried(http_erp: HttpErp, raw: httpx.AsyncClient) -> None:
    """429 and 503 with Retry-After are retried and the call then succeeds (RFC 9110 §10.2.3)."""
    await raw.post("/_erp/faults", json={"status": 503, "count": 2, "retryAfter": 0})
    assert len(await http_erp.list_users()) == 2
    await raw.post("/_erp/faults", json={"status": 429, "count": 1, "retryAfter": 0})
    assert len(await http_erp.list_facilities()) == 2


async def test_lasting_unavailability_becomes_transient_error(
    http_erp: HttpErp, raw: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    """When the ERP stays unavailable past the retries the call fails with ErpTransient; no log line holds the key."""
    await raw.post("/_erp/faults", json={"status": 503, "count": 50, "retryAfter": 0})
    with caplog.at_level(logging.DEBUG), pytest.raises(ErpTransient) as caught:
        await http_erp.get_user("U1")
    assert caught.value.status == 503
    assert "retry" in caplog.text.lower()  # stamina logged its retries ...
    assert API_KEY not in caplog.text  # ... without the key
    await raw.post("/_erp/faults", json={"status": 503, "count": 0})


async def test_unreachable_erp_becomes_transient_error() -> None:
    """A refused connection is retried, then reported as ErpTransient without any secret in it."""
    # stamina's test mode keeps the attempts but drops the waits between them.
    with stamina.set_testing(True, attempts=3):
        async with HttpErp(f"http://127.0.0.1:{free_port()}", api_key="secret-xyz", timeout=0.5) as client:
            with pytest.raises(ErpTransient) as caught:
                await client.list_facilities()
    assert "secret-xyz" not in str(caught.value)


def test_retry_after_header_sets_the_wait() -> None:
    """Retry-After in seconds or as an HTTP-date becomes the backoff stamina waits (RFC 9110 §10.2.3)."""
    now = datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC)
    assert http_wire.retry_after("7", now=now) == 7.0
    assert http_wire.retry_after("Sat, 21 Nov 2026 12:00:30 GMT", now=now) == 30.0
    assert http_wire.retry_after("soon", now=now) is None
    assert http_wire.backoff(http_wire.Retryable(503, 7.0)) == 7.0
    assert http_wire.backoff(http_wire.Retryable(429, None)) is True
    assert http_wire.backoff(ValueError("not transient")) is False
