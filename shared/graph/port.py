"""The calendar port: what the sync engine needs from a mailbox's calendar. Raises GraphError subclasses."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from shared.core.m365 import DeltaEntry, EventWrite, M365Event


class DeltaResult(BaseModel):
    """All pages of one delta round: the entries and the deltaLink to store for the next round."""

    model_config = ConfigDict(frozen=True)

    entries: tuple[DeltaEntry, ...]
    delta_link: str


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

    async def respond(self, mailbox: str, event_id: str, response: str) -> None:
        """Set the mailbox person's response on their copy (R27): ``accepted``, ``tentativelyAccepted`` or
        ``declined``, without a response mail to the organizer (``sendResponse: false``)."""
        ...

    async def delete_event(self, mailbox: str, event_id: str) -> None:
        """Delete; an event already gone is not an error."""
        ...

    async def create_subscription(
        self, mailbox: str, *, notification_url: str, lifecycle_url: str | None, client_state: str, expires_at: datetime
    ) -> Subscription: ...

    async def renew_subscription(self, subscription_id: str, *, expires_at: datetime) -> Subscription: ...

    async def delete_subscription(self, subscription_id: str) -> None: ...

    async def subscriptions(self) -> Sequence[Subscription]: ...

    async def aclose(self) -> None: ...
