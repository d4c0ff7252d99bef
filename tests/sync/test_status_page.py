"""The admin's status page (issue 13, item 1) on the in-process stack: who may see it, what it shows, what its
buttons do. The page in a real browser: tests/functions_host/test_status_page_browser.py."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from emulators.stack import start_stack
from shared.state.model import Issue, IssueKind, JobRecord, RunRecord
from tests.sync.conftest import Stack
from tests.sync.status_helpers import ADMIN_ROLE, KEY, RecordingQueue, get, post, principal, token_of

NOW = datetime.now(UTC)


@pytest.fixture
async def stack(azurite_connection_string: str) -> AsyncIterator[Stack]:
    """The in-process stack with the status page key and an admin role set, and a queue that records."""
    started = await start_stack(azurite_connection_string, STATUS_PAGE_KEY=KEY, STATUS_PAGE_ADMINS=ADMIN_ROLE)
    started.services.queue = RecordingQueue()
    try:
        yield started
    finally:
        await started.aclose()


def queued(stack: Stack) -> list[tuple[str, str]]:
    queue = stack.services.queue
    assert isinstance(queue, RecordingQueue)
    return [(request.user_id, request.reason) for request in queue.requests]


async def issue(stack: Stack, user_id: str, key: str, kind: IssueKind, reason: str, **extra: str) -> None:
    await stack.services.state.record_issue(
        Issue(user_id=user_id, key=key, kind=kind, reason=reason, first_seen=NOW, last_seen=NOW, **extra)
    )


async def test_without_the_key_the_page_answers_401_with_a_sign_in_form_and_no_data(stack: Stack) -> None:
    """Nobody gets in anonymously: a plain GET is 401 and shows only the key form, none of the tenant's data."""
    await stack.add_person(user_id="U-ANN", mailbox="ann@contoso.example", name="Ann Andersen")
    answer = await get(stack)
    assert answer.status == 401
    assert 'name="key"' in answer.body
    assert "Ann Andersen" not in answer.body
    assert ("Cache-Control", "no-store") in answer.headers


async def test_a_wrong_key_is_401_and_the_right_one_opens_the_page(stack: Stack) -> None:
    """The key works as the X-Status-Key header (scripts) or the sign-in form's field (a browser)."""
    await stack.add_person(user_id="U-ANN", mailbox="ann@contoso.example", name="Ann Andersen")
    assert (await post(stack, {"key": "not-the-key-0123456789"})).status == 401
    by_header = await get(stack, {"X-Status-Key": KEY})
    by_form = await post(stack, {"key": KEY})
    for answer in (by_header, by_form):
        assert answer.status == 200
        assert "Ann Andersen" in answer.body
        assert "never run" in answer.body
    assert KEY not in by_form.body  # the page carries a derived token, never the key


async def test_app_service_sign_in_lets_admins_in_and_others_get_403(stack: Stack) -> None:
    """In Azure, App Service authentication passes the signed-in person's claims; only STATUS_PAGE_ADMINS
    roles (or groups) see the page, and the header counts only where the platform says sign-in is on."""
    admin_answer = await get(stack, {"X-MS-CLIENT-PRINCIPAL": principal(roles=(ADMIN_ROLE,))}, platform_auth=True)
    assert admin_answer.status == 200
    assert "ada@contoso.example" in admin_answer.body
    other = await get(stack, {"X-MS-CLIENT-PRINCIPAL": principal(roles=("Reader",))}, platform_auth=True)
    assert other.status == 403
    assert "who is not one of the status page" in other.body
    forged = await get(stack, {"X-MS-CLIENT-PRINCIPAL": principal(roles=(ADMIN_ROLE,))}, platform_auth=False)
    assert forged.status == 401
    garbled = await get(stack, {"X-MS-CLIENT-PRINCIPAL": "%%%not-base64"}, platform_auth=True)
    assert garbled.status == 401
    signed_out = await get(stack, platform_auth=True)
    assert signed_out.status == 401
    assert "/.auth/login/aad" in signed_out.body


async def test_an_action_without_the_pages_token_is_refused_and_nothing_is_queued(stack: Stack) -> None:
    """CSRF: a signed-in admin's browser posting a form from another site has no token; it does nothing."""
    headers = {"X-MS-CLIENT-PRINCIPAL": principal(roles=(ADMIN_ROLE,))}
    forged = await post(stack, {"action": "sync", "user": "U-ANN"}, headers, platform_auth=True)
    expired = await post(stack, {"action": "sync", "user": "U-ANN", "token": "1.abc"}, headers, platform_auth=True)
    assert (forged.status, expired.status) == (403, 403)
    assert queued(stack) == []


async def test_sync_now_queues_the_user_and_the_page_says_so(stack: Stack) -> None:
    """The "Sync now" button queues the same message a notification would, marked as the admin's."""
    page = await post(stack, {"key": KEY})
    answer = await post(stack, {"token": token_of(page), "action": "sync", "user": "U-ANN"})
    assert answer.status == 200
    assert "A sync of U-ANN is queued." in answer.body
    assert queued(stack) == [("U-ANN", "admin")]


