"""The machine's leave checks once every sync has caught up (R23, R30).

Each leave request is held against what the ERP says of it now (the ERP owns leave):

- approved, and its requester's sync runs: exactly one event in the requester's mailbox, out of office, titled
  "<Leave type>: <description>", all day on exactly its dates (midnights in the requester's zone, R14) or timed
  at its exact times, whatever the requester did to it in Outlook (put back);
- requested, rejected or cancelled (or the requester's sync not on): no event;
- nobody else's mailbox holds it (nobody is invited), and no leave event became an ERP activity (R23).
"""

from __future__ import annotations

from collections.abc import Sequence, Set
from datetime import UTC
from zoneinfo import ZoneInfo

from shared.core.activities import Activity, LeaveRequest, LeaveStatus
from tests.convergence.people_leave import Leave
from tests.convergence.statistics import statistic
from tests.convergence.world import SeenEvent


def check_leave(
    calendars: dict[str, list[SeenEvent]],
    activities: Sequence[Activity],
    requests: Sequence[LeaveRequest],
    leaves: Sequence[Leave],
    synced: Set[str],
) -> None:
    by_id = {request.id: request for request in requests}
    leave_uids: set[str] = set()
    for leave in leaves:
        request = by_id[leave.id]
        where = f"leave request {leave.number} of {leave.requester} ({request.status.value})"
        assert request.status is leave.status, f"{where}: the ERP says {request.status.value}, people {leave.status}"
        stamp = f"leave:{leave.id}"
        for person, events in calendars.items():
            shown = [e for e in events if e.stamp == stamp and not e.is_cancelled]
            leave_uids.update(e.ical_uid for e in shown)
            if person != leave.requester:
                assert not shown, f"{where}: shown in {person}'s mailbox too (R30: nobody is invited): {shown}"
                continue
            if request.status is not LeaveStatus.APPROVED or person not in synced:
                assert not shown, f"{where}: still shown (R30: only an approved request is): {shown}"
                continue
            assert len(shown) == 1, f"{where}: {len(shown)} events, one expected (R10, R30): {shown}"
            _check_event(shown[0], request, where)
            statistic(f"checked: approved leave shown ({'all day' if request.all_day else 'timed'})")
    made = [a for a in activities if a.origin is not None and a.origin.ical_uid in leave_uids]
    assert not made, f"leave events became ERP activities (R23, R30): {made}"


def _check_event(event: SeenEvent, request: LeaveRequest, where: str) -> None:
    description = request.description.strip()
    title = f"{request.leave_type}: {description}" if description else request.leave_type
    assert event.subject == title, f"{where}: titled {event.subject!r}, not {title!r} (R30)"
    assert event.show_as == "oof", f"{where}: shows as {event.show_as}, not out of office (R30)"
    assert event.is_all_day == request.all_day, f"{where}: all day {event.is_all_day}, the request {request.all_day}"
    assert not event.attendees, f"{where}: invites {sorted(event.attendees)} (R30: nobody)"
    shown: tuple[object, object] = (event.start, event.end)
    if request.all_day:  # an all-day event is a span of dates, whatever the zone (Graph shows them floating)
        shown = (event.start.date(), event.end.date())
    assert shown == _when(request), (
        f"{where}: shows {shown}, the request {request.start}..{request.end} {request.time_zone} (R14)"
    )


def _when(request: LeaveRequest) -> tuple[object, object]:
    """All day: its dates, read off its own wall clock (end exclusive); timed: its exact instants."""
    if request.all_day:
        return request.start.date(), request.end.date()
    zone = ZoneInfo(request.time_zone)
    return request.start.replace(tzinfo=zone).astimezone(UTC), request.end.replace(tzinfo=zone).astimezone(UTC)
