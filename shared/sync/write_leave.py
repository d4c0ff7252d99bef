"""Executors of the leave plan (R30): create, update, delete and adopt leave events; each stores what
``core.leave`` says the link records. Nothing here writes to the ERP.

Failures (R31): a transient one aborts the run (the leave cursor stays); an event Graph refuses is recorded
for the admin under ``leave|<request id>`` and offered again on every run until it goes through. A put-back
is no conflict: the ERP owns leave, so nothing of the Outlook edit needs keeping.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from shared.core import records
from shared.core.actions import Skip
from shared.core.items import Side
from shared.core.leave import (
    LEAVE_WRITE_FIELDS,
    AdoptLeaveEvent,
    CreateLeaveEvent,
    DeleteLeaveEvent,
    UpdateLeaveEvent,
    after_leave_update,
    leave_key,
    linked,
)
from shared.core.mapping import event_write
from shared.core.plan_leave import LeavePlanned
from shared.errors import ErpTransient, GraphError, GraphInvalid, GraphNotFound, GraphTransient, StateConflict
from shared.state.model import IssueKind
from shared.sync import issues
from shared.sync.context import RunContext

ISSUE_PREFIX = "leave|"
_NAMESPACE = uuid.UUID("5a0d7c1e-2f3b-4e8a-9c6d-1b2e3f4a5b6c")


def leave_request_id_of(action: LeavePlanned) -> str | None:
    if isinstance(action, DeleteLeaveEvent):
        return action.leave_request_id
    if isinstance(action, CreateLeaveEvent | UpdateLeaveEvent | AdoptLeaveEvent):
        return action.leave.id
    return None


async def execute_leave(action: LeavePlanned, run: RunContext) -> None:
    """Run the action's executor; a refusal becomes the request's issue (R31), a success resolves it."""
    if isinstance(action, Skip):
        run.report.skipped.append(f"{action.side.value} {action.record_id}: {action.reason}")
        return
    leave_id = leave_request_id_of(action)
    key = ISSUE_PREFIX + (leave_id or "")
    try:
        await _EXECUTORS[type(action)](action, run)
    except (GraphTransient, ErpTransient, StateConflict):
        raise  # the whole run is retried; the leave cursor stays where it was
    except GraphError as error:
        kind = IssueKind.REFUSED_ITEM if isinstance(error, GraphInvalid) else IssueKind.FAILURE
        leave = getattr(action, "leave", None)
        payload = leave.model_dump_json() if leave is not None else json.dumps({"action": type(action).__name__})
        # No event or activity id on the row: the activity sync's retries (inputs.retries) must not pick it up.
        reason = f"leave request {leave_id}: {type(action).__name__} failed: {error}"
        await issues.record(run, key, kind, reason, payload=payload)
        run.open_issue_keys.add(key)
        return
    if key in run.open_issue_keys:
        await run.ports.state.resolve_issue(run.user.id, key, now=run.now())
        run.open_issue_keys.discard(key)


async def create(action: CreateLeaveEvent, run: RunContext) -> None:
    """R30: the approved request's event, out of office, no attendees; a deleted one is put back."""
    previous = run.current(action.link) if action.link is not None else None
    write = event_write(
        action.item,
        LEAVE_WRITE_FIELDS,
        origin=Side.ERP,
        erp_stamp=leave_key(action.leave.id),
        # One create per request and event it replaces: a retry after a lost answer is not a second event.
        transaction_id=str(
            uuid.uuid5(
                _NAMESPACE,
                f"{run.mailbox.lower()}|{action.leave.id}|{previous.event_id if previous else ''}",
            )
        ),
    )
    event = await run.ports.calendar.create_event(run.mailbox, write)
    run.wrote_m365 = True
    await run.save(
        linked(
            user_id=run.user.id,
            link_id=str(uuid.uuid4()),
            leave=action.leave,
            item=action.item,
            event=event,
            conflict_category=run.ports.policy.conflict_category,
            now=run.now(),
            previous=previous,
        )
    )
    run.report.count("leave created" if previous is None else "leave put back")


async def update(action: UpdateLeaveEvent, run: RunContext) -> None:
    """R30: the request changed in the ERP, or its event in Outlook (put back as the ERP says)."""
    link = run.current(action.link)
    assert link.event_id is not None
    write = event_write(action.item, action.fields, origin=Side.ERP)
    try:
        written = await run.ports.calendar.update_event(run.mailbox, link.event_id, write)
    except GraphNotFound:  # deleted meanwhile: put it back whole
        await create(CreateLeaveEvent(leave=action.leave, item=action.item, link=link), run)
        return
    run.wrote_m365 = True
    await run.save(
        after_leave_update(
            link,
            leave=action.leave,
            item=action.item,
            written=written,
            conflict_category=run.ports.policy.conflict_category,
            now=run.now(),
        )
    )
    run.report.count("leave updated")


async def delete(action: DeleteLeaveEvent, run: RunContext) -> None:
    """R30: rejected, cancelled or removed in the ERP: the event leaves the calendar (an event already gone is
    no error) and the link is kept as a tombstone."""
    await run.ports.calendar.delete_event(run.mailbox, action.event_id)
    run.wrote_m365 = True
    if action.link is not None:
        await run.save(records.retired(run.current(action.link), now=run.now()))
    run.report.count("leave removed")


async def adopt(action: AdoptLeaveEvent, run: RunContext) -> None:
    """R10/R30: our event whose link a crash lost is the request's event again, put back where it differs."""
    written = action.event
    if action.fields:
        write = event_write(action.item, action.fields, origin=Side.ERP)
        written = await run.ports.calendar.update_event(run.mailbox, action.event.id, write)
        run.wrote_m365 = True
    await run.save(
        linked(
            user_id=run.user.id,
            link_id=str(uuid.uuid4()),
            leave=action.leave,
            item=action.item,
            event=written,
            conflict_category=run.ports.policy.conflict_category,
            now=run.now(),
            previous=run.current(action.link) if action.link is not None else None,
        )
    )
    run.report.count("leave relinked")


_EXECUTORS: dict[type[Any], Callable[[Any, RunContext], Awaitable[None]]] = {
    CreateLeaveEvent: create,
    UpdateLeaveEvent: update,
    DeleteLeaveEvent: delete,
    AdoptLeaveEvent: adopt,
}
