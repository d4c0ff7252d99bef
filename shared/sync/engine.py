"""``SyncEngine.sync_user``: one user's run, end to end — a short conductor.

Order of a run: take the user's lease; check the user is syncable (R2); read M365 changes (calendar-view
delta, or the initial window, R4), confirming every ``@removed`` with a direct read (R9); read the ERP feed
(activities the user owns or takes part in); offer again items with open issues (R31) and copies of
meetings to link (R10); read the meeting claims they need; plan (pure core); execute each action, storing
what ``core.records`` says right after its write; follow the delta over our own writes; store both
cursors; release the lease. A transient failure aborts before the cursors move, so the next run sees the
same changes again; links and claims make that replay harmless (R10).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from shared.core.actions import Plan
from shared.core.activities import ActivityChange, ErpUser
from shared.core.links import Link, LinkState
from shared.core.m365 import DeltaEntry
from shared.core.planner import RunInput, plan
from shared.core.policy import SyncPolicy
from shared.erp.port import ErpPort
from shared.errors import ErpNotFound, GraphMailboxUnavailable
from shared.graph.port import CalendarPort
from shared.state.model import DeltaCursor, ErpCursor, IssueKind
from shared.state.port import StateStore
from shared.sync import attachments, budget, inputs, issues, leave, series_inputs
from shared.sync.context import Ports, RunContext
from shared.sync.executor import execute
from shared.sync.lease import LeaseLost, run_under_lease
from shared.sync.report import RunReport

log = logging.getLogger(__name__)
ACTIVITY_FEED = "activities"
# A short lease, renewed by a heartbeat while the run is alive (shared/sync/lease.py): a run keeps its user
# however long it takes, and a worker that dies blocks its user for at most LEASE_SECONDS. A renewal that
# finds the lease lost cancels the run, so two workers never write for one user at once.
LEASE_SECONDS = 60.0
LEASE_RENEW_SECONDS = 15.0  # three renewals may fail (storage hiccups) before the lease ends
# Delta rounds after the plan's own calendar writes (each absorbs the writes of the one before).
FOLLOW_UP_ROUNDS = 3
MASS_DELETE_ISSUE = "mass-delete"  # R11: the user's halted mass deletion (released from the status page)


class SyncEngine:
    def __init__(
        self,
        *,
        calendar: CalendarPort,
        erp: ErpPort,
        state: StateStore,
        policy: SyncPolicy,
        clock: Callable[[], datetime],
        worker_id: str,
    ) -> None:
        self._ports = Ports(calendar=calendar, erp=erp, state=state, policy=policy, clock=clock)
        self._worker = worker_id

    async def sync_user(self, user_id: str) -> RunReport:
        report = RunReport(user_id=user_id)
        state, now = self._ports.state, self._ports.clock()
        lease = await state.acquire_lease(user_id, owner=self._worker, now=now, ttl_seconds=LEASE_SECONDS)
        if lease is None:
            report.status = "busy"
            return report
        try:
            await run_under_lease(
                state,
                lease,
                self._run(user_id, report),
                clock=self._ports.clock,
                ttl_seconds=LEASE_SECONDS,
                renew_every=LEASE_RENEW_SECONDS,
            )
        except LeaseLost:
            report.status = "lease-lost"  # another worker has the user now; the caller queues it again
        log.debug(report.summary())  # the worker logs the run's one INFO record, with its attributes
        return report

    async def _run(self, user_id: str, report: RunReport) -> None:
        ports, now = self._ports, self._ports.clock()
        open_issues = list(await ports.state.open_issues(user_id))
        open_keys = {issue.key for issue in open_issues}
        # R11: a person released the halted mass deletion (status page): this run lets its removals through once.
        released_keys = {i.key for i in open_issues if i.kind is IssueKind.RELEASED}
        released = MASS_DELETE_ISSUE in released_keys
        user = await self._syncable_user(user_id, report, open_keys)
        if user is None:
            return
        run = RunContext(
            ports=ports,
            user=user,
            mailbox=user.email or "",
            report=report,
            open_issue_keys=open_keys,
            released_keys=released_keys,
        )
        try:
            read = await inputs.m365_changes(ports, run.mailbox, now, ports.policy.window_days)
        except GraphMailboxUnavailable:
            reason = f"the mailbox {run.mailbox} cannot be read through Graph (R2)"
            await issues.record(run, "user", IssueKind.UNSYNCABLE_USER, reason)
            report.status = "unsyncable"
            return
        run.window = (read.cursor.window_start, read.cursor.window_end)  # R28: series are read within it
        erp_cursor = await ports.state.get_erp_cursor(user_id, ACTIVITY_FEED)
        feed = await ports.erp.activity_changes(
            user_id=user_id,
            cursor=erp_cursor.cursor if erp_cursor else None,
            ends_after=now - timedelta(hours=ports.policy.erp_lookback_hours),
        )
        links = list(await ports.state.links_for_user(user_id, active_only=True))  # flat in history (issue 12)
        m365 = await inputs.confirmed(ports, run.mailbox, read.entries, links, read.foreign)
        # R4: only the very first pull never deletes. A first pull again after a run that died before storing
        # its token finds links already: it is a resync, whose missing linked events are read one by one.
        first_pull = read.initial and not any(link.state is LinkState.ACTIVE for link in links)
        if read.resynced or (read.initial and not first_pull):
            m365 += await inputs.missing_from_snapshot(ports, run.mailbox, m365, links)
        elif read.since is not None:  # R9/R10: links a run saved before dying short of its cursor
            m365 += await inputs.linked_after(ports, run.mailbox, m365, links, read.since)
        m365_retries, erp_retries = await inputs.retries(run, links, m365, feed.items, open_issues)
        m365 = [*m365, *m365_retries, *await inputs.copies_to_link(run, feed.items, links, m365)]
        erp = await inputs.booked_rooms(run, [*feed.items, *erp_retries])
        links += await inputs.ended_links(ports, user_id, links, m365, erp)  # tombstones of what changed only
        the_plan = await self._plan(
            run,
            links,
            m365,
            erp,
            now,
            first_pull,
            erp_cursor is None and not any(link.state is LinkState.ACTIVE for link in links),  # R4, after a crash
            removals_released=released,
        )
        if the_plan.halted:
            await issues.record(run, MASS_DELETE_ISSUE, IssueKind.MASS_DELETE, the_plan.halted)
            report.status, report.detail = "halted", the_plan.halted
            return  # R11: nothing written, cursors unchanged, until a person looks
        left = await budget.execute_within(the_plan.actions, run, now + timedelta(seconds=budget.RUN_BUDGET_SECONDS))
        await run.forget_made()  # every link of what was executed is saved (shared/state/events_made.py)
        if left:  # a big mailbox: the next invocation carries on from the links saved so far (shared/sync/budget.py)
            report.status, report.detail = (
                "continues",
                f"{left} of {len(the_plan.actions)} actions left for the next run",
            )
            return
        await attachments.sync_attachments(run, links, m365, erp)  # R18: files, once the plan is written
        await leave.sync_leave(run, m365, links, now)  # R30: leave requests, planned apart (shared/sync/leave.py)
        cursor = await self._absorb_own_writes(read.cursor, run, now, released)
        await ports.state.save_delta_cursor(cursor.model_copy(update={"updated_at": ports.clock()}))  # after the writes
        await ports.state.save_erp_cursor(
            ErpCursor(
                user_id=user_id,
                feed=ACTIVITY_FEED,
                cursor=feed.cursor,
                updated_at=now,
                etag=erp_cursor.etag if erp_cursor else None,
            )
        )
        if released:
            await ports.state.resolve_issue(user_id, MASS_DELETE_ISSUE, now=ports.clock())

    async def _plan(
        self,
        run: RunContext,
        links: Sequence[Link],
        m365: Sequence[DeltaEntry],
        erp: Sequence[ActivityChange],
        now: datetime,
        m365_initial: bool = False,
        erp_initial: bool = False,
        *,
        removals_released: bool = False,
    ) -> Plan:
        """Read the meeting claims and synced mailboxes the plan needs, then plan (pure)."""
        links, m365 = leave.without_leave(links, m365)  # R23/R30: a leave event never reaches this plan
        return plan(
            RunInput(
                user_id=run.user.id,
                mailbox=run.mailbox,
                policy=self._ports.policy,
                now=now,
                links=links,
                m365_changes=m365,
                erp_changes=erp,
                m365_initial=m365_initial,
                erp_initial=erp_initial,
                meetings=await inputs.meetings_of(self._ports, run.mailbox, m365, links, erp),
                synced_mailboxes=await inputs.synced_mailboxes(run, m365, links),
                removals_released=removals_released,
                erp_series=await series_inputs.erp_series(run),  # R28 (shared/sync/series_inputs.py)
                series=await series_inputs.views(run, m365, links),
            )
        )

    async def _absorb_own_writes(
        self, cursor: DeltaCursor, run: RunContext, now: datetime, released: bool = False
    ) -> DeltaCursor:
        """Follow the delta again after writing to the calendar, so the stored token has seen our writes.

        Without this, an event the sync created after the token was taken and a person deleted before the
        next run is reported by no delta at all, and its ERP record would never be voided (R8). The extra
        round mostly returns our own echoes (no-ops, R5); a person's change that slipped in is synced now.
        """
        ports = self._ports
        for _ in range(FOLLOW_UP_ROUNDS):
            if not run.wrote_m365:
                break
            run.wrote_m365 = False
            result = await ports.calendar.delta_follow(cursor.delta_link)
            cursor = cursor.model_copy(update={"delta_link": result.delta_link, "updated_at": now})
            links = list(await ports.state.links_for_user(run.user.id, active_only=True))
            entries = await inputs.confirmed(ports, run.mailbox, result.entries, links, result.foreign)
            await leave.sync_leave(run, entries, links, now, read_feed=False)  # R30: an edit meanwhile is put back
            follow_up = await self._plan(run, links, entries, (), now, removals_released=released)
            if follow_up.halted:
                await issues.record(run, MASS_DELETE_ISSUE, IssueKind.MASS_DELETE, follow_up.halted)
                break
            for action in follow_up.actions:
                await execute(action, run)
        return cursor

    async def _syncable_user(self, user_id: str, report: RunReport, open_keys: set[str]) -> ErpUser | None:
        """R2: an enabled ERP user with a mailbox address and the defaults a new activity needs."""
        ports = self._ports
        try:
            user: ErpUser | None = await ports.erp.get_user(user_id)
        except ErpNotFound:
            user = None
        missing = inputs.missing_for_sync(user)
        if user is None or missing:
            reason = "not syncable, missing: " + ", ".join(missing) + " (R2)"
            await issues.record_for(
                ports.state, ports.clock(), user_id, report, "user", IssueKind.UNSYNCABLE_USER, reason
            )
            report.status = "unsyncable"
            return None
        if "user" in open_keys:
            await ports.state.resolve_issue(user_id, "user", now=ports.clock())
        return user
