"""The M365 side as the core sees it: an event read from Graph, and what to write to one.

The Graph adapter translates msgraph-sdk models to and from these, so the core never imports the SDK.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict

from shared.core.activities import Recurrence
from shared.core.items import Attendee


class EventType(StrEnum):
    SINGLE_INSTANCE = "singleInstance"
    OCCURRENCE = "occurrence"
    EXCEPTION = "exception"
    SERIES_MASTER = "seriesMaster"


class M365Event(BaseModel):
    """An event as read from a mailbox (times as instants; ``time_zone`` is the event's own zone, IANA)."""

    model_config = ConfigDict(frozen=True)

    id: str
    ical_uid: str | None = None
    change_key: str | None = None
    type: EventType = EventType.SINGLE_INSTANCE
    series_master_id: str | None = None
    # R28: a series master's pattern; an occurrence's or exception's start as the pattern gives it.
    recurrence: Recurrence | None = None
    original_start: AwareDatetime | None = None
    subject: str = ""
    body: str = ""
    start: AwareDatetime
    end: AwareDatetime
    time_zone: str = "UTC"
    is_all_day: bool = False
    is_cancelled: bool = False
    is_organizer: bool = True
    # The mailbox owner's own response (R27): none, organizer, accepted, tentativelyAccepted, declined, notResponded.
    response: str = "organizer"
    show_as: str = "busy"
    sensitivity: str = "normal"
    location: str = ""
    location_email: str | None = None
    attendees: tuple[Attendee, ...] = ()
    categories: tuple[str, ...] = ()
    organizer_email: str | None = None
    last_modified: AwareDatetime | None = None
    web_link: str | None = None
    # Our extended property: the ERP record this event was written for (R10 crash recovery).
    erp_stamp: str | None = None
    # R18: Graph's ``hasAttachments`` (inline pictures included); False means no attachment list need be read.
    has_attachments: bool = False


class EventWrite(BaseModel):
    """Values to set on an event. On update only the fields in ``model_fields_set`` are sent."""

    model_config = ConfigDict(frozen=True)

    subject: str | None = None
    body: str | None = None
    start: datetime | None = None  # wall clock in ``time_zone``
    end: datetime | None = None
    time_zone: str | None = None  # IANA
    is_all_day: bool | None = None
    show_as: str | None = None
    sensitivity: str | None = None
    location: str | None = None
    location_email: str | None = None
    attendees: tuple[Attendee, ...] | None = None
    categories: tuple[str, ...] | None = None
    erp_stamp: str | None = None
    transaction_id: str | None = None
    # R28: makes the new event a series master (create), or changes its pattern (update).
    recurrence: Recurrence | None = None


class DeltaEntry(BaseModel):
    """One item of a calendar-view delta: an event, or the id of one reported ``@removed``."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    event: M365Event | None = None

    @property
    def removed(self) -> bool:
        return self.event is None
