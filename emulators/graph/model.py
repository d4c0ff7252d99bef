"""In-memory records of the emulator. Mutable on purpose: they are the server's state, edited in place."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

UserKind = Literal["user", "room"]


@dataclass(kw_only=True)
class User:
    id: str
    mail: str
    display_name: str
    kind: UserKind = "user"
    has_mailbox: bool = True

    def email_address(self) -> dict[str, str]:
        return {"name": self.display_name, "address": self.mail}


@dataclass(kw_only=True)
class OccurrenceOverride:
    """An edited occurrence (an ``exception``): its own times, fields and changeKey."""

    props: dict[str, Any] = field(default_factory=dict)
    start_utc: datetime | None = None
    end_utc: datetime | None = None
    change_key: str = ""
    last_modified: datetime | None = None
    response: dict[str, Any] | None = None
    is_cancelled: bool = False


@dataclass(kw_only=True)
class StoredAttachment:
    """A ``fileAttachment`` on an event (page "fileAttachment resource type"): its bytes and metadata."""

    id: str
    name: str
    content_type: str
    content: bytes
    is_inline: bool = False
    content_id: str | None = None
    last_modified: datetime | None = None


@dataclass(kw_only=True)
class UploadSession:
    """An attachment upload session (page "attachment: createUploadSession"): the bytes received so far."""

    id: str
    token: str
    app_id: str
    mailbox_id: str
    event_id: str
    name: str
    content_type: str
    size: int
    is_inline: bool
    content_id: str | None
    expiration: datetime
    received: bytearray = field(default_factory=bytearray)


@dataclass(kw_only=True)
class StoredEvent:
    """One event in one mailbox: a single instance or a series master (occurrences are computed)."""

    id: str
    mailbox_id: str
    props: dict[str, Any]
    start_local: datetime
    start_tz: str
    end_local: datetime
    end_tz: str
    is_all_day: bool
    recurrence: dict[str, Any] | None
    change_key: str
    created: datetime
    last_modified: datetime
    ical_uid: str
    is_organizer: bool
    organizer: dict[str, Any]
    response: dict[str, Any]
    transaction_id: str | None = None
    extended: list[dict[str, str]] = field(default_factory=list)
    is_cancelled: bool = False
    exceptions: dict[str, OccurrenceOverride] = field(default_factory=dict)
    deleted_occurrences: set[str] = field(default_factory=set)
    # On an attendee's copy: where the organizer's event lives. On the organizer's event: the copies.
    organizer_ref: tuple[str, str] | None = None
    copies: dict[str, str] = field(default_factory=dict)
    # File attachments (R18); a series master's apply to the whole series.
    attachments: list[StoredAttachment] = field(default_factory=list)


@dataclass(kw_only=True)
class Subscription:
    id: str
    app_id: str
    mailbox_id: str
    resource: str
    change_types: frozenset[str]
    notification_url: str
    lifecycle_url: str | None
    expiration: datetime
    client_state: str | None
    latest_tls: str
    created: datetime

    def is_active(self, now: datetime) -> bool:
        return self.expiration > now


@dataclass(kw_only=True)
class DeltaState:
    """What a delta or skip token stands for. The window is fixed at the first call (page "event: delta")."""

    mailbox_id: str
    user_segment: str
    window_start: datetime
    window_end: datetime
    generation: int
    known: dict[str, str]  # instance id -> changeKey the client has seen
    pending: list[dict[str, Any]] = field(default_factory=list)  # items still to page out (skip tokens)
    page_size: int | None = None


@dataclass(kw_only=True)
class Fault:
    """A scripted failure for the next ``count`` matching requests (``POST /_emulator/faults``)."""

    id: str
    method: str | None
    path: str | None
    mailbox: str | None
    status: int | None
    count: int
    retry_after: int | None
    delay_ms: int
    body: dict[str, Any] | None


@dataclass(kw_only=True)
class RequestRecord:
    method: str
    path: str
    mailbox: str | None
    status: int
    app_id: str | None
    at: datetime
