"""Meetings across mailboxes of the tenant (https://learn.microsoft.com/en-us/graph/outlook-calendar-meeting-concepts)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from emulators.graph import Emulator
from tests.graph_emulator.helpers import create, event_body


def _meeting(*attendees: tuple[str, str]) -> dict[str, Any]:
    return event_body(
        "Design review",
        "2026-12-01T10:00:00",
        "2026-12-01T11:00:00",
        attendees=[{"type": kind, "emailAddress": {"address": address}} for address, kind in attendees],
    )


async def _only_event(http: httpx.AsyncClient, user: str) -> dict[str, Any]:
    [ev] = (await http.get(f"/v1.0/users/{user}/events")).json()["value"]
    return ev


async def test_attendee_gets_a_copy_with_same_ical_uid(http: httpx.AsyncClient, alice: str, bob: str) -> None:
    """An invited tenant user gets the meeting in their calendar: own id, same iCalUId, notResponded (https://learn.microsoft.com/en-us/graph/api/user-post-events)."""
    organizer = await create(http, alice, _meeting(("bob@contoso.com", "required"), ("ext@fabrikam.com", "optional")))
    copy = await _only_event(http, bob)
    assert copy["id"] != organizer["id"]
    assert copy["iCalUId"] == organizer["iCalUId"]
    assert copy["isOrganizer"] is False
    assert copy["responseStatus"]["response"] == "notResponded"
    assert copy["organizer"]["emailAddress"]["address"] == "alice@contoso.com"
    assert organizer["responseStatus"]["response"] == "organizer"


async def test_organizer_edit_reaches_the_copy(http: httpx.AsyncClient, alice: str, bob: str) -> None:
    """The organizer's updates are sent to attendees' copies (https://learn.microsoft.com/en-us/graph/api/event-update)."""
    organizer = await create(http, alice, _meeting(("bob@contoso.com", "required")))
    before = await _only_event(http, bob)
    await http.patch(
        f"/v1.0/users/{alice}/events/{organizer['id']}",
        json={
            "subject": "Moved review",
            "start": {"dateTime": "2026-12-02T10:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2026-12-02T11:00:00", "timeZone": "UTC"},
        },
    )
    after = await _only_event(http, bob)
    assert after["subject"] == "Moved review"
    assert after["start"]["dateTime"] == "2026-12-02T10:00:00.0000000"
    assert after["changeKey"] != before["changeKey"]


@pytest.mark.parametrize(
    ("action", "response"),
    [("accept", "accepted"), ("decline", "declined"), ("tentativelyAccept", "tentativelyAccepted")],
)
async def test_attendee_response_updates_organizer_attendee_status(
    http: httpx.AsyncClient, alice: str, bob: str, action: str, response: str
) -> None:
    """accept/decline/tentativelyAccept answer 202 and the organizer sees the response (https://learn.microsoft.com/en-us/graph/api/event-accept)."""
    organizer = await create(http, alice, _meeting(("bob@contoso.com", "required")))
    copy = await _only_event(http, bob)
    resp = await http.post(
        f"/v1.0/users/{bob}/events/{copy['id']}/{action}", json={"comment": "ok", "sendResponse": True}
    )
    assert resp.status_code == 202
    mine = (await http.get(f"/v1.0/users/{bob}/events/{copy['id']}")).json()
    theirs = (await http.get(f"/v1.0/users/{alice}/events/{organizer['id']}")).json()
    assert mine["responseStatus"]["response"] == response
    assert theirs["attendees"][0]["status"]["response"] == response
    assert theirs["changeKey"] != organizer["changeKey"]


async def test_organizer_cannot_respond_and_attendee_cannot_cancel(
    http: httpx.AsyncClient, alice: str, bob: str
) -> None:
    """Only attendees respond and only the organizer cancels (https://learn.microsoft.com/en-us/graph/api/event-cancel)."""
    organizer = await create(http, alice, _meeting(("bob@contoso.com", "required")))
    copy = await _only_event(http, bob)
    accept_own = await http.post(f"/v1.0/users/{alice}/events/{organizer['id']}/accept", json={})
    cancel_other = await http.post(f"/v1.0/users/{bob}/events/{copy['id']}/cancel", json={"comment": "no"})
    assert accept_own.status_code == 400
    assert cancel_other.status_code == 400


@pytest.mark.parametrize("how", ["cancel", "delete"])
async def test_cancel_or_delete_marks_attendee_copy_cancelled(
    http: httpx.AsyncClient, alice: str, bob: str, how: str
) -> None:
    """Cancelling or deleting the organizer's meeting marks attendees' copies isCancelled (https://learn.microsoft.com/en-us/graph/api/event-cancel)."""
    organizer = await create(http, alice, _meeting(("bob@contoso.com", "required")))
    if how == "cancel":
        resp = await http.post(f"/v1.0/users/{alice}/events/{organizer['id']}/cancel", json={"comment": "sorry"})
        assert resp.status_code == 202
    else:
        assert (await http.delete(f"/v1.0/users/{alice}/events/{organizer['id']}")).status_code == 204
    copy = await _only_event(http, bob)
    assert copy["isCancelled"] is True
    assert (await http.get(f"/v1.0/users/{alice}/events")).json()["value"] == []


async def test_room_attendee_books_the_room_and_accepts(
    http: httpx.AsyncClient, alice: str, emulator: Emulator
) -> None:
    """A room invited as resource attendee gets the booking and accepts it (https://learn.microsoft.com/en-us/graph/api/resources/location)."""
    room = emulator.add_user("room1@contoso.com", "Room 1", kind="room")
    body = _meeting(("room1@contoso.com", "resource"))
    body["location"] = {
        "displayName": "Room 1",
        "locationType": "conferenceRoom",
        "locationEmailAddress": "room1@contoso.com",
    }
    organizer = await create(http, alice, body)
    booking = await _only_event(http, room)
    after = (await http.get(f"/v1.0/users/{alice}/events/{organizer['id']}")).json()
    assert booking["responseStatus"]["response"] == "accepted"
    assert booking["iCalUId"] == organizer["iCalUId"]
    assert after["attendees"][0]["status"]["response"] == "accepted"
    assert after["location"]["locationType"] == "conferenceRoom"


async def test_removed_attendee_copy_is_cancelled(http: httpx.AsyncClient, alice: str, bob: str) -> None:
    """Removing an attendee cancels the meeting in their calendar (https://learn.microsoft.com/en-us/graph/outlook-calendar-meeting-concepts)."""
    organizer = await create(http, alice, _meeting(("bob@contoso.com", "required")))
    await http.patch(f"/v1.0/users/{alice}/events/{organizer['id']}", json={"attendees": []})
    copy = await _only_event(http, bob)
    assert copy["isCancelled"] is True


async def test_resent_attendee_list_keeps_responses(http: httpx.AsyncClient, alice: str, bob: str) -> None:
    """An organizer PATCH of attendees keeps the responses already received (https://learn.microsoft.com/en-us/graph/api/event-update)."""
    organizer = await create(http, alice, _meeting(("bob@contoso.com", "required")))
    copy = await _only_event(http, bob)
    await http.post(f"/v1.0/users/{bob}/events/{copy['id']}/accept", json={"sendResponse": True})
    attendees = [{"type": "required", "emailAddress": {"address": "bob@contoso.com"}}]
    resp = await http.patch(f"/v1.0/users/{alice}/events/{organizer['id']}", json={"attendees": attendees})
    assert resp.json()["attendees"][0]["status"]["response"] == "accepted"


@pytest.mark.parametrize(
    ("action", "response"),
    [("accept", "accepted"), ("decline", "declined"), ("tentativelyAccept", "tentativelyAccepted")],
)
async def test_response_not_sent_leaves_organizer_attendee_status_unchanged(
    http: httpx.AsyncClient, alice: str, bob: str, action: str, response: str
) -> None:
    """With sendResponse false the attendee's copy takes the response but no response reaches the organizer, whose
    attendee status and event stay as they were (https://learn.microsoft.com/en-us/graph/api/event-accept)."""
    organizer = await create(http, alice, _meeting(("bob@contoso.com", "required")))
    copy = await _only_event(http, bob)
    resp = await http.post(f"/v1.0/users/{bob}/events/{copy['id']}/{action}", json={"sendResponse": False})
    assert resp.status_code == 202
    mine = (await http.get(f"/v1.0/users/{bob}/events/{copy['id']}")).json()
    theirs = (await http.get(f"/v1.0/users/{alice}/events/{organizer['id']}")).json()
    assert mine["responseStatus"]["response"] == response
    assert theirs["attendees"][0]["status"]["response"] == "none"
    assert theirs["changeKey"] == organizer["changeKey"]


async def test_response_sent_by_default_reaches_organizer(http: httpx.AsyncClient, alice: str, bob: str) -> None:
    """sendResponse is optional and defaults to true, so a bare accept reaches the organizer
    (https://learn.microsoft.com/en-us/graph/api/event-accept)."""
    organizer = await create(http, alice, _meeting(("bob@contoso.com", "required")))
    copy = await _only_event(http, bob)
    assert (await http.post(f"/v1.0/users/{bob}/events/{copy['id']}/accept", json={})).status_code == 202
    theirs = (await http.get(f"/v1.0/users/{alice}/events/{organizer['id']}")).json()
    assert theirs["attendees"][0]["status"]["response"] == "accepted"


async def test_proposed_new_time_without_sending_is_refused(http: httpx.AsyncClient, alice: str, bob: str) -> None:
    """A proposedNewTime needs sendResponse true, else 400 (https://learn.microsoft.com/en-us/graph/api/event-decline)."""
    await create(http, alice, _meeting(("bob@contoso.com", "required")))
    copy = await _only_event(http, bob)
    slot = {
        "start": {"dateTime": "2026-12-02T10:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2026-12-02T11:00:00", "timeZone": "UTC"},
    }
    resp = await http.post(
        f"/v1.0/users/{bob}/events/{copy['id']}/decline", json={"sendResponse": False, "proposedNewTime": slot}
    )
    assert resp.status_code == 400
    assert (await _only_event(http, bob))["responseStatus"]["response"] == "notResponded"
