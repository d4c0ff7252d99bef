"""A delta token that dies (Graph answers 410): the fresh pull that replaces it is compared with the links, so
what was deleted meanwhile is deleted in the ERP too (R9, R4, R32), under the mass-deletion guard (R11)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.sync.conftest import Stack

MAILBOX, USER = "ann@contoso.example", "U-ANN"
pytestmark = pytest.mark.integration


def _times(days: int, hour: int = 9) -> dict[str, Any]:
    start = (datetime.now(UTC) + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)
    return {
        "start": {"dateTime": start.replace(tzinfo=None).isoformat(), "timeZone": "UTC"},
        "end": {"dateTime": (start + timedelta(hours=1)).replace(tzinfo=None).isoformat(), "timeZone": "UTC"},
    }


async def _event(stack: Stack, subject: str, days: int = 2) -> dict[str, Any]:
    body = {"subject": subject, **_times(days)}
    return dict((await stack.outlook("POST", f"/users/{MAILBOX}/events", json=body)).json())


async def _activities(stack: Stack) -> dict[str, dict[str, Any]]:
    page = (await stack.erp_call("GET", "/activity-changes", params={"userId": USER})).json()
    return {c["activity"]["subject"]: c["activity"] for c in page["items"] if c.get("activity")}


async def _sync(stack: Stack) -> Any:
    report = await stack.services.engine.sync_user(USER)
    return report


async def _token_dies(stack: Stack) -> None:
    response = await stack.graph.post("/_emulator/delta-tokens/expire")
    assert response.status_code == 204, response.text


async def test_event_deleted_while_the_delta_token_was_dead_voids_its_activity(stack: Stack) -> None:
    """R8/R9: Ann deletes an event while the token is dead; the resync finds it missing, a direct read says
    404, and its ERP meeting is voided (before: the fresh pull counted as initial and never deleted)."""
    await stack.add_person(user_id=USER, mailbox=MAILBOX, name="Ann")
    kept, gone = await _event(stack, "Kept"), await _event(stack, "Deleted meanwhile")
    assert (await _sync(stack)).status == "ok"
    await _token_dies(stack)
    await stack.outlook("DELETE", f"/users/{MAILBOX}/events/{gone['id']}")
    report = await _sync(stack)
    assert report.status == "ok", report
    activities = await _activities(stack)
    assert activities["Deleted meanwhile"]["state"] == "voided"
    assert activities["Kept"]["state"] == "confirmed"
    assert kept["id"]


async def test_event_moved_out_of_the_window_while_the_token_was_dead_is_updated_not_voided(stack: Stack) -> None:
    """R9: an event missing from the fresh snapshot that still exists only moved away: its activity follows
    it to the new date and stays alive."""
    await stack.add_person(user_id=USER, mailbox=MAILBOX, name="Ann")
    moved = await _event(stack, "Moved far out")
    assert (await _sync(stack)).status == "ok"
    await _token_dies(stack)
    await stack.outlook("PATCH", f"/users/{MAILBOX}/events/{moved['id']}", json=_times(60))
    assert (await _sync(stack)).status == "ok"
    activity = (await _activities(stack))["Moved far out"]
    assert activity["state"] == "confirmed"
    assert activity["start"].startswith((datetime.now(UTC) + timedelta(days=60)).date().isoformat())


async def test_most_events_gone_after_a_dead_token_halts_instead_of_voiding(stack: Stack) -> None:
    """R11: the resync's deletions still pass the mass-deletion guard: 6 of 7 linked events gone at once halt
    the run and nothing is voided until a person looks."""
    await stack.add_person(user_id=USER, mailbox=MAILBOX, name="Ann")
    events = [await _event(stack, f"Meeting {i}", days=2 + i) for i in range(7)]
    assert (await _sync(stack)).status == "ok"
    await _token_dies(stack)
    for event in events[:6]:
        await stack.outlook("DELETE", f"/users/{MAILBOX}/events/{event['id']}")
    report = await _sync(stack)
    assert report.status == "halted", report
    assert all(a["state"] == "confirmed" for a in (await _activities(stack)).values())
