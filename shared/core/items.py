"""The neutral calendar item both sides are mapped to, and the fields the sync compares.

A ``CalendarItem`` is what an M365 event and an ERP activity say about the same appointment, in
one vocabulary. Mapping a side to it and back is the job of ``mapping_m365`` and ``mapping_erp``;
change detection and merging work on its ``Field`` groups.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict


class Side(StrEnum):
    M365 = "m365"
    ERP = "erp"


class ItemKind(StrEnum):
    """What the item is in the ERP; the M365 side only knows events."""

    MEETING = "meeting"
    PHONE_CALL = "phone_call"
    TASK = "task"
    LEAVE = "leave"


class Field(StrEnum):
    """Groups of values that change together and are owned together (R12, R22)."""

    SUBJECT = "subject"
    BODY = "body"
    WHEN = "when"  # start, end, time zone, all-day and no-specified-time move as one
    LOCATION = "location"
    ATTENDEES = "attendees"  # who is invited, and as what (required, optional, room)
    RESPONSES = "responses"  # their answers (R27): read from M365, never written to it
    CATEGORIES = "categories"
    SHOW_AS = "show_as"
    SENSITIVITY = "sensitivity"


class Sensitivity(StrEnum):
    """The neutral access level: R17 maps ERP public/private/show-as-busy and Graph's four values here."""

    NORMAL = "normal"
    PRIVATE = "private"


class AttendeeRole(StrEnum):
    REQUIRED = "required"
    OPTIONAL = "optional"
    RESOURCE = "resource"


class Attendee(BaseModel):
    model_config = ConfigDict(frozen=True)

    email: str
    name: str = ""
    role: AttendeeRole = AttendeeRole.REQUIRED
    response: str = "none"


class CalendarItem(BaseModel):
    """One appointment in neutral form.

    ``start`` and ``end`` are aware datetimes in ``time_zone`` (an IANA name). For all-day items they
    are local midnights with an exclusive end (R14).
    """

    model_config = ConfigDict(frozen=True)

    kind: ItemKind
    subject: str
    body: str = ""
    start: AwareDatetime
    end: AwareDatetime
    time_zone: str = "UTC"
    all_day: bool = False
    no_specified_time: bool = False
    location: str = ""
    attendees: tuple[Attendee, ...] = ()
    categories: tuple[str, ...] = ()
    show_as: str = "busy"
    sensitivity: Sensitivity = Sensitivity.NORMAL
    modified_at: datetime | None = None
