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
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict


class LinkRole(StrEnum):
    """What a mailbox's copy is to its activity."""

    OWNER = "owner"  # the copy whose fields the activity carries
    COPY = "copy"  # another synced person's copy: only their response flows


class Meeting(BaseModel):
    """The tenant-wide claim on one meeting (stored once per iCalUId)."""

    model_config = ConfigDict(frozen=True)

    ical_uid: str
    owner_user_id: str
    owner_mailbox: str
    # None while the owner's create is under way (the claim is taken before the ERP write, R10).
    activity_id: str | None = None
    updated_at: AwareDatetime
    # Storage ETag; None for a claim not stored yet.
    etag: str | None = None
