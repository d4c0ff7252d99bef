"""What the daily clean-up deletes, on every state store (contract): bounded, idempotent, nothing else."""

from __future__ import annotations

from datetime import timedelta

from shared.core.links import LinkState
from shared.state.model import Issue, IssueKind
from shared.state.port import StateStore
from tests.state.conftest import NOW
from tests.state.test_links import make_link

OLD = NOW - timedelta(days=40)
CUT = NOW - timedelta(days=30)


async def test_only_links_no_longer_active_and_older_than_the_cut_are_stale(store: StateStore) -> None:
    """A retired and a detached link last changed 40 days ago are stale; a retired one from yesterday and an
    active one from 40 days ago are not."""
    await store.save_link(make_link("L1", state=LinkState.RETIRED, updated_at=OLD))
    await store.save_link(make_link("L2", state=LinkState.DETACHED, updated_at=OLD))
    await store.save_link(make_link("L3", state=LinkState.RETIRED, updated_at=NOW - timedelta(days=1)))
    await store.save_link(make_link("L4", updated_at=OLD))
    stale = await store.stale_links(before=CUT, limit=100)
    assert sorted(link.link_id for link in stale) == ["L1", "L2"]
    assert len(await store.stale_links(before=CUT, limit=1)) == 1


async def test_deleted_links_take_their_index_rows_and_a_link_changed_since_read_stays(store: StateStore) -> None:
    """The stale links go with their event and activity index (a new link may take that event); one saved
    again after it was read is kept; deleting again is a no-op."""
    for n in range(40):  # more than one transaction's worth for one user
        await store.save_link(make_link(f"L{n:02d}", state=LinkState.RETIRED, updated_at=OLD))
    stale = await store.stale_links(before=CUT, limit=100)
    changed = next(link for link in stale if link.link_id == "L07")
    await store.save_link(changed.model_copy(update={"updated_at": NOW}))
    assert await store.delete_links(stale) == 39
    remaining = await store.links_for_user(changed.user_id)
    assert [link.link_id for link in remaining] == ["L07"]
    assert await store.link_by_event(changed.user_id, make_link("L01").event_id or "") is None
    await store.save_link(make_link("new", event_id=make_link("L01").event_id, activity_id="ACT-new"))
    assert await store.delete_links(stale) == 0


async def test_resolved_issues_older_than_the_cut_are_deleted_open_ones_stay(store: StateStore) -> None:
    """An issue resolved 40 days ago goes; one resolved yesterday and an open one from 40 days ago stay."""
    for key in ("old", "recent", "open"):
        await store.record_issue(
            Issue(user_id="u1", key=key, kind=IssueKind.FAILURE, reason=key, first_seen=OLD, last_seen=OLD)
        )
    await store.resolve_issue("u1", "old", now=OLD)
    await store.resolve_issue("u1", "recent", now=NOW - timedelta(days=1))
    assert await store.prune_resolved_issues(before=CUT, limit=100) == 1
    assert await store.prune_resolved_issues(before=CUT, limit=100) == 0
    assert sorted(issue.key for issue in await store.open_issues("u1")) == ["open"]
    await store.record_issue(  # the recent one is still there: recording it again reopens it, counted anew
        Issue(user_id="u1", key="recent", kind=IssueKind.FAILURE, reason="again", first_seen=NOW, last_seen=NOW)
    )
    assert sorted(issue.key for issue in await store.open_issues("u1")) == ["open", "recent"]


async def test_replay_rows_of_hours_before_the_cut_are_deleted_later_ones_still_refuse_a_replay(
    store: StateStore,
) -> None:
    """Tokens minted two hours ago are past the hook's window and go; one minted now still refuses its copy."""
    for n in range(3):
        assert await store.first_use(f"old-{n}", at=NOW - timedelta(hours=2))
    assert await store.first_use("fresh", at=NOW)
    assert await store.prune_replays(before=NOW - timedelta(minutes=5), limit=100) == 3
    assert await store.prune_replays(before=NOW - timedelta(minutes=5), limit=100) == 0
    assert not await store.first_use("fresh", at=NOW)
