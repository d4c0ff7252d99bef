"""The ERP vocabulary the sync core plans with: activities, participants, users, contacts, feeds.

The ERP Sync API (docs/erp-sync-api.yaml) carries these on the wire; the HTTP adapter imports them from
here, never the other way round.

Field names are the contract's camelCase on the wire and snake_case in Python. Times of an
activity are wall-clock times in the activity's IANA ``time_zone`` (all-day items start and end
at midnight, end exclusive), the way ERPs store them; ``modified_at`` is an instant in UTC.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Generic, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from shared.core.attachments import ActivityAttachment


class ErpModel(BaseModel):
    """Frozen, camelCase on the wire, unknown fields ignored (an ERP may send more than we need)."""

    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True, extra="ignore")


class ActivityType(StrEnum):
    MEETING = "meeting"
    PHONE_CALL = "phone_call"
    TASK = "task"


class ActivityState(StrEnum):
    DRAFT = "draft"
    CONFIRMED = "confirmed"
    RELEASED = "released"
    CLOSED = "closed"
    VOIDED = "voided"


READ_ONLY_STATES = frozenset({ActivityState.RELEASED, ActivityState.CLOSED, ActivityState.VOIDED})


class AccessLevel(StrEnum):
    PUBLIC = "public"
    PRIVATE = "private"
    SHOW_AS_BUSY = "show_as_busy"


class ShowAs(StrEnum):
    FREE = "free"
    TENTATIVE = "tentative"
    BUSY = "busy"
    OOF = "oof"
    WORKING_ELSEWHERE = "workingElsewhere"


class ParticipantKind(StrEnum):
    USER = "user"
    CONTACT = "contact"
    FACILITY = "facility"
    EXTERNAL = "external"


class Response(StrEnum):
    NONE = "none"
    ORGANIZER = "organizer"
    ACCEPTED = "accepted"
    TENTATIVE = "tentative"
    DECLINED = "declined"


class ErpUser(ErpModel):
    id: str
    display_name: str
    email: str | None = None
    enabled: bool = True
    default_company_id: str | None = None
    default_location_id: str | None = None
    time_zone: str = "UTC"
    # R18: the person's own "sync attachment files" setting in the ERP (desknet's NEO user integration
    # setting, seed 000), off unless switched on.
    sync_attachments: bool = False


class Company(ErpModel):
    id: str
    name: str
    email: str | None = None


class Contact(ErpModel):
    id: str
    name: str
    email: str | None = None
    phone: str | None = None
    company_id: str | None = None


class Facility(ErpModel):
    id: str
    name: str
    room_mailbox: str | None = None
    allows_no_specified_time: bool = True


class ActivityTypeDefinition(ErpModel):
    code: str
    kind: ActivityType
    name: str


class Participant(ErpModel):
    email: str
    name: str | None = None
    kind: ParticipantKind = ParticipantKind.EXTERNAL
    ref_id: str | None = None
    response: Response = Response.NONE
    required: bool = True


class Origin(ErpModel):
    """Where a record came from when the sync created it (None when a person created it in the ERP)."""

    system: Literal["m365"] = "m365"
    mailbox: str
    event_id: str
    ical_uid: str | None = None


class PatternType(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    ABSOLUTE_MONTHLY = "absoluteMonthly"
    RELATIVE_MONTHLY = "relativeMonthly"
    ABSOLUTE_YEARLY = "absoluteYearly"
    RELATIVE_YEARLY = "relativeYearly"


class RangeType(StrEnum):
    END_DATE = "endDate"
    NO_END = "noEnd"
    NUMBERED = "numbered"


class DayOfWeek(StrEnum):
    SUNDAY = "sunday"
    MONDAY = "monday"
    TUESDAY = "tuesday"
    WEDNESDAY = "wednesday"
    THURSDAY = "thursday"
    FRIDAY = "friday"
    SATURDAY = "saturday"


class WeekIndex(StrEnum):
    FIRST = "first"
    SECOND = "second"
    THIRD = "third"
    FOURTH = "fourth"
    LAST = "last"


class RecurrencePattern(ErpModel):
    """Graph's recurrencePattern: how often (R28)."""

    type: PatternType
    interval: int = Field(default=1, ge=1)
    days_of_week: tuple[DayOfWeek, ...] = ()
    day_of_month: int = Field(default=0, ge=0, le=31)
    month: int = Field(default=0, ge=0, le=12)
    index: WeekIndex = WeekIndex.FIRST
    first_day_of_week: DayOfWeek = DayOfWeek.SUNDAY


