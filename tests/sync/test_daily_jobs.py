"""The daily jobs end to end (issue 11): the close job (R29) and the clean-up, on the in-process stack (Graph
emulator, reference ERP over HTTP, state in Azurite). The jobs read ``services.clock``; a test moves it to
"tonight" to let time pass."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared import handlers
from shared.core.items import ItemKind, Side
from shared.core.links import Link, LinkState
from shared.state.model import DeltaCursor, Issue, IssueKind, SubscriptionRecord
from tests.sync.conftest import Stack

MAILBOX = "ann@contoso.example"
USER = "U-ANN"


def _at(days: int, hour: int) -> datetime:
    return datetime.now(UTC).replace(hour=hour, minute=0, second=0, microsecond=0) + timedelta(days=days)


async def _outlook_event(stack: Stack, subject: str, *, days: int) -> dict[str, Any]:
    start, end = _at(days, 9), _at(days, 10)
    body = {
        "subject": subject,
        "start": {"dateTime": start.replace(tzinfo=None).isoformat(), "timeZone": "UTC"},
        "end": {"dateTime": end.replace(tzinfo=None).isoformat(), "timeZone": "UTC"},
    }
    return dict((await stack.outlook("POST", f"/users/{MAILBOX}/events", json=body)).json())


async def _erp_activity(stack: Stack, subject: str, *, days: int) -> dict[str, Any]:
    start = _at(days, 13).replace(tzinfo=None)
    body = {
        "type": "task",
        "subject": subject,
        "start": start.isoformat(),
        "end": (start + timedelta(hours=1)).isoformat(),
        "timeZone": "UTC",
        "ownerId": USER,
        "state": "confirmed",
    }
    return dict((await stack.erp_call("POST", "/activities", json=body, headers={"Idempotency-Key": subject})).json())


async def _activities(stack: Stack) -> dict[str, dict[str, Any]]:
    page = (await stack.erp_call("GET", "/activity-changes", params={"userId": USER})).json()
    return {c["activity"]["subject"]: c["activity"] for c in page["items"] if c.get("activity")}


@pytest.mark.integration
async def test_R29_close_job_closes_only_ended_activities_that_came_from_outlook(stack: Stack) -> None:
    """Tomorrow's Outlook meeting and an ERP task, both over by the night after; an Outlook meeting next week:
    the job that night closes the ended meeting from Outlook only, and a second run closes nothing more."""
    await stack.add_person(user_id=USER, mailbox=MAILBOX, name="Ann")
    await _outlook_event(stack, "Customer visit", days=1)
    await _outlook_event(stack, "Next week's review", days=7)
    await _erp_activity(stack, "Call back Frida", days=1)
    assert (await stack.services.engine.sync_user(USER)).done["erp created"] == 2

    stack.services.clock = lambda: _at(2, 1)  # the night after tomorrow, 01:00 UTC
    counts = await handlers.daily_close(stack.services)
    assert counts["closed"] == 1
    states = {subject: a["state"] for subject, a in (await _activities(stack)).items()}
    assert states == {"Customer visit": "closed", "Next week's review": "confirmed", "Call back Frida": "confirmed"}
    again = await handlers.daily_close(stack.services)
    assert again.get("closed", 0) == 0  # R7: a read-only activity is not closed twice


@pytest.mark.integration
async def test_R7_an_outlook_edit_of_an_event_whose_activity_was_closed_is_a_conflict(stack: Stack) -> None:
    """After the close job, Ann moves the ended meeting's event: the ERP refuses (read-only), the admin sees a
    conflict with the Outlook version, and the event is marked with the conflict category."""
    await stack.add_person(user_id=USER, mailbox=MAILBOX, name="Ann")
    event = await _outlook_event(stack, "Customer visit", days=1)
    await stack.services.engine.sync_user(USER)
    stack.services.clock = lambda: _at(2, 1)
    assert (await handlers.daily_close(stack.services))["closed"] == 1

    await stack.outlook("PATCH", f"/users/{MAILBOX}/events/{event['id']}", json={"subject": "Customer visit (moved)"})
    report = await stack.services.engine.sync_user(USER)
    assert report.done["conflicts"] == 1, report
    conflicts = [i for i in await stack.services.state.open_issues(USER) if i.kind is IssueKind.CONFLICT]
    assert len(conflicts) == 1
    assert conflicts[0].payload is not None
    assert "Customer visit (moved)" in conflicts[0].payload
    marked = (await stack.outlook("GET", f"/users/{MAILBOX}/events/{event['id']}")).json()
    assert "Sync conflict" in marked["categories"]
    assert (await _activities(stack))["Customer visit"]["subject"] == "Customer visit"


@pytest.mark.integration
async def test_R29_close_job_leaves_a_user_whose_run_holds_the_lease_for_the_next_night(stack: Stack) -> None:
    """A sync run holds Ann's lease when the job comes: it writes nothing for her (no race) and says so."""
    await stack.add_person(user_id=USER, mailbox=MAILBOX, name="Ann")
    await _outlook_event(stack, "Customer visit", days=1)
    await stack.services.engine.sync_user(USER)
    night = _at(2, 1)
    stack.services.clock = lambda: night
    held = await stack.services.state.acquire_lease(USER, owner="a-sync-run", now=night, ttl_seconds=60)
    assert held is not None
    counts = await handlers.daily_close(stack.services)
    assert counts == {"users busy": 1}
    assert (await _activities(stack))["Customer visit"]["state"] == "confirmed"


