"""Leave requests in a user's run (R30, behind ``SYNC_LEAVE_REQUESTS``, R3): read the leave feed (its own
cursor), the requests of leave events that changed in the mailbox, plan (``core.plan_leave``, pure) and
write (``sync.write_leave``).

The engine calls ``sync_leave`` inside the user's run, under the user's lease, after the activity plan is
written, and again on each follow-up delta round (without reading the feed) so an Outlook edit of a leave
event that slipped in during the run is put back too. Leave events never reach the activity planner
(``without_leave``), so none of them can become a meeting (R23).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from shared.core.activities import LeaveRequest
from shared.core.leave import is_leave_key, is_leave_link, leave_id_of
from shared.core.links import Link, LinkState
from shared.core.m365 import DeltaEntry
from shared.core.plan_leave import LeaveRunInput, plan_leave
from shared.errors import ErpNotFound
from shared.state.model import ErpCursor, IssueKind
from shared.sync import issues
from shared.sync.context import RunContext
from shared.sync.write_leave import ISSUE_PREFIX, execute_leave, leave_request_id_of

LEAVE_FEED = "leave-requests"
MASS_DELETE_ISSUE = "leave-mass-delete"


def is_leave_entry(entry: DeltaEntry, leave_events: set[str]) -> bool:
    """A change to a leave event: linked as leave, or carrying our leave stamp (its link lost)."""
    return entry.event_id in leave_events or (entry.event is not None and is_leave_key(entry.event.erp_stamp))


def without_leave(links: Sequence[Link], entries: Sequence[DeltaEntry]) -> tuple[list[Link], list[DeltaEntry]]:
    """The links and calendar changes of the activity sync: everything but leave (R23, R30)."""
    leave_events = {link.event_id for link in links if is_leave_link(link) and link.event_id}
    return (
        [link for link in links if not is_leave_link(link)],
        [entry for entry in entries if not is_leave_entry(entry, leave_events)],
    )


async def sync_leave(
    run: RunContext, entries: Sequence[DeltaEntry], links: Sequence[Link], now: datetime, *, read_feed: bool = True
) -> None:
    """Make the mailbox show the user's approved leave (R30). ``entries`` are the run's calendar changes
    (removals confirmed, R9); only those of leave events are looked at. The leave cursor moves only when the
    plan was written (a transient failure raises, and the next run reads the same changes again)."""
    ports, report = run.ports, run.report
    # R4's "an initial pull never deletes" is the user's first leave pull. A user with leave events linked who
    # reads the snapshot again (a host died before the leave cursor was saved) is past it: a request the ERP now
    # shows rejected or cancelled loses its event (R30), else that change would be lost once the cursor moves on.
    leave_links = [run.current(link) for link in links if is_leave_link(link)]
    shown_before = any(link.state is LinkState.ACTIVE for link in leave_links)
    leave_events = {link.event_id for link in leave_links if link.event_id}
    changed = [entry for entry in entries if is_leave_entry(entry, leave_events)]
    if not ports.policy.leave_requests:
        report.skipped.extend(f"m365 {e.event_id}: leave requests are not synced (R3)" for e in changed)
        return
    requests: dict[str, LeaveRequest | None] = {}
    cursor: ErpCursor | None = None
    feed_cursor: str | None = None
    if read_feed:
        cursor = await ports.state.get_erp_cursor(run.user.id, LEAVE_FEED)
        feed = await ports.erp.leave_request_changes(
            user_id=run.user.id,
            cursor=cursor.cursor if cursor else None,
            ends_after=now - timedelta(hours=ports.policy.erp_lookback_hours),
        )
        for change in sorted(feed.items, key=lambda c: c.seq):
            requests[change.leave_request_id] = None if change.deleted else change.leave_request
        feed_cursor = feed.cursor
    await _read_the_rest(run, requests, changed, leave_links, retry=read_feed)
    the_plan = plan_leave(
        LeaveRunInput(
            user_id=run.user.id,
            requester_zone=run.user.time_zone,
            policy=ports.policy,
            now=now,
            links=leave_links,
            requests=requests,
            events=changed,
            erp_initial=read_feed and cursor is None and not shown_before,
            removals_released=MASS_DELETE_ISSUE in run.released_keys,
        )
    )
    if the_plan.halted:
        await issues.record(run, MASS_DELETE_ISSUE, IssueKind.MASS_DELETE, the_plan.halted)
        report.count("leave halted")
        return  # R11: nothing written, the leave cursor unchanged, until a person looks
    for action in the_plan.actions:
        await execute_leave(action, run)
    if read_feed:  # R31: a refused request that needs no write any more (withdrawn, or gone) is settled
        planned = {leave_request_id_of(action) for action in the_plan.actions}
        for key in sorted(k for k in run.open_issue_keys if k.startswith(ISSUE_PREFIX)):
            if key.removeprefix(ISSUE_PREFIX) not in planned:
                await ports.state.resolve_issue(run.user.id, key, now=run.now())
                run.open_issue_keys.discard(key)
    if MASS_DELETE_ISSUE in run.open_issue_keys:
        await ports.state.resolve_issue(run.user.id, MASS_DELETE_ISSUE, now=run.now())
        run.open_issue_keys.discard(MASS_DELETE_ISSUE)
    if feed_cursor is not None:
        await ports.state.save_erp_cursor(
            ErpCursor(
                user_id=run.user.id,
                feed=LEAVE_FEED,
                cursor=feed_cursor,
                updated_at=now,
                etag=cursor.etag if cursor else None,
            )
        )


async def _read_the_rest(
    run: RunContext,
    requests: dict[str, LeaveRequest | None],
    changed: Sequence[DeltaEntry],
    leave_links: Sequence[Link],
    *,
    retry: bool,
) -> None:
    """The requests the feed did not bring but the plan needs: those of leave events edited or deleted in
    Outlook (to put them back), and, on a run's first round, those refused before (R31: offered again)."""
    by_event = {link.event_id: link for link in leave_links if link.event_id}
    wanted: set[str] = set()
    for entry in changed:
        link = by_event.get(entry.event_id)
        key = link.activity_id if link is not None else (entry.event.erp_stamp if entry.event else None)
        if key is not None and is_leave_key(key):
            wanted.add(leave_id_of(key))
    if retry:
        wanted |= {key.removeprefix(ISSUE_PREFIX) for key in run.open_issue_keys if key.startswith(ISSUE_PREFIX)}
    for leave_id in sorted(wanted - requests.keys()):
        try:
            requests[leave_id] = await run.ports.erp.get_leave_request(leave_id)
        except ErpNotFound:
            requests[leave_id] = None
