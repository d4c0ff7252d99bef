"""The leave decision table (shared/core/plan_leave.py) and the event a leave request becomes (R30), rule by rule."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from shared.core.actions import CreateActivity, Relink, Skip, UpdateActivity
from shared.core.activities import LeaveRequest, LeaveStatus
from shared.core.items import Field, ItemKind, Side
from shared.core.leave import (
    LEAVE_WRITE_FIELDS,
    AdoptLeaveEvent,
    CreateLeaveEvent,
    DeleteLeaveEvent,
    UpdateLeaveEvent,
    leave_item,
    leave_key,
    linked,
)
from shared.core.links import Link, LinkState
from shared.core.m365 import DeltaEntry, M365Event
from shared.core.mapping import event_write
from shared.core.plan_leave import LeaveRunInput, plan_leave
from shared.core.planner import RunInput, plan
from shared.core.policy import SyncPolicy
from shared.core.timezones import covered_days
from tests.core.builders import NOW

ZONE = "Pacific/Auckland"  # far from UTC: a date read as a UTC instant would land a day off
POLICY = SyncPolicy(leave_requests=True)


def leave(**overrides: Any) -> LeaveRequest:
    values: dict[str, Any] = {
        "id": "LR1",
        "user_id": "u1",
        "leave_type": "Vacation",
        "description": "Christmas",
        "start": datetime(2026, 12, 21),
        "end": datetime(2026, 12, 24),
        "time_zone": ZONE,
        "all_day": True,
        "status": LeaveStatus.APPROVED,
        "version": 2,
        "modified_at": NOW - timedelta(hours=1),
    }
    values.update(overrides)
    return LeaveRequest(**values)


def shown(request: LeaveRequest, **overrides: Any) -> M365Event:
    """The event the sync wrote for ``request``, as Graph reads it back (all-day bounds in the event's zone)."""
    item = leave_item(request, requester_zone=ZONE, private=True)
    values: dict[str, Any] = {
        "id": "EV-LR1",
        "change_key": "ck1",
        "subject": item.subject,
        "start": item.start,
        "end": item.end,
        "time_zone": item.time_zone,
        "is_all_day": item.all_day,
        "show_as": "oof",
        "sensitivity": "private",
        "erp_stamp": leave_key(request.id),
        "last_modified": NOW - timedelta(minutes=30),
    }
    values.update(overrides)
    return M365Event(**values)


def leave_link(request: LeaveRequest, event: M365Event, **overrides: Any) -> Link:
    item = leave_item(request, requester_zone=ZONE, private=True)
    made = linked(
        user_id="u1",
        link_id="LL1",
        leave=request,
        item=item,
        event=event,
        conflict_category="Sync conflict",
        now=NOW - timedelta(days=1),
    )
    return made.model_copy(update=overrides)


def run(
    requests: dict[str, LeaveRequest | None],
    *,
    links: tuple[Link, ...] = (),
    events: tuple[DeltaEntry, ...] = (),
    policy: SyncPolicy = POLICY,
    initial: bool = False,
) -> LeaveRunInput:
    return LeaveRunInput(
        user_id="u1",
        requester_zone=ZONE,
        policy=policy,
        now=NOW,
        links=links,
        requests=requests,
        events=events,
        erp_initial=initial,
    )


def test_R30_approved_all_day_leave_is_an_out_of_office_event_on_exactly_its_dates_in_the_requesters_zone() -> None:
    """Vacation 21-23 December (end exclusive 24th) in Auckland: one all-day event on those three dates, titled
    "<type>: <description>", out of office, private, nobody invited."""
    request = leave()
    actions = plan_leave(run({"LR1": request})).actions
    assert len(actions) == 1
    assert isinstance(actions[0], CreateLeaveEvent)
    item = actions[0].item
    assert (item.kind, item.subject, item.show_as, item.attendees) == (ItemKind.LEAVE, "Vacation: Christmas", "oof", ())
    assert covered_days(item.start, item.end) == (date(2026, 12, 21), date(2026, 12, 24))
    write = event_write(item, LEAVE_WRITE_FIELDS, origin=Side.ERP, erp_stamp=leave_key("LR1"))
    assert (write.start, write.end) == (datetime(2026, 12, 21), datetime(2026, 12, 24))
    assert (write.time_zone, write.is_all_day, write.show_as, write.sensitivity) == (ZONE, True, "oof", "private")
    assert write.attendees == ()
    assert write.subject == "Vacation: Christmas"
    assert write.erp_stamp == "leave:LR1"


def test_R30_half_day_leave_is_a_timed_event_with_its_exact_times() -> None:
    """A morning off (08:00-12:00 Oslo time) is timed, not all day: the same instants in the event."""
    request = leave(
        start=datetime(2026, 12, 7, 8), end=datetime(2026, 12, 7, 12), time_zone="Europe/Oslo", all_day=False
    )
    (action,) = plan_leave(run({"LR1": request})).actions
    assert isinstance(action, CreateLeaveEvent)
    assert not action.item.all_day
    assert action.item.start == datetime(2026, 12, 7, 7, tzinfo=UTC)
    assert action.item.end == datetime(2026, 12, 7, 11, tzinfo=UTC)


def test_R30_leave_type_alone_titles_a_request_without_description() -> None:
    """No description: the title is the leave type, with no dangling colon."""
    (action,) = plan_leave(run({"LR1": leave(description="  ")})).actions
    assert isinstance(action, CreateLeaveEvent)
    assert action.item.subject == "Vacation"


def test_R30_a_request_never_approved_never_shows() -> None:
    """Requested (not decided), rejected and cancelled requests with no event get none."""
    for status in (LeaveStatus.REQUESTED, LeaveStatus.REJECTED, LeaveStatus.CANCELLED):
        actions = plan_leave(run({"LR1": leave(status=status)})).actions
        assert not any(isinstance(a, CreateLeaveEvent) for a in actions), status


def test_R3_leave_events_are_public_when_the_tenant_says_so() -> None:
    """Private by default; ``SYNC_LEAVE_PRIVATE=false`` shows them as normal events."""
    (action,) = plan_leave(run({"LR1": leave()}, policy=SyncPolicy(leave_requests=True, leave_private=False))).actions
    assert isinstance(action, CreateLeaveEvent)
    assert action.item.sensitivity.value == "normal"


def test_R30_changed_dates_update_the_event() -> None:
    """The ERP moved the leave a day later: the event's dates follow, nothing else is written."""
    before = leave()
    event = shown(before)
    moved = leave(start=datetime(2026, 12, 22), end=datetime(2026, 12, 25), version=3)
    (action,) = plan_leave(run({"LR1": moved}, links=(leave_link(before, event),))).actions
    assert isinstance(action, UpdateLeaveEvent)
    assert action.fields == {Field.WHEN}


def test_R30_cancelled_or_rejected_leave_removes_its_event() -> None:
    """Approved, then cancelled (or rejected, or removed): the event leaves the calendar."""
    before = leave()
    event = shown(before)
    for after in (leave(status=LeaveStatus.CANCELLED), leave(status=LeaveStatus.REJECTED), None):
        (action,) = plan_leave(run({"LR1": after}, links=(leave_link(before, event),))).actions
        assert isinstance(action, DeleteLeaveEvent)
        assert action.event_id == event.id


def test_R4_an_initial_leave_pull_never_deletes() -> None:
    """The first read of the feed is a snapshot: a cancelled request with an event is not removed then."""
    before = leave()
    links = (leave_link(before, shown(before)),)
    actions = plan_leave(run({"LR1": leave(status=LeaveStatus.CANCELLED)}, links=links, initial=True)).actions
    assert [type(a) for a in actions] == [Skip]


def test_R30_an_outlook_edit_of_the_leave_event_is_put_back_as_the_erp_says() -> None:
    """The person retitled the event and marked it busy: the ERP owns leave, so both fields are written back."""
    request = leave()
    event = shown(request)
    edited = event.model_copy(update={"subject": "Skiing", "show_as": "busy", "change_key": "ck2"})
    (action,) = plan_leave(
        run(
            {"LR1": request}, links=(leave_link(request, event),), events=(DeltaEntry(event_id=event.id, event=edited),)
        )
    ).actions
    assert isinstance(action, UpdateLeaveEvent)
    assert action.fields == {Field.SUBJECT, Field.SHOW_AS}


def test_R30_a_category_the_person_added_to_the_leave_event_stays() -> None:
    """Categories are the person's own filing; the ERP has no view on them, so nothing is written."""
    request = leave()
    event = shown(request)
    filed = event.model_copy(update={"categories": ("Family",), "change_key": "ck2"})
    entries = (DeltaEntry(event_id=event.id, event=filed),)
    assert plan_leave(run({"LR1": request}, links=(leave_link(request, event),), events=entries)).actions == ()


def test_R30_a_leave_event_deleted_in_outlook_comes_back_on_the_same_link() -> None:
    """Deleted in Outlook (confirmed gone, R9): created again, and the request keeps its one link."""
    request = leave()
    event = shown(request)
    link = leave_link(request, event)
    (action,) = plan_leave(run({"LR1": request}, links=(link,), events=(DeltaEntry(event_id=event.id),))).actions
    assert isinstance(action, CreateLeaveEvent)
    assert action.link == link


def test_R30_reapproved_leave_gets_its_event_again_on_its_retired_link() -> None:
    """Cancelled (event gone, link retired), then approved again: a new event, on the same link."""
    request = leave()
    link = leave_link(request, shown(request), state=LinkState.RETIRED)
    (action,) = plan_leave(run({"LR1": leave(version=4)}, links=(link,))).actions
    assert isinstance(action, CreateLeaveEvent)
    assert action.link == link


def test_R10_our_leave_event_whose_link_was_lost_is_adopted_not_doubled() -> None:
    """A crash fell between the create and the link: the stamped event is linked again, no second event."""
    request = leave()
    event = shown(request)
    (action,) = plan_leave(run({"LR1": request}, events=(DeltaEntry(event_id=event.id, event=event),))).actions
    assert isinstance(action, AdoptLeaveEvent)
    assert action.fields == frozenset()


def test_R11_most_leave_removed_at_once_halts_the_leave_plan() -> None:
    """Six of six approved requests reported cancelled by one read of the ERP: nothing is deleted."""
    links, requests = [], {}
    for n in range(6):
        request = leave(id=f"LR{n}")
        event = shown(request, id=f"EV{n}")
        links.append(leave_link(request, event, link_id=f"LL{n}"))
        requests[f"LR{n}"] = leave(id=f"LR{n}", status=LeaveStatus.CANCELLED)
    result = plan_leave(run(requests, links=tuple(links)))
    assert result.halted is not None
    assert "R11" in result.halted
    assert result.actions == ()

    released = plan_leave(dataclasses.replace(run(requests, links=tuple(links)), removals_released=True))
    assert released.halted is None  # a person released it on the status page: the removals go through once
    assert len(released.actions) == 6


def test_R4_leave_that_ended_long_ago_is_not_put_on_the_calendar() -> None:
    """An approved request that ended before the look-back gets no event (as with activities)."""
    old = leave(start=datetime(2026, 10, 1), end=datetime(2026, 10, 3))
    (action,) = plan_leave(run({"LR1": old})).actions
    assert isinstance(action, Skip)
    assert "R4" in action.reason


def test_R23_the_activity_planner_never_turns_a_leave_event_into_a_meeting() -> None:
    """A linked leave event edited in Outlook, and one of ours whose link was lost (stamped ``leave:``), reach
    the activity planner: neither becomes, updates or relinks an ERP activity."""
    request = leave()
    event = shown(request)
    stray = shown(request, id="EV-2", ical_uid="ical-2")
    edited = event.model_copy(update={"subject": "Skiing", "change_key": "ck2"})
    the_plan = plan(
        RunInput(
            user_id="u1",
            mailbox="ann@contoso.example",
            policy=POLICY,
            now=NOW,
            links=[leave_link(request, event)],
            m365_changes=[DeltaEntry(event_id=event.id, event=edited), DeltaEntry(event_id=stray.id, event=stray)],
        )
    )
    assert not any(isinstance(a, CreateActivity | UpdateActivity | Relink) for a in the_plan.actions)
    assert all(isinstance(a, Skip) and "R30" in a.reason for a in the_plan.actions)


def test_R14_all_day_leave_bounds_are_midnights_in_the_requesters_zone() -> None:
    """The item's bounds are local midnights of the requester (never a UTC instant read as a date)."""
    item = leave_item(leave(), requester_zone=ZONE, private=True)
    assert item.start == datetime(2026, 12, 21, tzinfo=ZoneInfo(ZONE))
    assert item.end == datetime(2026, 12, 24, tzinfo=ZoneInfo(ZONE))