def _tombstone(link_id: str, *, state: LinkState, updated_at: datetime, activity_id: str) -> Link:
    return Link(
        user_id=USER,
        link_id=link_id,
        kind=ItemKind.TASK,
        origin=Side.ERP,
        state=state,
        event_id=f"gone-{link_id}",
        activity_id=activity_id,
        updated_at=updated_at,
    )


@pytest.mark.integration
async def test_cleanup_removes_what_no_run_reads_and_nothing_else(stack: Stack) -> None:
    """Forty days on: a retired link and a resolved issue from back then go, as do replay rows past the hook's
    window, the subscription and delta cursor of a user switched off; a detached link whose task still lies
    ahead stays (its event would come back), as do recent records and everything of enabled users.
    A second run finds nothing more."""
    await stack.add_person(user_id=USER, mailbox=MAILBOX, name="Ann")
    await stack.add_person(user_id="U-CARL", mailbox="carl@contoso.example", name="Carl")
    state, now = stack.services.state, datetime.now(UTC)
    old = now - timedelta(days=40)
    future_task = await _erp_activity(stack, "Renew the contract", days=20)
    await state.save_link(_tombstone("retired-old", state=LinkState.RETIRED, updated_at=old, activity_id="A-1"))
    await state.save_link(_tombstone("retired-new", state=LinkState.RETIRED, updated_at=now, activity_id="A-2"))
    await state.save_link(
        _tombstone("detached-live", state=LinkState.DETACHED, updated_at=old, activity_id=future_task["id"])
    )
    await state.save_link(_tombstone("detached-gone", state=LinkState.DETACHED, updated_at=old, activity_id="A-404"))
    for key, resolved in (("old", old), ("recent", now - timedelta(days=1))):
        await state.record_issue(
            Issue(user_id=USER, key=key, kind=IssueKind.FAILURE, reason=key, first_seen=old, last_seen=old)
        )
        await state.resolve_issue(USER, key, now=resolved)
    assert await state.first_use("hook-delivery-yesterday", at=now - timedelta(days=1))
    for user_id, mailbox in ((USER, MAILBOX), ("U-CARL", "carl@contoso.example")):
        await state.save_subscription(
            SubscriptionRecord(
                subscription_id=f"sub-{user_id}",
                user_id=user_id,
                mailbox=mailbox,
                resource=f"/users/{mailbox}/events",
                expires_at=now + timedelta(days=2),
                created_at=now,
            )
        )
        await state.save_delta_cursor(
            DeltaCursor(mailbox=mailbox, delta_link="https://x/delta", window_start=now, window_end=now, updated_at=now)
        )
    store = stack.erp_app.state.store
    store.put_user(store.get_user("U-CARL").model_copy(update={"enabled": False}))  # Carl is switched off (R2)

    counts = await handlers.daily_cleanup(stack.services)
    assert counts == {
        "replays deleted": 1,
        "links deleted": 2,
        "links kept (record still syncable)": 1,
        "issues deleted": 1,
        "subscriptions dropped": 1,
        "delta cursors removed": 1,
    }
    assert sorted(link.link_id for link in await state.links_for_user(USER)) == ["detached-live", "retired-new"]
    assert [r.user_id for r in await state.subscriptions()] == [USER]
    assert await state.get_delta_cursor("carl@contoso.example") is None
    assert await state.get_delta_cursor(MAILBOX) is not None
    again = await handlers.daily_cleanup(stack.services)
    assert again == {"links kept (record still syncable)": 1}
