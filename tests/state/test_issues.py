"""The issue log an admin reads (R31), on every state store (contract)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from shared.state.issue_entities import PAYLOAD_CHUNK_CHARS
from shared.state.model import Issue, IssueKind
from shared.state.port import StateStore
from shared.state.tables import TableStateStore
from tests.state.conftest import NOW

USER = "u-issues"


def issue(key: str = "conflict:ACT-1", **changes: object) -> Issue:
    values: dict[str, object] = {
        "user_id": USER,
        "key": key,
        "kind": IssueKind.CONFLICT,
        "reason": "the ERP activity is released and read-only",
        "event_id": "AAMk/ev==",
        "activity_id": "ACT-1",
        "payload": json.dumps({"subject": "Kick-off", "start": "2026-11-22T09:00:00Z"}),
        "first_seen": NOW,
        "last_seen": NOW,
    }
    values.update(changes)
    return Issue.model_validate(values)


async def test_recorded_issue_round_trips_and_is_open(store: StateStore) -> None:
    """A new issue is stored with its reason and payload and listed as open (R31, R7 keeps the payload)."""
    recorded = await store.record_issue(issue())
    assert recorded.etag
    assert recorded.occurrences == 1
    assert await store.open_issues(USER) == [recorded]
    assert await store.open_issues() == [recorded]


async def test_repeated_issue_counts_occurrences_instead_of_duplicating(store: StateStore) -> None:
    """The same key again updates the open issue: occurrences + 1, first_seen kept, last_seen and payload new (R31)."""
    await store.record_issue(issue())
    later = NOW + timedelta(minutes=10)
    repeated = await store.record_issue(issue(last_seen=later, first_seen=later, payload='{"subject":"v2"}'))
    assert repeated.occurrences == 2
    assert repeated.first_seen == NOW
    assert repeated.last_seen == later
    assert await store.open_issues(USER) == [repeated]
    assert repeated.payload == '{"subject":"v2"}'


async def test_concurrent_repeats_are_all_counted(store: StateStore, other_store: StateStore) -> None:
    """Repeats racing from two workers are each counted once: the upsert retries on ETag conflicts (R31)."""
    await store.record_issue(issue())
    await asyncio.gather(*(s.record_issue(issue()) for s in [store, other_store] * 3))
    [stored] = await store.open_issues(USER)
    assert stored.occurrences == 7


async def test_resolved_issue_leaves_the_open_list_and_reopens_on_recurrence(store: StateStore) -> None:
    """A fixed cause resolves the issue; if it happens again it is open anew with a fresh count (R31)."""
    await store.record_issue(issue())
    await store.record_issue(issue(key="other", kind=IssueKind.REFUSED_ITEM))
    await store.resolve_issue(USER, "conflict:ACT-1", now=NOW + timedelta(hours=1))
    assert [open_issue.key for open_issue in await store.open_issues(USER)] == ["other"]
    await store.resolve_issue(USER, "conflict:ACT-1", now=NOW + timedelta(hours=2))  # already resolved: no-op
    await store.resolve_issue(USER, "never-recorded", now=NOW)  # unknown key: no-op
    again = await store.record_issue(issue(last_seen=NOW + timedelta(days=1), first_seen=NOW + timedelta(days=1)))
    assert again.occurrences == 1
    assert again.resolved_at is None
    assert again.first_seen == NOW + timedelta(days=1)
    assert {open_issue.key for open_issue in await store.open_issues(USER)} == {"conflict:ACT-1", "other"}


async def test_open_issues_are_filtered_by_user(store: StateStore) -> None:
    """Asking for one user's issues leaves other users' out; asking for all lists every user (R31)."""
    mine = await store.record_issue(issue())
    theirs = await store.record_issue(issue(user_id="someone/else", kind=IssueKind.UNSYNCABLE_USER))
    assert await store.open_issues(USER) == [mine]
    assert sorted(await store.open_issues(), key=lambda found: found.user_id) == sorted(
        [mine, theirs], key=lambda found: found.user_id
    )


async def test_payload_over_64_kib_is_kept_whole_across_properties(store: StateStore) -> None:
    """A 200 K-character payload exceeds one string property but is stored whole in chunks (R7: nothing is lost)."""
    payload = json.dumps({"body": "é" * 200_000}, ensure_ascii=False)
    assert len(payload) > 3 * PAYLOAD_CHUNK_CHARS
    recorded = await store.record_issue(issue(payload=payload))
    [stored] = await store.open_issues(USER)
    assert stored.payload == payload
    assert stored == recorded


async def test_payload_beyond_the_entity_limit_is_truncated_with_a_marker(table_store: TableStateStore) -> None:
    """A payload over 1 MiB is truncated to fit and says so, so the issue is still recorded (R31, documented)."""
    payload = "x" * 700_000  # 1.4 MB as UTF-16
    recorded = await table_store.record_issue(issue(payload=payload))
    [stored] = await table_store.open_issues(USER)
    assert stored.payload == recorded.payload
    assert stored.payload is not None
    assert "[truncated by the state store:" in stored.payload
    assert f"of {len(payload)} characters kept" in stored.payload
    kept = stored.payload.split("\n[truncated")[0]
    assert payload.startswith(kept)
    assert len(kept) > 400_000
