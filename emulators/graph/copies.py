"""Meetings across mailboxes: the attendees' copies of an organizer's event (page "Outlook calendar meetings").

A mixin of ``EmulatorState``: the organizer's creates, edits, cancellations and the responses they get are
mirrored into each invited tenant mailbox's copy (own id, same iCalUId, ``isOrganizer`` false).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from emulators.graph import ids
from emulators.graph.attachment_files import mirrored
from emulators.graph.events import SHARED_FIELDS, now
from emulators.graph.model import OccurrenceOverride, StoredEvent, User

MIN_TIME = "0001-01-01T00:00:00Z"


def stamp() -> str:
    """A response time as Graph writes it."""
    moment: datetime = now()
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f0Z")


class MeetingCopies:
    """Keeps attendees' copies in step with the organizer's event."""

    users: dict[str, User]
    mailboxes: dict[str, dict[str, StoredEvent]]

    if TYPE_CHECKING:

        def find_by_address(self, address: str) -> User | None: ...

        def events_of(self, user: User) -> dict[str, StoredEvent]: ...

        def _changed(self, mailbox_id: str, event_id: str, change_type: str) -> None: ...

        def _touch(self, ev: StoredEvent) -> None: ...

    def _tell_organizer(self, attendee: User, copy: StoredEvent, status: dict[str, Any]) -> None:
        if copy.organizer_ref is None:
            return
        organizer_events = self.mailboxes.get(copy.organizer_ref[0], {})
        master = organizer_events.get(copy.organizer_ref[1])
        if master is None:
            return
        changed = False
        for a in master.props.get("attendees") or []:
            if a["emailAddress"]["address"].lower() == attendee.mail.lower():
                a["status"] = dict(status)
                changed = True
        if changed:
            self._touch(master)
            master.props["_seriesKey"] = ids.new_change_key()
            self._changed(master.mailbox_id, master.id, "updated")

    # ----- meetings across mailboxes -----
    def _sync_copies(self, ev: StoredEvent) -> None:
        """Make the attendees' calendars match the organizer's event (page "Outlook calendar meetings")."""
        organizer_user = self.users[ev.mailbox_id]
        wanted: dict[str, dict[str, Any]] = {}
        for a in ev.props.get("attendees") or []:
            u = self.find_by_address(a["emailAddress"]["address"])
            if u and u.has_mailbox and u.id != organizer_user.id:
                wanted[u.id] = a
        for mailbox_id, copy_id in list(ev.copies.items()):
            if mailbox_id not in wanted:
                copy = self.mailboxes.get(mailbox_id, {}).get(copy_id)
                if copy:
                    self._mark_cancelled(copy)
                del ev.copies[mailbox_id]
        for mailbox_id, attendee in wanted.items():
            u = self.users[mailbox_id]
            copy = self.mailboxes.get(mailbox_id, {}).get(ev.copies.get(mailbox_id, ""))
            if copy is None:
                self._create_copy(ev, u, attendee)
            else:
                self._refresh_copy(ev, copy)

    def _shared_props(self, ev: StoredEvent) -> dict[str, Any]:
        return {k: ev.props[k] for k in SHARED_FIELDS if k in ev.props}

    def _create_copy(self, ev: StoredEvent, u: User, attendee: dict[str, Any]) -> None:
        room = u.kind == "room"
        response = {"response": "accepted" if room else "notResponded", "time": stamp() if room else MIN_TIME}
        props = self._shared_props(ev)
        props["showAs"] = "busy" if room else "tentative"
        ck = ids.new_change_key()
        props["_seriesKey"] = ck
        moment = now()
        copy = StoredEvent(
            id=ids.new_event_id(u.id),
            mailbox_id=u.id,
            props=props,
            start_local=ev.start_local,
            start_tz=ev.start_tz,
            end_local=ev.end_local,
            end_tz=ev.end_tz,
            is_all_day=ev.is_all_day,
            recurrence=ev.recurrence,
            change_key=ck,
            created=moment,
            last_modified=moment,
            ical_uid=ev.ical_uid,
            is_organizer=False,
            organizer=ev.organizer,
            response=response,
            organizer_ref=(ev.mailbox_id, ev.id),
            exceptions={k: replace(v) for k, v in ev.exceptions.items()},
            deleted_occurrences=set(ev.deleted_occurrences),
        )
        copy.attachments = mirrored(ev, copy.id)
        self.events_of(u)[copy.id] = copy
        ev.copies[u.id] = copy.id
        self._changed(u.id, copy.id, "created")
        if room:
            # Rooms auto-accept; the organizer sees the acceptance.
            attendee["status"] = dict(response)
            self._touch(ev)
            self._changed(ev.mailbox_id, ev.id, "updated")

    def _refresh_copy(self, ev: StoredEvent, copy: StoredEvent) -> None:
        kept = {k: v for k, v in copy.props.items() if k not in SHARED_FIELDS}
        copy.props = {**kept, **self._shared_props(ev), "_seriesKey": ids.new_change_key()}
        copy.start_local, copy.start_tz, copy.end_local, copy.end_tz = (
            ev.start_local,
            ev.start_tz,
            ev.end_local,
            ev.end_tz,
        )
        copy.is_all_day, copy.recurrence = ev.is_all_day, ev.recurrence
        copy.exceptions = {k: replace(v, change_key=ids.new_change_key()) for k, v in ev.exceptions.items()}
        copy.deleted_occurrences = set(ev.deleted_occurrences)
        copy.is_cancelled = False
        copy.attachments = mirrored(ev, copy.id)
        self._touch(copy)
        self._changed(copy.mailbox_id, copy.id, "updated")

    def _mark_cancelled(self, copy: StoredEvent) -> None:
        if copy.is_cancelled:
            return
        copy.is_cancelled = True
        subject = copy.props.get("subject") or ""
        copy.props["subject"] = subject if subject.startswith("Canceled: ") else f"Canceled: {subject}"
        copy.props["_seriesKey"] = ids.new_change_key()
        self._touch(copy)
        self._changed(copy.mailbox_id, copy.id, "updated")

    def _cancel_copies(self, ev: StoredEvent) -> None:
        for mailbox_id, copy_id in ev.copies.items():
            copy = self.mailboxes.get(mailbox_id, {}).get(copy_id)
            if copy:
                self._mark_cancelled(copy)

    def _cancel_copies_occurrence(self, ev: StoredEvent, key: str) -> None:
        for mailbox_id, copy_id in ev.copies.items():
            copy = self.mailboxes.get(mailbox_id, {}).get(copy_id)
            if copy is None:
                continue
            ov = copy.exceptions.get(key) or OccurrenceOverride()
            ov.is_cancelled = True
            ov.change_key = ids.new_change_key()
            ov.last_modified = now()
            copy.exceptions[key] = ov
            self._touch(copy)
            self._changed(mailbox_id, copy.id, "updated")
