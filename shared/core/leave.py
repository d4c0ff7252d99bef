"""Leave requests on the calendar (R30): the ERP's leave vocabulary as the sync sees it, the event a leave
request becomes, the actions of a leave plan and what a leave link records after each.

A leave request is the ERP's alone: an approved one is an out-of-office event in the requester's mailbox,
titled "<Leave type>: <description>", with no attendees, all day on exactly its dates (R14) or timed with
its exact times; anything else removes the event. An Outlook edit or delete of that event never reaches
the ERP: the next run puts the event back as the ERP says.

Keys: a leave request lives in the links table and on its event under the key ``leave:<id>`` (the link's
``activity_id`` and the event's ERP stamp). The prefix keeps it apart from activity ids, which an ERP may
number the same way, and lets the activity planner see at once that an event is not a meeting (R23).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.core.activities import LeaveRequest, LeaveStatus
from shared.core.fingerprint import fingerprint
from shared.core.items import CalendarItem, Field, ItemKind, Sensitivity, Side
from shared.core.links import Fingerprint, Link, LinkState
from shared.core.m365 import M365Event
from shared.core.mapping import item_from_event
from shared.core.meetings import LinkRole
from shared.core.timezones import covered_days, day_bounds, localize

LEAVE_PREFIX = "leave:"
# Fields a leave event is compared on. Categories are the person's own filing (the ERP has no view on them),
# and nobody answers a leave event.
LEAVE_FIELDS: frozenset[Field] = frozenset(Field) - {Field.CATEGORIES, Field.RESPONSES}
# What a new leave event is written with (attendees: none, so nobody is invited).
LEAVE_WRITE_FIELDS: tuple[Field, ...] = tuple(f for f in Field if f in LEAVE_FIELDS)


def leave_key(leave_request_id: str) -> str:
    """The key a leave request has on its link (``activity_id``) and on its event (the ERP stamp)."""
    return LEAVE_PREFIX + leave_request_id


def is_leave_key(key: str | None) -> bool:
    return bool(key) and str(key).startswith(LEAVE_PREFIX)


def leave_id_of(key: str) -> str:
    return key.removeprefix(LEAVE_PREFIX)


def is_leave_link(link: Link) -> bool:
    return link.kind is ItemKind.LEAVE


def shows(leave: LeaveRequest | None) -> bool:
    """R30: only an approved request is on the calendar (requested, rejected and cancelled ones are not)."""
    return leave is not None and leave.status is LeaveStatus.APPROVED


def leave_title(leave: LeaveRequest) -> str:
    """R30: "<Leave type>: <description>" (the type alone when there is no description)."""
    description = leave.description.strip()
    return f"{leave.leave_type}: {description}" if description else leave.leave_type


def leave_item(leave: LeaveRequest, *, requester_zone: str, private: bool) -> CalendarItem:
    """The event a leave request shows as. All day: exactly its dates (read from its own wall clock, R14), as
    midnights in the requester's zone. Timed (a half day): its exact times in its own zone."""
    if leave.all_day:
        start, end = day_bounds(*covered_days(leave.start, leave.end), requester_zone)
        zone_name = requester_zone
    else:
        start, end = localize(leave.start, leave.time_zone), localize(leave.end, leave.time_zone)
        zone_name = leave.time_zone
    return CalendarItem(
        kind=ItemKind.LEAVE,
        subject=leave_title(leave),
        start=start,
        end=end,
        time_zone=zone_name,
        all_day=leave.all_day,
        show_as="oof",
        sensitivity=Sensitivity.PRIVATE if private else Sensitivity.NORMAL,
        modified_at=leave.modified_at,
    )


def event_fingerprint(event: M365Event, conflict_category: str) -> Fingerprint:
    return fingerprint(item_from_event(event, kind=ItemKind.LEAVE, conflict_category=conflict_category))


def differing(current: Fingerprint, synced: Fingerprint) -> frozenset[Field]:
    """Compared fields whose hash differs (a field never recorded counts as differing)."""
    return frozenset(f for f in LEAVE_FIELDS if current.get(f) != synced.get(f))


# --- actions ---------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CreateLeaveEvent:
    """R30: an approved request without an event (new, or its event was deleted in Outlook: put back).
    ``link`` is the request's link when it has one (retired, or active with its event gone): it is reused."""

    leave: LeaveRequest
    item: CalendarItem
    link: Link | None = None


@dataclass(frozen=True, kw_only=True)
class UpdateLeaveEvent:
    """R30: write ``fields`` of the request's item to its event: the ERP changed, or Outlook did (put back)."""

    link: Link
    leave: LeaveRequest
    item: CalendarItem
    fields: frozenset[Field]


@dataclass(frozen=True, kw_only=True)
class DeleteLeaveEvent:
    """R30: the request is no longer approved (rejected, cancelled, removed): its event leaves the calendar.
    ``link`` None: an event of ours found without its link (a crash), for a request that does not show."""

    leave_request_id: str
    event_id: str
    link: Link | None
    reason: str
    # R11: the side the record vanished from (the ERP for every leave removal).
    vanished_on: Side | None = Side.ERP


@dataclass(frozen=True, kw_only=True)
class AdoptLeaveEvent:
    """R10/R30: an event we wrote for an approved request, whose link a crash lost: link it again, and put back
    ``fields`` where it differs from the request."""

    event: M365Event
    leave: LeaveRequest
    item: CalendarItem
    link: Link | None
    fields: frozenset[Field]


LeaveAction = CreateLeaveEvent | UpdateLeaveEvent | DeleteLeaveEvent | AdoptLeaveEvent


# --- what a leave link records ---------------------------------------------------------------------


def linked(
    *,
    user_id: str,
    link_id: str,
    leave: LeaveRequest,
    item: CalendarItem,
    event: M365Event,
    conflict_category: str,
    now: datetime,
    previous: Link | None = None,
) -> Link:
    """The request's link once its event shows ``item`` (created, adopted or put back). An earlier link of the
    request (retired, or one whose event was deleted) is reused, so the request keeps one link."""
    values: dict[str, object] = {
        "state": LinkState.ACTIVE,
        "event_id": event.id,
        "ical_uid": event.ical_uid,
        "m365_fields": event_fingerprint(event, conflict_category),
        "erp_fields": fingerprint(item),
        "m365_change_key": event.change_key,
        "m365_modified_at": event.last_modified,
        "erp_version": leave.version,
        "erp_modified_at": leave.modified_at,
        "updated_at": now,
    }
    base = previous or Link(
        user_id=user_id,
        link_id=link_id,
        kind=ItemKind.LEAVE,
        origin=Side.ERP,
        role=LinkRole.OWNER,
        activity_id=leave_key(leave.id),
    )
    return base.model_copy(update=values)


def after_leave_update(
    link: Link, *, leave: LeaveRequest, item: CalendarItem, written: M365Event, conflict_category: str, now: datetime
) -> Link:
    """The event shows the request again: both sides' fingerprints are what they show now."""
    return link.evolve(
        {
            "state": LinkState.ACTIVE,
            "m365_fields": event_fingerprint(written, conflict_category),
            "erp_fields": fingerprint(item),
            "m365_change_key": written.change_key,
            "m365_modified_at": written.last_modified,
            "erp_version": leave.version,
            "erp_modified_at": leave.modified_at,
            "updated_at": now,
        }
    )
