"""Executing one planned action: the executor for its type, then what a failure means for the admin.

Transient failures abort the whole run (cursors stay, the next run sees the same changes, links make that
harmless, R10). A refused item becomes an issue and is offered again on the next run (R31). A read-only
ERP record is a conflict (R7): the ERP stays, the event is marked, the M365 version is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any, cast

from shared.core import records
from shared.core.actions import (
    Action,
    AnswerInErp,
    AnswerInOutlook,
    ClaimMeeting,
    CreateActivity,
    CreateEvent,
    DeleteEvent,
    Demote,
    DetachLink,
    LinkCopy,
    Rebind,
    Relink,
    Remember,
    RetireCopy,
    Skip,
    TakeOver,
    UpdateActivity,
    UpdateEvent,
    VoidActivity,
    Wait,
)
from shared.core.activities import Activity, ActivityFields
from shared.core.m365 import EventWrite
from shared.core.series_actions import (
    CreateSeriesActivity,
    CreateSeriesEvent,
    FollowOccurrence,
    RelinkSeries,
    SeriesSeen,
    SeriesToErp,
    SeriesToM365,
)
from shared.erp.port import ErpPort
from shared.errors import (
    ErpConflict,
    ErpError,
    ErpInvalid,
    ErpNotFound,
    ErpReadOnly,
    ErpTransient,
    GraphError,
    GraphInvalid,
    GraphNotFound,
    GraphTransient,
    MeetingHeldElsewhere,
)
from shared.graph.port import CalendarPort
from shared.state.model import IssueKind
from shared.sync import batch_writes, gathering, issues, write_erp, write_links, write_m365, write_series
from shared.sync.context import RunContext
from shared.sync.gathering import Gathering

_EXECUTORS: dict[type[Any], Callable[[Any, RunContext], Awaitable[Action | list[Action] | None]]] = {
    CreateActivity: write_erp.create_activity,
    UpdateActivity: write_erp.update_activity,
    VoidActivity: write_erp.void_activity,
    AnswerInErp: write_erp.answer_in_erp,
    TakeOver: write_erp.take_over,
    CreateEvent: write_m365.create_event,
    UpdateEvent: write_m365.update_event,
    DeleteEvent: write_m365.delete_event,
    AnswerInOutlook: write_m365.answer_in_outlook,
    Relink: write_links.relink,
    Rebind: write_links.rebind,
    Remember: write_links.remember,
    DetachLink: write_links.detach,
    LinkCopy: write_links.link_copy,
    ClaimMeeting: write_links.claim_meeting,
    RetireCopy: write_links.retire_copy,
    Demote: write_links.demote,
    Wait: write_links.wait,
    Skip: write_links.skip,
    # R28: series (shared/sync/write_series.py)
    CreateSeriesActivity: write_series.create_series_activity,
    SeriesToErp: write_series.series_to_erp,
    CreateSeriesEvent: write_series.create_series_event,
    SeriesToM365: write_series.series_to_m365,
    SeriesSeen: write_series.series_seen,
    FollowOccurrence: write_series.follow_occurrence,
    RelinkSeries: write_series.relink_series,
}


# Consecutive creates of activities for different meetings run side by side in groups of this many, their new
# links stored in one Table transaction per group; at most ERP_CREATES_AT_ONCE of their ERP writes are under
# way at a time (issue 12: an initial pull of a thousand events waits on the ERP and Table Storage one write at
# a time otherwise, and a transaction per four links cost more than the links).
ERP_CREATE_GROUP = 20
ERP_CREATES_AT_ONCE = 4


async def execute_all(actions: Sequence[Action], run: RunContext) -> None:
    """Execute a plan's actions in order; consecutive event writes go side by side in groups of 20, their Graph
    writes in one ``$batch`` (``shared/sync/batch_writes.py``); consecutive activity creates of different
    meetings go side by side in groups of ``ERP_CREATE_GROUP``, ``ERP_CREATES_AT_ONCE`` ERP writes at a time."""
    group: list[Action] = []
    creates: list[CreateActivity] = []
    for action in actions:
        if isinstance(action, CreateActivity):
            await _execute_group(group, run)  # in plan order: the event writes before it first
            group = []
            if not _joins(creates, action, run):
                await _execute_at_once(creates, run)
                creates = []
            if _joins(creates, action, run):
                creates.append(action)
                if len(creates) >= ERP_CREATE_GROUP:
                    await _execute_at_once(creates, run)
                    creates = []
            else:
                await execute(action, run)
            continue
        await _execute_at_once(creates, run)
        creates = []
        if isinstance(action, CreateEvent | UpdateEvent | DeleteEvent):
            group.append(action)
            if len(group) >= batch_writes.GROUP:
                await _execute_group(group, run)
                group = []
            continue
        await _execute_group(group, run)
        group = []
        await execute(action, run)
    await _execute_at_once(creates, run)
    await _execute_group(group, run)


def _joins(creates: Sequence[CreateActivity], action: CreateActivity, run: RunContext) -> bool:
    """Whether ``action`` may run alongside ``creates``: once the meeting type is known to exist, and never two
    copies of one meeting (its claim decides between them, one after the other)."""
    uid = action.event.ical_uid
    return run.meeting_type_ready and (uid is None or all(c.event.ical_uid != uid for c in creates))


async def _execute_at_once(creates: Sequence[CreateActivity], run: RunContext) -> None:
    """Run the creates together, their new links stored in one request; when all have ended, raise the first
    failure any let through."""
    if len(creates) <= 1:
        for action in creates:
            await execute(action, run)
        return
    ports = run.ports
    run.new_links = links = Gathering(len(creates), ports.state.insert_links)
    run.ports = replace(ports, erp=cast(ErpPort, _ErpWritesAtOnce(ports.erp, ERP_CREATES_AT_ONCE)))
    try:
        await gathering.side_by_side([execute(action, run) for action in creates], links)
    finally:
        run.ports = ports
        run.new_links = None


class _ErpWritesAtOnce:
    """The ERP port with at most ``limit`` activity creates under way at once; everything else passes through."""

    def __init__(self, inner: ErpPort, limit: int) -> None:
        self._inner = inner
        self._gate = asyncio.Semaphore(limit)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def create_activity(self, fields: ActivityFields, *, idempotency_key: str) -> Activity:
        async with self._gate:
            return await self._inner.create_activity(fields, idempotency_key=idempotency_key)


async def _execute_group(group: Sequence[Action], run: RunContext) -> None:
    if len(group) <= 1:
        for action in group:
            await execute(action, run)
        return
    ports = run.ports
    collector = batch_writes.CollectingCalendar(ports.calendar, run.mailbox, len(group), made=run.note_made)
    # The group's new links go to Table Storage together, once its Graph batch is answered: a link saved before
    # that passes by (so no executor waits on one still asking for its event write).
    links = Gathering(len(group), ports.state.insert_links, opened=lambda: collector.writes.sent)
    run.ports = replace(ports, calendar=cast(CalendarPort, collector))
    run.new_links = links
    try:
        await gathering.side_by_side([execute(action, run) for action in group], collector.writes, links)
    finally:
        run.ports = ports
        run.new_links = None


async def execute(action: Action, run: RunContext) -> None:
    """Run the action's executor (and what it hands on, e.g. a lost claim's copy link); record the outcome."""
    key = issues.key_of(action)
    try:
        follow_up = await _EXECUTORS[type(action)](action, run)
    except ErpReadOnly as error:
        await _conflict(action, run, error)
        return
    except (ErpTransient, GraphTransient):
        raise  # the whole run is retried; cursors stay where they were
    except (
        ErpInvalid,
        GraphInvalid,
        ErpConflict,
        ErpNotFound,
        GraphNotFound,
        ErpError,
        GraphError,
        MeetingHeldElsewhere,
    ) as error:
        kind = IssueKind.REFUSED_ITEM if isinstance(error, ErpInvalid | GraphInvalid) else IssueKind.FAILURE
        await issues.record(
            run,
            key,
            kind,
            f"{type(action).__name__} failed: {error}",
            event_id=issues.event_id_of(action),
            activity_id=issues.activity_id_of(action),
            payload=issues.payload_of(action),
        )
        return
    if follow_up:
        for then in follow_up if isinstance(follow_up, list) else [follow_up]:
            await execute(then, run)
        if not isinstance(action, Relink | CreateEvent | TakeOver):
            return
    if key in run.open_issue_keys and not isinstance(action, Skip | Wait):
        await run.ports.state.resolve_issue(run.user.id, key, now=run.now())
        run.open_issue_keys.discard(key)


async def _conflict(action: Action, run: RunContext, error: ErpReadOnly) -> None:
    """R7: the ERP record stays; the event is marked and the M365 version kept in the conflict record."""
    await issues.record(
        run,
        issues.key_of(action),
        IssueKind.CONFLICT,
        f"the ERP record is read-only ({error}); the M365 change was not applied (R7)",
        event_id=issues.event_id_of(action),
        activity_id=issues.activity_id_of(action),
        payload=issues.payload_of(action),
    )
    link = getattr(action, "link", None)
    if isinstance(action, UpdateActivity):
        event, marker = action.event, run.ports.policy.conflict_category
        if marker not in event.categories:
            with contextlib.suppress(GraphNotFound):
                await run.ports.calendar.update_event(
                    run.mailbox, event.id, EventWrite(categories=(*event.categories, marker))
                )
                run.wrote_m365 = True
        await run.save(
            records.after_conflict(run.current(action.link), event=event, policy=run.ports.policy, now=run.now())
        )
    elif isinstance(action, VoidActivity):
        await run.save(records.retired(run.current(action.link), now=run.now()))
    elif isinstance(action, AnswerInErp) and link is not None:
        await run.save(
            records.answered(run.current(action.link), response=action.response, erp_version=None, now=run.now())
        )
    run.report.count("conflicts")
