"""Leave requests on the calendar, end to end (issue 11, R30): msgraph-sdk against the Graph emulator, HttpErp
against the reference ERP, links and the leave cursor in Azurite. The ERP owns leave: an approved request is
an out-of-office event in the requester's mailbox, on exactly its dates; nothing flows back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from emulators.stack import InProcessStack, start_stack
from shared.state.model import IssueKind

MAILBOX = "bob@contoso.example"
USER = "U-BOB"
AUCKLAND = "Pacific/Auckland"  # far from UTC: a date read as a UTC instant would land a day off


@pytest.fixture
async def stack(azurite_connection_string: str) -> AsyncIterator[InProcessStack]:
    started = await start_stack(azurite_connection_string, SYNC_LEAVE_REQUESTS="true")
    try:
        await started.add_person(user_id=USER, mailbox=MAILBOX, name="Bob", time_zone=AUCKLAND)
        yield started
    finally:
        await started.aclose()


def _day(days: int) -> date:
    return (datetime.now(UTC) + timedelta(days=days)).date()


def _midnight(day: date) -> str:
    return f"{day.isoformat()}T00:00:00"


async def _leave(stack: InProcessStack, **fields: Any) -> dict[str, Any]:
    body = {"userId": USER, "leaveType": "Vacation", "description": "Christmas", "status": "approved", **fields}
    return dict((await stack.erp_call("POST", "/leave-requests", json=body)).json())


async def _change(stack: InProcessStack, leave: dict[str, Any], **patch: Any) -> dict[str, Any]:
    current = (await stack.erp_call("GET", f"/leave-requests/{leave['id']}")).json()
    headers = {"If-Match": f'"{current["version"]}"'}
    return dict((await stack.erp_call("PATCH", f"/leave-requests/{leave['id']}", json=patch, headers=headers)).json())


async def _events(stack: InProcessStack) -> dict[str, dict[str, Any]]:
    start, end = datetime.now(UTC) - timedelta(days=2), datetime.now(UTC) + timedelta(days=60)
    resp = await stack.outlook(
        "GET",
        f"/users/{MAILBOX}/calendarView",
        params={"startDateTime": start.isoformat(), "endDateTime": end.isoformat(), "$top": "100"},
    )
    return {e["subject"]: e for e in resp.json()["value"]}


async def _sync(stack: InProcessStack) -> dict[str, int]:
    report = await stack.services.engine.sync_user(USER)
    assert report.status == "ok", report
    return dict(report.done)


async def _activities(stack: InProcessStack) -> list[dict[str, Any]]:
    page = (await stack.erp_call("GET", "/activity-changes", params={"userId": USER})).json()
    return [c["activity"] for c in page["items"] if c.get("activity")]


@pytest.mark.integration
async def test_R30_approved_multi_day_leave_is_an_all_day_out_of_office_event_on_its_dates_in_auckland(
    stack: InProcessStack,
) -> None:
    """Approved vacation over three dates for a person in Auckland: one all-day, out-of-office, private event
    "Vacation: Christmas" on exactly those dates, with nobody invited; no ERP activity (R23), no echo (R5)."""
    first = _day(10)
    await _leave(stack, start=_midnight(first), end=_midnight(first + timedelta(days=3)), timeZone=AUCKLAND)
    assert (await _sync(stack))["leave created"] == 1
    event = (await _events(stack))["Vacation: Christmas"]
    assert (event["isAllDay"], event["showAs"], event["sensitivity"], event["attendees"]) == (
        True,
        "oof",
        "private",
        [],
    )
    assert (event["start"]["dateTime"][:19], event["end"]["dateTime"][:19]) == (
        _midnight(first),
        _midnight(first + timedelta(days=3)),
    )
    assert await _activities(stack) == []  # R23: never read back into the ERP
    assert sum((await _sync(stack)).values()) == 0  # R5: its echo is nothing


@pytest.mark.integration
async def test_R30_half_day_leave_is_timed_with_its_exact_times(stack: InProcessStack) -> None:
    """A morning off, 08:00-12:00 Oslo time: a timed out-of-office event at those instants."""
    day = _day(4)
    await _leave(
        stack,
        leaveType="Doctor",
        description="",
        start=f"{day.isoformat()}T08:00:00",
        end=f"{day.isoformat()}T12:00:00",
        timeZone="Europe/Oslo",
        allDay=False,
    )
    await _sync(stack)
    event = (await _events(stack))["Doctor"]
    assert event["isAllDay"] is False
    assert event["showAs"] == "oof"
    start = await stack.outlook(
        "GET", f"/users/{MAILBOX}/events/{event['id']}", headers={"Prefer": 'outlook.timezone="UTC"'}
    )
    assert start.json()["start"]["dateTime"][:16] == f"{day.isoformat()}T07:00"  # 08:00 Oslo in winter


@pytest.mark.integration
async def test_R30_changed_dates_move_the_event_and_cancelled_or_rejected_leave_removes_it(
    stack: InProcessStack,
) -> None:
    """Dates changed in the ERP move the one event; cancelling removes it; a rejected request never shows
    and a request not yet decided never shows either."""
    first = _day(12)
    vacation = await _leave(stack, start=_midnight(first), end=_midnight(first + timedelta(days=2)), timeZone=AUCKLAND)
    await _leave(stack, leaveType="Training", start=_midnight(_day(20)), end=_midnight(_day(21)), status="requested")
    await _sync(stack)
    assert set(await _events(stack)) == {"Vacation: Christmas"}

    later = first + timedelta(days=1)
    await _change(stack, vacation, start=_midnight(later), end=_midnight(later + timedelta(days=2)))
    assert (await _sync(stack))["leave updated"] == 1
    moved = (await _events(stack))["Vacation: Christmas"]
    assert moved["start"]["dateTime"][:19] == _midnight(later)

    await _change(stack, vacation, status="cancelled")
    assert (await _sync(stack))["leave removed"] == 1
    assert await _events(stack) == {}

    trip = await _leave(stack, leaveType="Trip", start=_midnight(_day(25)), end=_midnight(_day(26)))
    await _sync(stack)
    await _change(stack, trip, status="rejected")
    await _sync(stack)
    assert await _events(stack) == {}


@pytest.mark.integration
async def test_R30_an_outlook_edit_or_delete_of_a_leave_event_is_put_back_and_the_leave_request_stays(
    stack: InProcessStack,
) -> None:
    """Bob retitles his leave event and shows it as busy, then deletes it: each time the next run puts it
    back as the ERP says, the leave request is unchanged, and nothing is recorded as a conflict (R7)."""
    first = _day(7)
    leave = await _leave(stack, start=_midnight(first), end=_midnight(first + timedelta(days=1)), timeZone=AUCKLAND)
    await _sync(stack)
    event = (await _events(stack))["Vacation: Christmas"]

    await stack.outlook("PATCH", f"/users/{MAILBOX}/events/{event['id']}", json={"subject": "Ski", "showAs": "busy"})
    assert (await _sync(stack))["leave updated"] == 1
    back = (await _events(stack))["Vacation: Christmas"]
    assert (back["id"], back["showAs"]) == (event["id"], "oof")

    await stack.outlook("DELETE", f"/users/{MAILBOX}/events/{event['id']}")
    assert (await _sync(stack))["leave put back"] == 1
    assert "Vacation: Christmas" in await _events(stack)

    stored = (await stack.erp_call("GET", f"/leave-requests/{leave['id']}")).json()
    assert stored["version"] == leave["version"]
    assert await _activities(stack) == []
    assert [i for i in await stack.services.state.open_issues(USER) if i.kind is IssueKind.CONFLICT] == []
    assert sum((await _sync(stack)).values()) == 0


@pytest.mark.integration
async def test_R3_leave_requests_switched_off_are_not_read_and_not_shown(azurite_connection_string: str) -> None:
    """Without ``SYNC_LEAVE_REQUESTS`` an approved request gets no event and the leave feed is not read."""
    stack = await start_stack(azurite_connection_string)
    try:
        await stack.add_person(user_id=USER, mailbox=MAILBOX, name="Bob", time_zone=AUCKLAND)
        await _leave(stack, start=_midnight(_day(3)), end=_midnight(_day(4)))
        await _sync(stack)
        assert await _events(stack) == {}
        assert await stack.services.state.get_erp_cursor(USER, "leave-requests") is None
    finally:
        await stack.aclose()
