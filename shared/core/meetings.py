"""One meeting across the tenant (R10, R27): whose mailbox owns it, and what the other copies are.

Every synced mailbox that holds a copy of one meeting (same iCalUId) is linked to ONE ERP activity.

- The owner is the organizer's mailbox when the organizer is a synced user; otherwise the first synced
  attendee to claim the meeting. The owner's copy alone creates the activity and carries the
  organizer's fields (subject, body, times, location, attendees) both ways.
- Every other synced copy is a participant: its person is a registered user of the activity, and only
  their own response (accepted, tentative, declined) flows, both ways. A copy never creates an activity
  and never rewrites the organizer's fields.
- The claim is a tenant-wide ``Meeting`` record keyed by iCalUId, written insert-if-absent, so exactly
  one activity results however many mailboxes see the meeting at once. When the organizer's mailbox
  becomes synced later, it takes the meeting over (the activity's owner becomes the organizer).
- A meeting no other mailbox can hold (the mailbox's own, nobody invited but customers and rooms: not
  ``shared``) needs no claim: no
  other copy exists to race for it, and a retried create finds its first write by idempotency key (ERP) or
  ``transactionId`` (Graph). It is claimed the moment it has attendees, before anyone is invited.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import TypedDict

from pydantic import AwareDatetime, BaseModel, ConfigDict

from shared.core.activities import Activity, ActivityFields, ActivityPatch, Participant, ParticipantKind, Response
from shared.core.items import Attendee


class LinkRole(StrEnum):
    """What a mailbox's copy is to its activity."""

    OWNER = "owner"  # the copy whose fields the activity carries
    COPY = "copy"  # another synced person's copy: only their response flows


def shared(
    *, is_organizer: bool, attendees: Iterable[Attendee], mailbox: str, outside: frozenset[str] = frozenset()
) -> bool:
    """R10: whether another synced mailbox may hold a copy of this meeting: it is someone else's, or it invites
    anyone but the addresses known to be ``outside`` (the ERP's customer contacts and rooms: ``Directory.
    outside``). An address the ERP does not know may be a colleague's mailbox, synced now or later; attendees are
    the only way a copy comes about."""
    known = {mailbox.lower(), *outside}
    return not is_organizer or any(a.email.lower() not in known for a in attendees)


def outside_of(activity: Activity) -> frozenset[str]:
    """R10: the addresses of an activity's participants the ERP itself names customer contacts or rooms (the
    ERP-side counterpart of ``Directory.outside``)."""
    kinds = (ParticipantKind.CONTACT, ParticipantKind.FACILITY)
    return frozenset(p.email.lower() for p in activity.participants if p.kind in kinds and p.email)


class Meeting(BaseModel):
    """The tenant-wide claim on one meeting (stored once per iCalUId)."""

    model_config = ConfigDict(frozen=True)

    ical_uid: str
    owner_user_id: str
    owner_mailbox: str
    # None while the owner's create is under way (the claim is taken before the ERP write, R10).
    activity_id: str | None = None
    # The change key of the owner's event the activity was made from: a relink after a crash tells an event
    # unchanged since then from one edited meanwhile (R10, R6).
    source_change_key: str | None = None
    updated_at: AwareDatetime
    # Storage ETag; None for a claim not stored yet.
    etag: str | None = None

    def evolve(self, changes: MeetingChanges) -> Meeting:
        """A copy with ``changes`` (typed)."""
        return self.model_copy(update=dict(changes))


class MeetingChanges(TypedDict, total=False):
    owner_user_id: str
    owner_mailbox: str
    activity_id: str | None
    updated_at: datetime


# --- answers (R27) ---------------------------------------------------------------------------------

# What a person can answer, in Graph's words; "none" is no answer yet.
ANSWERS = frozenset({"accepted", "tentativelyAccepted", "declined"})
_TO_ERP = {
    "accepted": Response.ACCEPTED,
    "tentativelyAccepted": Response.TENTATIVE,
    "declined": Response.DECLINED,
    "organizer": Response.ORGANIZER,
}
_FROM_ERP = {
    Response.ACCEPTED: "accepted",
    Response.TENTATIVE: "tentativelyAccepted",
    Response.DECLINED: "declined",
    Response.ORGANIZER: "organizer",
    Response.NONE: "none",
}


def answer(response: str | None) -> str:
    """A Graph response in one spelling: "notResponded" and a missing one are "none"."""
    return response if response in ANSWERS or response == "organizer" else "none"


def _is_me(participant: Participant, user_id: str, mailbox: str) -> bool:
    if participant.kind is not ParticipantKind.USER:
        return False
    return participant.ref_id == user_id or participant.email.lower() == mailbox.lower()


def participant_answer(activity: Activity, user_id: str, mailbox: str) -> str | None:
    """The person's answer on the activity (Graph's words), or None when they are not a participant."""
    for participant in activity.participants:
        if _is_me(participant, user_id, mailbox):
            return _FROM_ERP[participant.response]
    return "none" if user_id in activity.registered_user_ids else None


def _answered(
    participants: tuple[Participant, ...], *, user_id: str, mailbox: str, name: str, response: str
) -> tuple[Participant, ...]:
    """``participants`` with this person's row answering ``response`` (added when missing)."""
    erp_response = _TO_ERP.get(response, Response.NONE)
    rows = list(participants)
    for i, participant in enumerate(rows):
        if _is_me(participant, user_id, mailbox):
            rows[i] = participant.model_copy(update={"response": erp_response})
            break
    else:
        rows.append(
            Participant(
                email=mailbox.lower(),
                name=name or None,
                kind=ParticipantKind.USER,
                ref_id=user_id,
                response=erp_response,
            )
        )
    return tuple(rows)


def with_answer(activity: Activity, *, user_id: str, mailbox: str, name: str, response: str) -> ActivityPatch:
    """The participants of ``activity`` with this person's row answering ``response`` (added when missing)."""
    rows = _answered(activity.participants, user_id=user_id, mailbox=mailbox, name=name, response=response)
    registered = activity.registered_user_ids
    if user_id != activity.owner_id and user_id not in registered:
        registered = (*registered, user_id)
    return ActivityPatch(participants=rows, registered_user_ids=registered)


def fields_with_answer(
    fields: ActivityFields, *, user_id: str, mailbox: str, name: str, response: str
) -> ActivityFields:
    """A new activity whose owner answered a meeting someone outside organises: their row says so (R27)."""
    rows = _answered(fields.participants, user_id=user_id, mailbox=mailbox, name=name, response=response)
    return fields.model_copy(update={"participants": rows})