async def test_the_page_shows_each_kind_of_problem_with_outside_text_escaped(stack: Stack) -> None:
    """Conflicts with the M365 version kept, refused items, unsyncable users, halted deletions, failed runs,
    waiting copies, subscriptions' expiry, jobs and last runs, each in its section; nothing from outside is
    markup."""
    state = stack.services.state
    await stack.add_person(user_id="U-ANN", mailbox="ann@contoso.example", name="Ann Andersen")
    await issue(
        stack,
        "U-ANN",
        "item|E1|A1",
        IssueKind.CONFLICT,
        "read-only <b>released</b> activity",
        payload=json.dumps({"subject": "<script>alert(1)</script>"}),
    )
    await issue(stack, "U-ANN", "item|E2|", IssueKind.REFUSED_ITEM, "the ERP refused: no contact", event_id="E2")
    await issue(stack, "U-GONE", "user", IssueKind.UNSYNCABLE_USER, "not syncable, missing: enabled (R2)")
    await issue(stack, "U-ANN", "mass-delete", IssueKind.MASS_DELETE, "m365 reported 6 of 7 linked items gone")
    await issue(stack, "U-ANN", "run", IssueKind.FAILURE, "the sync run failed (ErpUnavailable): down")
    await issue(stack, "U-ANN", "item|E3|", IssueKind.WAITING, "waiting for the organizer's mailbox", event_id="E3")
    await state.record_run(
        RunRecord(
            user_id="U-ANN",
            outcome="halted",
            started_at=NOW - timedelta(seconds=3),
            finished_at=NOW,
            counts={"create_event": 2},
            next_due=NOW + timedelta(minutes=10),
        )
    )
    await state.record_job_run(JobRecord(name="safety_net", outcome="ok", at=NOW, counts={"count": 1}))
    body = (await get(stack, {"X-Status-Key": KEY})).body
    for text in (
        "Conflicts (R7)",
        "M365 version kept",
        "read-only &lt;b&gt;released&lt;/b&gt; activity",
        "&lt;script&gt;alert(1)&lt;/script&gt;",
        "the ERP refused: no contact",
        "not syncable, missing: enabled",
        "m365 reported 6 of 7 linked items gone",
        "Release the deletion",
        "the sync run failed (ErpUnavailable)",
        "waiting for the organizer",
        "safety_net",
        "create_event 2",
        "3.0 s",
        "halted",
    ):
        assert text in body, text
    assert "<script>" not in body
    assert "<b>released" not in body


async def test_release_turns_the_halted_deletion_into_a_released_one_and_queues_the_user(stack: Stack) -> None:
    """R11: the button marks the row RELEASED (the next run lets its removals through once) and queues it."""
    await issue(stack, "U-ANN", "mass-delete", IssueKind.MASS_DELETE, "m365 reported 6 of 7 linked items gone")
    token = token_of(await post(stack, {"key": KEY}))
    answer = await post(stack, {"token": token, "action": "release", "user": "U-ANN"})
    assert "is released" in answer.body
    [row] = await stack.services.state.open_issues("U-ANN")
    assert row.kind is IssueKind.RELEASED
    assert "released by the status page key" in row.reason
    assert queued(stack) == [("U-ANN", "admin-release")]
    again = await post(stack, {"token": token, "action": "release", "user": "U-ANN"})
    assert "Nothing to release" in again.body  # a second click (or a refresh) does nothing more
    assert len(queued(stack)) == 1


async def test_retry_queues_the_user_and_keeps_the_item_open_until_it_syncs(stack: Stack) -> None:
    """The open issue is what makes the next run offer the item again, so retry queues the run, resolves
    nothing; an item that is no longer open is not retried."""
    await issue(stack, "U-ANN", "item|E2|", IssueKind.REFUSED_ITEM, "the ERP refused: no contact", event_id="E2")
    token = token_of(await post(stack, {"key": KEY}))
    answer = await post(stack, {"token": token, "action": "retry", "user": "U-ANN", "key": "item|E2|"})
    assert "offers the item again" in answer.body
    assert [i.key for i in await stack.services.state.open_issues("U-ANN")] == ["item|E2|"]
    missing = await post(stack, {"token": token, "action": "retry", "user": "U-ANN", "key": "item|E9|"})
    assert "Nothing to retry" in missing.body
    assert queued(stack) == [("U-ANN", "admin-retry")]


async def test_a_halted_leave_removal_can_be_released_too_and_nothing_else_can(stack: Stack) -> None:
    """R11: most of a user's leave events gone at once halts as its own row; the page releases it like the
    activities' one, and refuses to 'release' any other kind of row."""
    await issue(stack, "U-ANN", "leave-mass-delete", IssueKind.MASS_DELETE, "6 of 7 leave events gone at once")
    await issue(stack, "U-ANN", "item|E2|", IssueKind.REFUSED_ITEM, "the ERP refused")
    token = token_of(await post(stack, {"key": KEY}))
    answer = await post(stack, {"token": token, "action": "release", "user": "U-ANN", "key": "leave-mass-delete"})
    assert "is released" in answer.body
    refused = await post(stack, {"token": token, "action": "release", "user": "U-ANN", "key": "item|E2|"})
    assert "not a halted deletion" in refused.body
    kinds = {i.key: i.kind for i in await stack.services.state.open_issues("U-ANN")}
    assert kinds == {"leave-mass-delete": IssueKind.RELEASED, "item|E2|": IssueKind.REFUSED_ITEM}
