"""One user's sync, end to end: msgraph-sdk against the Graph emulator, HttpErp against the reference ERP,
links and cursors in Azurite (issue 2, item 7: create, update and delete both ways, no echo)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from emulators.erp.seed import seed_store
from shared.state.model import IssueKind
from tests.sync.conftest import Stack

MAILBOX = "ann@contoso.example"
USER = "U-ANN"


def _when(days: int, hour: int) -> datetime:
    base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=days)
    return base.replace(hour=hour)


async def _seed(stack: Stack) -> None:
    await stack.add_person(user_id=USER, mailbox=MAILBOX, name="Ann")


async def _outlook_event(stack: Stack, subject: str, *, days: int = 2) -> dict[str, Any]:
    start, end = _when(days, 9), _when(days, 10)
    body = {
        "subject": subject,
        "body": {"contentType": "text", "content": "from Outlook"},
        "start": {"dateTime": start.replace(tzinfo=None).isoformat(), "timeZone": "UTC"},
        "end": {"dateTime": end.replace(tzinfo=None).isoformat(), "timeZone": "UTC"},
    }
    return dict((await stack.outlook("POST", f"/users/{MAILBOX}/events", json=body)).json())


async def _erp_activity(stack: Stack, subject: str, *, kind: str = "meeting", days: int = 3) -> dict[str, Any]:
    start = _when(days, 13).astimezone(UTC).replace(tzinfo=None)
    body = {
        "type": kind,
        "subject": subject,
        "description": "from the ERP",
        "start": start.isoformat(),
        "end": (start + timedelta(hours=1)).isoformat(),
        "timeZone": "UTC",
        "ownerId": USER,
        "state": "confirmed",
    }
    response = await stack.erp_call("POST", "/activities", json=body, headers={"Idempotency-Key": subject})
    return dict(response.json())


async def _events(stack: Stack) -> dict[str, dict[str, Any]]:
    start, end = _when(-1, 0), _when(40, 0)
    resp = await stack.outlook(
        "GET",
        f"/users/{MAILBOX}/calendarView",
        params={"startDateTime": start.isoformat(), "endDateTime": end.isoformat(), "$top": "100"},
    )
    return {e["subject"]: e for e in resp.json()["value"]}


async def _activities(stack: Stack) -> dict[str, dict[str, Any]]:
    page = (await stack.erp_call("GET", "/activity-changes", params={"userId": USER})).json()
    return {c["activity"]["subject"]: c["activity"] for c in page["items"] if c.get("activity")}


@pytest.mark.integration
async def test_create_update_delete_flow_both_ways_without_echo(stack: Stack) -> None:
    """R5/R8: creates, an update and a delete each way reach the other side, and a quiet run writes nothing."""
    await _seed(stack)
    event = await _outlook_event(stack, "Customer visit")
    activity = await _erp_activity(stack, "Quote review")

    first = await stack.services.engine.sync_user(USER)
    assert first.status == "ok", first
    assert first.done["erp created"] == 1
    assert first.done["m365 created"] == 1
    activities, events = await _activities(stack), await _events(stack)
    assert activities["Customer visit"]["origin"]["eventId"] == event["id"]  # R23: a meeting from the event
    assert "Meeting: Quote review" in events  # R21: title carries the type

    quiet = await stack.services.engine.sync_user(USER)
    assert sum(quiet.done.values()) == 0, quiet.done  # R5: our own writes are not synced back

    # Update each way.
    await stack.outlook("PATCH", f"/users/{MAILBOX}/events/{event['id']}", json={"location": {"displayName": "HQ"}})
    current = (await stack.erp_call("GET", f"/activities/{activity['id']}")).json()
    await stack.erp_call(
        "PATCH",
        f"/activities/{activity['id']}",
        json={"location": "Fjord room"},
        headers={"If-Match": f'"{current["version"]}"'},
    )
    second = await stack.services.engine.sync_user(USER)
    assert (second.done["erp updated"], second.done["m365 updated"]) == (1, 1), second.done
    assert (await _activities(stack))["Customer visit"]["location"] == "HQ"
    assert (await _events(stack))["Meeting: Quote review"]["location"]["displayName"] == "Fjord room"

    # Delete each way: R8 voids the ERP meeting; voiding in the ERP removes the event.
    await stack.outlook("DELETE", f"/users/{MAILBOX}/events/{event['id']}")
    current = (await stack.erp_call("GET", f"/activities/{activity['id']}")).json()
    await stack.erp_call("POST", f"/activities/{activity['id']}/void", headers={"If-Match": f'"{current["version"]}"'})
    third = await stack.services.engine.sync_user(USER)
    assert (third.done["erp voided"], third.done["m365 deleted"]) == (1, 1), third.done
    assert (await _activities(stack))["Customer visit"]["state"] == "voided"
    assert "Meeting: Quote review" not in await _events(stack)

    final = await stack.services.engine.sync_user(USER)
    assert sum(final.done.values()) == 0, final.done


@pytest.mark.integration
async def test_user_without_erp_defaults_is_reported_not_synced(stack: Stack) -> None:
    """R2/R31: a user lacking the ERP defaults is unsyncable, with the reason recorded for the admin."""
    seed_store(
        stack.erp_app.state.store,
        {"users": [{"id": "U-DANA", "displayName": "Dana", "email": "dana@contoso.example", "enabled": True}]},
    )
    report = await stack.services.engine.sync_user("U-DANA")
    assert report.status == "unsyncable"
    issues = await stack.services.state.open_issues("U-DANA")
    assert [i.kind for i in issues] == [IssueKind.UNSYNCABLE_USER]
    assert "default company" in issues[0].reason


@pytest.mark.integration
async def test_read_only_activity_edited_in_outlook_is_a_conflict(stack: Stack) -> None:
    """R7: the ERP record stays, the event is marked "Sync conflict", the M365 version is kept in the record."""
    await _seed(stack)
    event = await _outlook_event(stack, "Board meeting")
    await stack.services.engine.sync_user(USER)
    activity = (await _activities(stack))["Board meeting"]
    await stack.erp_call(
        "POST", f"/activities/{activity['id']}/release", headers={"If-Match": f'"{activity["version"]}"'}
    )
    await stack.outlook("PATCH", f"/users/{MAILBOX}/events/{event['id']}", json={"subject": "Board meeting (moved)"})
    report = await stack.services.engine.sync_user(USER)
    assert report.done["conflicts"] == 1, report
    assert (await _activities(stack))["Board meeting"]["subject"] == "Board meeting"
    marked = (await stack.outlook("GET", f"/users/{MAILBOX}/events/{event['id']}")).json()
    assert "Sync conflict" in marked["categories"]
    conflicts = [i for i in await stack.services.state.open_issues(USER) if i.kind is IssueKind.CONFLICT]
    assert conflicts
    assert conflicts[0].payload is not None
    assert "Board meeting (moved)" in conflicts[0].payload
    again = await stack.services.engine.sync_user(USER)
    assert again.done["conflicts"] == 0  # recorded once, not re-applied every run
