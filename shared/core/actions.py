"""The small actions a plan is made of. The engine executes them; nothing here does I/O."""

from __future__ import annotations

from dataclasses import dataclass

from shared.core.activities import Activity
from shared.core.items import CalendarItem, Field, Side
from shared.core.links import Link
from shared.core.m365 import M365Event
from shared.core.meetings import Meeting
from shared.core.series_actions import SeriesAction


@dataclass(frozen=True, kw_only=True)
class CreateActivity:
    """R5/R23: an M365 event with no link becomes an ERP activity.

    R10: when the event is a meeting (it has an iCalUId) the mailbox first claims it tenant-wide; a claim
    lost to another mailbox turns this into that mailbox's copy (``meetings.after_lost_claim``).
    """

    event: M365Event
    item: CalendarItem


@dataclass(frozen=True, kw_only=True)
class UpdateActivity:
    """Write ``fields`` of the event's item to the linked activity (R6, R20-R22)."""

    link: Link
    event: M365Event
    item: CalendarItem
    fields: frozenset[Field]


@dataclass(frozen=True, kw_only=True)
class VoidActivity:
    """R8/R27: the event was deleted, cancelled or declined; void (never hard-delete) the activity."""

    link: Link
    # R11: the side the record vanished from (None when it was a response such as a decline).
    vanished_on: Side | None = None
    reason: str
    # R10: the owning attendee left someone else's meeting: the claim ends with this void, so the organizer's
    # mailbox, once synced, starts the meeting afresh. A void a person made in the ERP keeps its claim (final).
    ends_claim: bool = False


@dataclass(frozen=True, kw_only=True)
class DetachLink:
    """R8: the event was deleted but this type keeps its ERP record; stop syncing the pair."""

    link: Link
    # R11: the side the record vanished from (None when it was a response such as a decline).
    vanished_on: Side | None = None


@dataclass(frozen=True, kw_only=True)
class CreateEvent:
    """R5: an ERP activity with no link becomes an event in the owner's calendar."""

    activity: Activity
    item: CalendarItem
    # R4: an item that has already ended is written without attendees, so nobody is invited to the past.
    invite: bool = True


@dataclass(frozen=True, kw_only=True)
class UpdateEvent:
    """Write ``fields`` of the activity's item to the linked event."""

    link: Link
    activity: Activity
    item: CalendarItem
    fields: frozenset[Field]


@dataclass(frozen=True, kw_only=True)
class DeleteEvent:
    """R8: the activity was voided or removed in the ERP; its event leaves the calendar."""

    link: Link
    # R11: the side the record vanished from (None when it was a response such as a decline).
    vanished_on: Side | None = None
    reason: str


@dataclass(frozen=True, kw_only=True)
class Relink:
    """R10: both records exist (a crash fell between a write and saving its link); pair them, create nothing."""

    event_id: str
    activity_id: str
    origin: Side


@dataclass(frozen=True, kw_only=True)
class Remember:
    """Nothing to write, but store what each side shows now (e.g. a change in a field the side does not own)."""

    link: Link
    event: M365Event | None = None
    activity: Activity | None = None


@dataclass(frozen=True, kw_only=True)
class LinkCopy:
    """R10: this mailbox's copy of a meeting another mailbox owns; link it to that activity, create nothing.

    R27: the person's answer in their copy becomes their participant row, or the ERP's answer is given on the
    copy when the copy has none yet.
    """

    event: M365Event
    meeting: Meeting


@dataclass(frozen=True, kw_only=True)
class TakeOver:
    """R10: the organizer's mailbox became synced after an attendee's copy claimed the meeting; the organizer's
    copy becomes the owner and the activity changes owner."""

    event: M365Event
    meeting: Meeting


@dataclass(frozen=True, kw_only=True)
class ClaimMeeting:
    """R10: the owner's meeting, made with nobody invited, now has attendees: claim it tenant-wide for its
    activity before anyone's copy looks for the claim (``plan_claims``)."""

    link: Link


@dataclass(frozen=True, kw_only=True)
class Wait:
    """R10: a copy of a meeting whose organizer's mailbox syncs it; offered again until the activity exists."""

    event: M365Event
    reason: str


@dataclass(frozen=True, kw_only=True)
class AnswerInErp:
    """R27: the person answered in their copy; their participant row of the activity says so."""

    link: Link
    response: str  # Graph's vocabulary: accepted, tentativelyAccepted, declined, none


@dataclass(frozen=True, kw_only=True)
class AnswerInOutlook:
    """R27: the person's answer was set in the ERP; it is given on their copy, without a response mail."""

    link: Link
    response: str  # accepted, tentativelyAccepted or declined


@dataclass(frozen=True, kw_only=True)
class RetireCopy:
    """A copy's meeting ended for this person (cancelled, removed, voided): stop syncing it, write nothing."""

    link: Link
    reason: str


@dataclass(frozen=True, kw_only=True)
class Demote:
    """R10: the activity changed owner (taken over by its organizer); this mailbox's copy is now a copy."""

    link: Link
    activity: Activity


@dataclass(frozen=True, kw_only=True)
class Rebind:
    """R10: the owner's copy was replaced by a new copy of the same meeting (taken off and invited again):
    the link follows the new event (``link`` already names it), so nothing is voided or created."""

    link: Link


@dataclass(frozen=True, kw_only=True)
class Skip:
    """A change deliberately not synced, with the rule that says so (shown in run summaries)."""

    side: Side
    record_id: str
    reason: str


Action = (
    CreateActivity
    | UpdateActivity
    | VoidActivity
    | DetachLink
    | CreateEvent
    | UpdateEvent
    | DeleteEvent
    | Relink
    | Remember
    | LinkCopy
    | TakeOver
    | ClaimMeeting
    | Wait
    | AnswerInErp
    | AnswerInOutlook
    | RetireCopy
    | Demote
    | Rebind
    | Skip
    | SeriesAction  # R28 (shared/core/series_actions.py)
)


@dataclass(frozen=True, kw_only=True)
class Plan:
    actions: tuple[Action, ...]
    # R11: set when one side reported most linked items gone; the engine then writes nothing.
    halted: str | None = None