class RecurrenceRange(ErpModel):
    """Graph's recurrenceRange: from when, and until when (R28). Dates are in the series' zone."""

    type: RangeType
    start_date: date
    end_date: date | None = None
    number_of_occurrences: int = Field(default=0, ge=0)
    recurrence_time_zone: str | None = None


class Recurrence(ErpModel):
    """Graph's patternedRecurrence vocabulary (R28), typed, for ERPs that support series."""

    pattern: RecurrencePattern
    range: RecurrenceRange


class OccurrenceException(ErpModel):
    """One occurrence of a series that differs from its pattern (R28): cancelled, or moved/edited.

    ``original_start`` is the wall-clock start the pattern gives the occurrence, in the series' zone: it
    names the occurrence however it was moved. Fields left None are the series' own.
    """

    original_start: datetime
    cancelled: bool = False
    start: datetime | None = None
    end: datetime | None = None
    subject: str | None = None
    description: str | None = None
    location: str | None = None


class ErpCapabilities(ErpModel):
    """What an ERP can hold, read once by the adapter (R28: series)."""

    series: bool = False
    # R18: whether activities hold files, and the largest file the ERP takes (bytes).
    attachments: bool = False
    max_attachment_bytes: int = 0


class ActivityFields(ErpModel):
    """What a client sends to create an activity; every field of an activity a writer may set."""

    type: ActivityType
    subject: str
    description: str = ""
    start: datetime
    end: datetime
    time_zone: str = "UTC"
    all_day: bool = False
    no_specified_time: bool = False
    show_as: ShowAs = ShowAs.BUSY
    access_level: AccessLevel = AccessLevel.PUBLIC
    location: str = ""
    facility_ids: tuple[str, ...] = ()
    owner_id: str
    registered_user_ids: tuple[str, ...] = ()
    contact_ids: tuple[str, ...] = ()
    company_id: str | None = None
    company_location_id: str | None = None
    participants: tuple[Participant, ...] = ()
    categories: tuple[str, ...] = ()
    recurrence: Recurrence | None = None
    # R28: occurrences of the series that were moved, edited or cancelled (empty unless ``recurrence``).
    exceptions: tuple[OccurrenceException, ...] = ()
    state: ActivityState = ActivityState.CONFIRMED
    origin: Origin | None = None


class Activity(ActivityFields):
    """An activity as the ERP stores it."""

    id: str
    version: int
    web_url: str | None = None
    created_at: AwareDatetime
    modified_at: AwareDatetime
    # R18: the activity's files (metadata and SHA-256, no bytes); adding or removing one bumps ``version``.
    attachments: tuple[ActivityAttachment, ...] = ()

    @property
    def read_only(self) -> bool:
        return self.state in READ_ONLY_STATES


class ActivityPatch(ErpModel):
    """A partial update: only the fields set are sent (``model_dump(exclude_unset=True)``)."""

    # R10: a meeting handed over to its organizer's mailbox changes owner.
    owner_id: str | None = None
    subject: str | None = None
    description: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    time_zone: str | None = None
    all_day: bool | None = None
    no_specified_time: bool | None = None
    show_as: ShowAs | None = None
    access_level: AccessLevel | None = None
    location: str | None = None
    facility_ids: tuple[str, ...] | None = None
    registered_user_ids: tuple[str, ...] | None = None
    contact_ids: tuple[str, ...] | None = None
    company_id: str | None = None
    participants: tuple[Participant, ...] | None = None
    categories: tuple[str, ...] | None = None
    recurrence: Recurrence | None = None
    exceptions: tuple[OccurrenceException, ...] | None = None


class ActivityChange(ErpModel):
    """One entry of the activity change feed: the current record, or a tombstone when it was deleted."""

    seq: int
    activity_id: str
    owner_id: str
    deleted: bool = False
    activity: Activity | None = None


class LeaveStatus(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class LeaveRequest(ErpModel):
    id: str
    user_id: str
    leave_type: str
    description: str = ""
    start: datetime
    end: datetime
    time_zone: str = "UTC"
    all_day: bool = True
    status: LeaveStatus
    version: int
    modified_at: AwareDatetime


class LeaveRequestChange(ErpModel):
    seq: int
    leave_request_id: str
    user_id: str
    deleted: bool = False
    leave_request: LeaveRequest | None = None


T = TypeVar("T")


class ChangePage(ErpModel, Generic[T]):
    """All changes after a cursor (the adapter follows the feed's pages) and the cursor to store."""

    items: tuple[T, ...] = Field(default=())
    cursor: str
