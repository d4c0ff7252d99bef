"""R10: the claim of a meeting that was made with nobody invited, once it has attendees (pure).

A meeting only its own mailbox holds (``meetings.shared`` is False: the organizer's own event, nobody invited
but the ERP's customer contacts and rooms) is linked without a tenant-wide claim: no other synced copy exists to
race for it. Its claim is made the moment its attendees change, whichever side changes them, and before the
write that invites anyone, so a colleague's copy always finds the claim when it appears (their sync waits for
it meanwhile: ``plan_copies.new_meeting_event``):

- Outlook: the owner's run sees its linked event with an attendee list other than the one it recorded;
- the ERP: an event update is about to write attendees to the event.
"""

from __future__ import annotations

from collections.abc import Sequence

from shared.core.actions import Action, ClaimMeeting, UpdateEvent
from shared.core.items import Field
from shared.core.links import Link, LinkState
from shared.core.m365 import M365Event
from shared.core.meetings import LinkRole, shared
from shared.core.records import m365_fingerprint
from shared.core.run import Index, RunInput


def claims_first(run: RunInput, index: Index, actions: Sequence[Action]) -> tuple[Action, ...]:
    """``actions`` with a ``ClaimMeeting`` first for every unclaimed meeting of the run that has, or is about
    to get, attendees."""
    wanted: dict[str, Link] = {}
    for entry in run.m365_changes:
        link, event = index.by_event.get(entry.event_id), entry.event
        if (
            _unclaimed(link)
            and event is not None
            and not event.is_cancelled
            and shared(is_organizer=event.is_organizer, attendees=event.attendees, mailbox=run.mailbox)
            and _attendees_changed(link, event, run)
        ):
            assert link is not None
            wanted.setdefault(link.link_id, link)
    for action in actions:
        if isinstance(action, UpdateEvent) and _invites(action, run.mailbox) and _unclaimed(action.link):
            wanted.setdefault(action.link.link_id, action.link)
    return (*(ClaimMeeting(link=link) for link in wanted.values()), *actions)


def _unclaimed(link: Link | None) -> bool:
    return (
        link is not None
        and not link.claimed
        and link.state is LinkState.ACTIVE
        and link.role is LinkRole.OWNER
        and bool(link.ical_uid)
        and bool(link.activity_id)
    )


def _attendees_changed(link: Link | None, event: M365Event, run: RunInput) -> bool:
    """Whether the event's attendees differ from those the link recorded: a meeting linked unclaimed because it
    invited only customers and rooms stays so until someone else is invited (the planner has no ERP directory
    to tell them apart, so any change of the list claims it)."""
    assert link is not None
    now = m365_fingerprint(event, link.kind, run.policy).get(Field.ATTENDEES)
    return now != link.m365_fields.get(Field.ATTENDEES)


def _invites(action: UpdateEvent, mailbox: str) -> bool:
    """The update writes an attendee list that invites someone."""
    return Field.ATTENDEES in action.fields and shared(
        is_organizer=True, attendees=action.item.attendees, mailbox=mailbox
    )
