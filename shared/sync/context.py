"""What a run works with: the ports (``Ports``) and the run's own memory (``RunContext``).

The run's memory holds the latest stored version of each link written (so later actions act on it), the
look-ups done once per run (ERP users, facilities, companies, contacts), and whether the run wrote to
the calendar (its delta token has not seen that yet).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from shared.core import records
from shared.core.activities import Activity, ActivityType, Contact, ErpUser, Facility
from shared.core.directory import Directory
from shared.core.items import CalendarItem
from shared.core.links import Link, LinkState
from shared.core.policy import SyncPolicy
from shared.erp.port import ErpPort
from shared.errors import ErpNotFound, StateConflict
from shared.graph.port import CalendarPort
from shared.state.port import StateStore
from shared.sync.gathering import Gathering
from shared.sync.report import RunReport


@dataclass(frozen=True, kw_only=True)
class Ports:
    calendar: CalendarPort
    erp: ErpPort
    state: StateStore
    policy: SyncPolicy
    clock: Callable[[], datetime]


@dataclass(kw_only=True)
class RunContext:
    """Per-run memory: the latest version of each link written, and look-ups done once."""

    ports: Ports
    user: ErpUser
    mailbox: str
    report: RunReport
    open_issue_keys: set[str]
    # R11: halted mass deletions a person released (status page); their removals go through once.
    released_keys: set[str] = field(default_factory=set)
    links: dict[str, Link] = field(default_factory=dict)
    users: list[ErpUser] | None = None
    facilities: list[Facility] | None = None
    company_names: dict[str, str | None] = field(default_factory=dict)
    contacts: dict[str, Contact | None] = field(default_factory=dict)
    meeting_type_ready: bool = False
    # Set by every write to the calendar: the delta token taken before it has not seen it yet.
    wrote_m365: bool = False
    # R28: the calendar-view window of the run's delta (a series' occurrences are read within it).
    window: tuple[datetime, datetime] | None = None
    erp_series: bool | None = None  # R28: the ERP's capability, asked once per run
    # While a group of writes runs side by side (``shared/sync/executor.py``): its new links, stored together.
    new_links: Gathering[Link, Link | None] | None = None
    # R10/R8: the notes of events made before their links (``shared/state/events_made.py``): this run's, the
    # events they name, and those an earlier run left (read once, when an event is about to be made).
    made_notes: list[str] = field(default_factory=list)
    noted_events: set[str] = field(default_factory=set)
    earlier_made: dict[str, str] | None = None
    earlier_notes: list[str] = field(default_factory=list)
    _reading_made: asyncio.Lock = field(default_factory=asyncio.Lock)
    _finding_contacts: asyncio.Lock = field(default_factory=asyncio.Lock)

    def current(self, link: Link) -> Link:
        return self.links.get(link.link_id, link)

    async def save(self, link: Link) -> Link:
        """Store the link and keep the stored copy (with its new ETag) for later actions of this run.

        A new link made while a group of writes runs side by side is stored with the group's other new links in
        one request. A new link whose event or activity an inactive link of this user still holds takes that
        link's place.
        """
        together = self.new_links
        stored = None
        if link.etag is None and together is not None and together.collecting():
            stored = await together.ask(link)  # None: refused in its group's transaction; saved alone below
        if stored is None:
            stored = await self._save_alone(link)
        self.links[stored.link_id] = stored
        return stored

    async def _save_alone(self, link: Link) -> Link:
        state = self.ports.state
        try:
            return await state.save_link(link)
        except StateConflict:
            earlier = await self._inactive_holder(link)
            if earlier is None:
                raise
            return await state.save_link(records.in_place_of(link, earlier))

    async def _inactive_holder(self, link: Link) -> Link | None:
        if link.etag is not None:
            return None
        state = self.ports.state
        for earlier in (
            await state.link_by_activity(link.user_id, link.activity_id) if link.activity_id else None,
            await state.link_by_event(link.user_id, link.event_id) if link.event_id else None,
        ):
            if earlier is not None and earlier.state is not LinkState.ACTIVE and earlier.link_id != link.link_id:
                return earlier
        return None

    async def note_made(self, made: Mapping[str, str]) -> None:
        """Note events just made for activities (activity id -> event id), before their links are saved; an
        event a note of this run names already is not noted again."""
        new = {activity_id: event_id for activity_id, event_id in made.items() if event_id not in self.noted_events}
        if not new:
            return
        self.made_notes.append(await self.ports.state.note_events_made(self.user.id, new))
        self.noted_events.update(new.values())

    async def made_before(self) -> Mapping[str, str]:
        """The events earlier runs made and may not have linked (activity id -> event id), read once."""
        async with self._reading_made:
            if self.earlier_made is None:
                notes = await self.ports.state.events_made(self.user.id)
                self.earlier_notes = [note for note in notes if note not in self.made_notes]
                self.earlier_made = {a: e for note in self.earlier_notes for a, e in notes[note].items()}
        return self.earlier_made

    async def forget_made(self) -> None:
        """Every link of the plan is saved: the notes of events made (this run's, and those read) go."""
        notes = [*self.earlier_notes, *self.made_notes]
        if notes:
            await self.ports.state.forget_events_made(self.user.id, notes)
        self.made_notes, self.earlier_notes = [], []

    def now(self) -> datetime:
        return self.ports.clock()

    # --- look-ups, each asked of the ERP at most once per run ---

    async def erp_users(self) -> list[ErpUser]:
        if self.users is None:
            self.users = list(await self.ports.erp.list_users(enabled_only=False))
        return self.users

    async def directory(self, item: CalendarItem) -> Directory:
        emails = sorted({a.email.lower() for a in item.attendees})
        if not emails:
            return Directory()
        users = await self.erp_users()
        if self.facilities is None:
            self.facilities = list(await self.ports.erp.list_facilities())
        contacts = await self.find_contacts(emails)
        return Directory.build(users=users, contacts=contacts, facilities=self.facilities)

    async def company_name(self, activity: Activity) -> str | None:
        """R21: the company a meeting's title names; None when it has none."""
        if activity.type is not ActivityType.MEETING or not activity.company_id:
            return None
        return await self.company(activity.company_id)

    async def company(self, company_id: str) -> str | None:
        if company_id not in self.company_names:
            try:
                self.company_names[company_id] = (await self.ports.erp.get_company(company_id)).name
            except ErpNotFound:
                # A company removed in the ERP leaves the text without it rather than failing the event.
                self.company_names[company_id] = None
        return self.company_names[company_id]

    async def find_contacts(self, emails: Sequence[str]) -> list[Contact]:
        wanted = {e.lower() for e in emails}
        if wanted - self.contacts.keys():
            async with self._finding_contacts:  # writes side by side ask one after the other, not all at once
                missing = sorted(wanted - self.contacts.keys())
                if missing:
                    found = {c.email.lower(): c for c in await self.ports.erp.find_contacts(missing) if c.email}
                    self.contacts.update({e: found.get(e) for e in missing})
        return [c for e in sorted(wanted) if (c := self.contacts.get(e)) is not None]

    async def contact_lines(self, activity: Activity) -> tuple[str, ...]:
        """R19: the contact's name, company, phone and email in the body of a task or call event."""
        if activity.type is ActivityType.MEETING:
            return ()
        emails = [p.email for p in activity.participants if p.kind.value == "contact"]
        if not emails:
            return ()
        lines = []
        for contact in await self.find_contacts(emails):
            company = await self.company(contact.company_id) if contact.company_id else None
            details = [contact.name, company or "", contact.phone or "", contact.email or ""]
            lines.append("Contact: " + ", ".join(d for d in details if d))
        return tuple(lines)
