"""The calendar port: what the sync engine needs from a mailbox's calendar. Raises GraphError subclasses."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

from shared.core.attachments import EventAttachment, FileMeta
from shared.core.m365 import DeltaEntry, EventWrite, M365Event
from shared.errors import GraphError


class DeltaResult(BaseModel):
    """All pages of one delta round: the entries and the deltaLink to store for the next round."""

    model_config = ConfigDict(frozen=True)

    entries: tuple[DeltaEntry, ...]
    delta_link: str
    # Single events Graph answered with ``transactionId: null``: made outside this sync, whose every create
    # sets one (page "event resource type", https://learn.microsoft.com/en-us/graph/api/resources/event), so
    # they cannot carry our ERP stamp and need no read for it.
    foreign: frozenset[str] = frozenset()


class EventChange(BaseModel):
    """One request of a batch (``CalendarPort.write_events``, ``read_events``): create (``write``), update
    (``event_id`` and ``write``), delete or read with our stamp (``event_id``)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["create", "update", "delete", "read"]
    event_id: str | None = None
    write: EventWrite | None = None


@dataclass(frozen=True)
class EventChangeResult:
    """What became of one ``EventChange``: the event as Graph answered it (create, update), or the error."""

    event: M365Event | None = None
    error: GraphError | None = None


class Subscription(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    resource: str
    expires_at: datetime


class CalendarPort(Protocol):
    async def delta_start(self, mailbox: str, *, start: datetime, end: datetime) -> DeltaResult:
        """First round of a calendar-view delta over [start, end) (the window is fixed in the links)."""
        ...

    async def delta_follow(self, delta_link: str) -> DeltaResult:
        """The changes since ``delta_link``; GraphSyncStateLost when the token is gone."""
        ...

    async def get_event(self, mailbox: str, event_id: str) -> M365Event:
        """One event with our ERP stamp; GraphNotFound when it is gone (R9 confirms removals this way)."""
        ...

    async def create_event(self, mailbox: str, write: EventWrite) -> M365Event: ...

    async def update_event(self, mailbox: str, event_id: str, write: EventWrite) -> M365Event: ...

    async def instances(
        self, mailbox: str, series_master_id: str, *, start: datetime, end: datetime
    ) -> Sequence[M365Event]:
        """R28: the occurrences and exceptions of a series between ``start`` and ``end`` (``/instances``),
        each with its ``original_start``; cancelled occurrences are absent."""
        ...

    async def events_by_ical_uid(self, mailbox: str, ical_uid: str) -> Sequence[M365Event]:
        """The mailbox's events with this iCalUId (its copy of a meeting, R10), with our ERP stamp."""
        ...

    async def stamped_events(self, mailbox: str) -> Mapping[str, str]:
        """Every event of the mailbox carrying our ERP stamp, as event id → stamp, in one filtered listing
        (R10 crash recovery without one read per event: delta answers carry no extended properties)."""
        ...

    async def respond(self, mailbox: str, event_id: str, response: str) -> None:
        """Set the mailbox person's response on their copy (R27): ``accepted``, ``tentativelyAccepted`` or
        ``declined``, without a response mail to the organizer (``sendResponse: false``)."""
        ...

    async def delete_event(self, mailbox: str, event_id: str) -> None:
        """Delete; an event already gone is not an error."""
        ...

    async def read_events(self, mailbox: str, event_ids: Sequence[str]) -> dict[str, M365Event | None]:
        """Several events with our ERP stamp (``get_event`` each, 20 to a Graph JSON batch); None for one that is
        gone (404). Any other error is raised, as ``get_event`` would."""
        ...

    async def write_events(self, mailbox: str, changes: Sequence[EventChange]) -> list[EventChangeResult]:
        """Several creates, updates and deletes in one mailbox, each with its own result in order (Graph JSON
        batches of 20). A throttled item is tried again; one still throttled is a ``GraphTransient`` result.
        Raises only when the batch as a whole fails."""
        ...

    # --- attachments (R18) ---

    async def event_attachments(self, mailbox: str, event_id: str) -> Sequence[EventAttachment]:
        """The event's file attachments without their bytes (``$select``); item and reference attachments are
        left out. GraphNotFound when the event is gone."""
        ...

    def read_event_attachment(self, mailbox: str, event_id: str, attachment_id: str) -> AsyncIterator[bytes]:
        """The file's raw bytes (``…/attachments/{id}/$value``), in chunks. GraphNotFound when it is gone."""
        ...

    async def add_event_attachment(
        self, mailbox: str, event_id: str, meta: FileMeta, content: AsyncIterable[bytes]
    ) -> EventAttachment:
        """Attach ``meta.size`` bytes read from ``content``: one POST below 3 MB, else an upload session and
        ranged PUTs (a failed range is sent again from the next range the session expects). GraphTooLarge past
        150 MB."""
        ...

    async def remove_event_attachment(self, mailbox: str, event_id: str, attachment_id: str) -> None:
        """Delete the attachment; one already gone is not an error."""
        ...

    async def create_subscription(
        self, mailbox: str, *, notification_url: str, lifecycle_url: str | None, client_state: str, expires_at: datetime
    ) -> Subscription: ...

    async def renew_subscription(self, subscription_id: str, *, expires_at: datetime) -> Subscription: ...

    async def delete_subscription(self, subscription_id: str) -> None: ...

    async def subscriptions(self) -> Sequence[Subscription]: ...

    async def aclose(self) -> None: ...
