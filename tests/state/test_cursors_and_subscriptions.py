"""Delta cursors, ERP cursors and subscription records, on every state store (contract)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from shared.errors import StateConflict
from shared.state.model import DeltaCursor, ErpCursor, SubscriptionRecord
from shared.state.port import StateStore
from tests.state.conftest import NOW

MAILBOX = "adele.vance@contoso.example"
DELTA_LINK = "https://graph.microsoft.com/v1.0/users/adele/calendarView/delta?$deltatoken=R0usmci39OQxqJrxK4/+xyz=="


def delta_cursor(**changes: object) -> DeltaCursor:
    values: dict[str, object] = {
        "mailbox": MAILBOX,
        "delta_link": DELTA_LINK,
        "window_start": NOW,
        "window_end": NOW + timedelta(days=31),
        "updated_at": NOW,
    }
    values.update(changes)
    return DeltaCursor.model_validate(values)


async def test_delta_cursor_round_trips_as_utc_instants(store: StateStore) -> None:
    """The deltaLink and its window survive as the same instants, stored in UTC (R4 window)."""
    berlin = timezone(timedelta(hours=1))
    cursor = delta_cursor(window_start=NOW.astimezone(berlin))
    saved = await store.save_delta_cursor(cursor)
    read = await store.get_delta_cursor(MAILBOX)
    assert read == saved
    assert read is not None
    assert read.window_start == cursor.window_start
    assert read.window_start.tzinfo == UTC


async def test_stale_delta_cursor_save_raises_conflict(store: StateStore) -> None:
    """Two runs advancing one mailbox's cursor: the one that read the older cursor loses (optimistic concurrency)."""
    saved = await store.save_delta_cursor(delta_cursor())
    await store.save_delta_cursor(saved.model_copy(update={"delta_link": DELTA_LINK + "&b"}))
    with pytest.raises(StateConflict):
        await store.save_delta_cursor(saved.model_copy(update={"delta_link": DELTA_LINK + "&a"}))
    read = await store.get_delta_cursor(MAILBOX)
    assert read is not None
    assert read.delta_link.endswith("&b")


async def test_cleared_delta_cursor_is_gone_and_can_be_started_again(store: StateStore) -> None:
    """After a lost delta token the cursor is cleared and a new window starts from scratch (R4)."""
    await store.save_delta_cursor(delta_cursor())
    await store.clear_delta_cursor(MAILBOX)
    assert await store.get_delta_cursor(MAILBOX) is None
    await store.clear_delta_cursor(MAILBOX)  # clearing twice is a no-op
    assert (await store.save_delta_cursor(delta_cursor())).etag


async def test_inserting_over_an_existing_cursor_raises_conflict(store: StateStore) -> None:
    """A cursor saved without an ETag is an insert: it never overwrites one another run stored."""
    await store.save_erp_cursor(ErpCursor(user_id="u1", feed="activities", cursor="c1", updated_at=NOW))
    with pytest.raises(StateConflict):
        await store.save_erp_cursor(ErpCursor(user_id="u1", feed="activities", cursor="c0", updated_at=NOW))


async def test_erp_cursors_are_kept_per_feed(store: StateStore) -> None:
    """Each ERP change feed of a user has its own cursor, updated with its ETag."""
    activities = await store.save_erp_cursor(ErpCursor(user_id="u1", feed="activities", cursor="c/1#", updated_at=NOW))
    leave = await store.save_erp_cursor(ErpCursor(user_id="u1", feed="leave-requests", cursor="L9", updated_at=NOW))
    advanced = await store.save_erp_cursor(activities.model_copy(update={"cursor": "c/2#"}))
    assert await store.get_erp_cursor("u1", "activities") == advanced
    assert await store.get_erp_cursor("u1", "leave-requests") == leave
    assert await store.get_erp_cursor("u2", "activities") is None


def subscription(subscription_id: str, **changes: object) -> SubscriptionRecord:
    values: dict[str, object] = {
        "subscription_id": subscription_id,
        "user_id": "u1",
        "mailbox": MAILBOX,
        "resource": "/users/u1/events",
        "expires_at": NOW + timedelta(days=3),
        "created_at": NOW,
    }
    values.update(changes)
    return SubscriptionRecord.model_validate(values)


async def test_subscriptions_round_trip_list_and_delete(store: StateStore) -> None:
    """Subscription records are found by id, listed for renewal and deleted (R32)."""
    first = await store.save_subscription(subscription("7f105c7d-2dc5-4530-97cd-4e7ae6534c07"))
    second = await store.save_subscription(subscription("sub/with#odd?id"))
    assert await store.get_subscription("sub/with#odd?id") == second
    assert sorted(await store.subscriptions(), key=lambda record: record.subscription_id) == [first, second]
    await store.delete_subscription(first.subscription_id)
    assert await store.get_subscription(first.subscription_id) is None
    assert await store.subscriptions() == [second]
    await store.delete_subscription(first.subscription_id)  # deleting twice is a no-op


async def test_renewed_subscription_needs_the_current_etag(store: StateStore) -> None:
    """A renewal based on an outdated read fails instead of shortening a newer expiry (R32)."""
    saved = await store.save_subscription(subscription("s1"))
    renewed = await store.save_subscription(saved.model_copy(update={"expires_at": NOW + timedelta(days=6)}))
    with pytest.raises(StateConflict):
        await store.save_subscription(saved.model_copy(update={"expires_at": NOW + timedelta(days=4)}))
    assert await store.get_subscription("s1") == renewed


async def test_a_one_time_token_is_accepted_once(store: StateStore) -> None:
    """The replay guard: the first use of a token is accepted, any repeat is refused, other tokens are not."""
    at = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    assert await store.first_use("erp-hook|sha256=ab", at=at) is True
    assert await store.first_use("erp-hook|sha256=ab", at=at) is False
    assert await store.first_use("erp-hook|sha256=cd", at=at) is True
