"""The emulator's in-memory world: users, mailboxes with events, tokens, subscriptions, delta state."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from emulators.graph import ids
from emulators.graph.config import EmulatorConfig
from emulators.graph.copies import MIN_TIME, MeetingCopies, stamp
from emulators.graph.errors import GraphError, bad_request, not_found
from emulators.graph.events import (
    Instance,
    check_properties,
    check_times,
    event_times_utc,
    now,
)
from emulators.graph.model import (
    DeltaState,
    Fault,
    OccurrenceOverride,
    RequestRecord,
    StoredEvent,
    Subscription,
    UploadSession,
    User,
)
from emulators.graph.recurrence import (
    normalize,
    occurrence_key,
    occurrence_starts,
    parse_occurrence_key,
)
from emulators.graph.timezones import parse_local, to_utc

ChangeListener = Callable[[str, str, str], None]  # (mailbox id, event id, changeType)


class EmulatorState(MeetingCopies):
    """Everything the emulator knows. One instance per app; ``reset`` empties it."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.listeners: list[ChangeListener] = []
        self.reset()

    def reset(self) -> None:
        # Issued tokens survive a reset: a running client keeps its cached token, as with the real identity platform.
        self.tokens: dict[str, tuple[str, datetime]] = getattr(self, "tokens", {})
        self.clock_offset = timedelta(0)
        self.users: dict[str, User] = {}
        self.mailboxes: dict[str, dict[str, StoredEvent]] = {}
        # (user id, transactionId) -> the event created with it; checked against the mailbox on use (an event
        # deleted since is gone from there), so a create does not scan the whole mailbox.
        self._by_transaction: dict[tuple[str, str], str] = {}
        self.delta_states: dict[str, DeltaState] = {}
        self.delta_generation = 0
        self.subscriptions: dict[str, Subscription] = {}
        self.faults: list[Fault] = []
        self.requests: list[RequestRecord] = []
        self.upload_sessions: dict[str, UploadSession] = {}

    def now(self) -> datetime:
        """The emulator's clock for subscription lifetimes; ``POST /_emulator/clock`` moves it forward."""
        return now() + self.clock_offset

    # ----- users -----
    def add_user(
        self, *, mail: str, display_name: str, kind: str = "user", has_mailbox: bool = True, user_id: str | None = None
    ) -> User:
        uid = user_id or ids.new_guid()
        if uid in self.users or self.find_by_address(mail):
            raise GraphError(409, "Conflict", f"A user with id '{uid}' or mail '{mail}' already exists.")
        user = User(
            id=uid,
            mail=mail,
            display_name=display_name,
            kind="room" if kind == "room" else "user",
            has_mailbox=has_mailbox,
        )
        self.users[uid] = user
        if has_mailbox:
            self.mailboxes[uid] = {}
        return user

    def find_by_address(self, address: str) -> User | None:
        low = address.lower()
        return next((u for u in self.users.values() if u.mail.lower() == low), None)

    def user(self, segment: str) -> User:
        """A user by id or userPrincipalName, as in ``/users/{id | userPrincipalName}``."""
        found = self.users.get(segment) or self.find_by_address(segment)
        if found is None:
            for u in self.users.values():
                if u.id.lower() == segment.lower():
                    return u
            raise GraphError(404, "ErrorInvalidUser", f"The requested user '{segment}' is invalid.")
        return found

    def mailbox_user(self, segment: str) -> User:
        user = self.user(segment)
        if not user.has_mailbox:
            raise GraphError(
                404,
                "MailboxNotEnabledForRESTAPI",
                "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
            )
        return user

    # ----- tokens -----
    def issue_token(self, app_id: str) -> str:
        token = "eyJ0eXAiOiJKV1QiLCJlbXUiOnRydWV9." + ids.new_token()
        self.tokens[token] = (app_id, now() + timedelta(seconds=self.config.token_lifetime_seconds))
        return token

    def app_for_token(self, token: str) -> str | None:
        entry = self.tokens.get(token)
        if entry is None or entry[1] <= now():
            return None
        return entry[0]

    # ----- change notifications -----
    def _changed(self, mailbox_id: str, event_id: str, change_type: str) -> None:
        for listener in self.listeners:
            listener(mailbox_id, event_id, change_type)

    # ----- events: lookups -----
    def events_of(self, user: User) -> dict[str, StoredEvent]:
        return self.mailboxes.setdefault(user.id, {})

    def stored(self, user: User, event_id: str) -> StoredEvent:
        ev = self.events_of(user).get(event_id)
        if ev is None:
            raise not_found()
        return ev

    def instance(self, user: User, event_id: str) -> Instance:
        """Any event id: a single instance, a series master, or an occurrence/exception id."""
        ev = self.events_of(user).get(event_id)
        if ev is not None:
            return self.as_instance(ev)
        occ = ids.parse_occurrence_id(event_id)
        if occ is None:
            raise not_found()
        master = self.events_of(user).get(occ[0])
        if master is None or master.recurrence is None or occ[1] in master.deleted_occurrences:
            raise not_found()
        original = parse_occurrence_key(occ[1])
        valid = any(
            s == original
            for s in occurrence_starts(
                master.recurrence,
                start_local=master.start_local,
                start_tz=master.start_tz,
                until=original + timedelta(seconds=1),
            )
        )
        if not valid:
            raise not_found()
        return self._occurrence(master, original)

    def as_instance(self, ev: StoredEvent) -> Instance:
        start, end = event_times_utc(ev)
        kind = "seriesMaster" if ev.recurrence else "singleInstance"
        return Instance(id=ev.id, event=ev, kind=kind, start_utc=start, end_utc=end, change_key=ev.change_key)

    def _occurrence(self, master: StoredEvent, original: datetime) -> Instance:
        key = occurrence_key(original)
        start, end = event_times_utc(master)
        length = end - start
        override = master.exceptions.get(key)
        if override is not None:
            return Instance(
                id=ids.occurrence_id(master.id, key),
                event=master,
                kind="exception",
                start_utc=override.start_utc or original,
                end_utc=override.end_utc or original + length,
                change_key=override.change_key,
                original_start=original,
                override=override,
            )
        series_key = master.props.get("_seriesKey", master.change_key)
        ck = ids.new_change_key() if not series_key else hashlib.sha256(f"{series_key}|{key}".encode()).hexdigest()[:24]
        return Instance(
            id=ids.occurrence_id(master.id, key),
            event=master,
            kind="occurrence",
            start_utc=original,
            end_utc=original + length,
            change_key=ck,
            original_start=original,
        )

    def series_instances(self, master: StoredEvent, window_start: datetime, window_end: datetime) -> list[Instance]:
        """Occurrences and exceptions of a series that overlap the window."""
        assert master.recurrence is not None
        start, end = event_times_utc(master)
        length = end - start
        out: list[Instance] = []
        seen: set[str] = set()
        for original in occurrence_starts(
            master.recurrence,
            start_local=master.start_local,
            start_tz=master.start_tz,
            until=window_end + timedelta(days=1),
        ):
            key = occurrence_key(original)
            if key in master.deleted_occurrences or original + length <= window_start - timedelta(days=1):
                continue
            inst = self._occurrence(master, original)
            seen.add(key)
            if inst.start_utc < window_end and inst.end_utc > window_start:
                out.append(inst)
        # An exception may have been moved into the window from an original start outside it.
        for key, _ov in master.exceptions.items():
            if key in seen or key in master.deleted_occurrences:
                continue
            inst = self._occurrence(master, parse_occurrence_key(key))
            if inst.start_utc < window_end and inst.end_utc > window_start:
                out.append(inst)
        return out

    def calendar_view(self, user: User, window_start: datetime, window_end: datetime) -> list[Instance]:
        """Single instances, occurrences and exceptions in the window, by start (no series masters)."""
        out: list[Instance] = []
        for ev in self.events_of(user).values():
            if ev.recurrence:
                out.extend(self.series_instances(ev, window_start, window_end))
                continue
            start, end = event_times_utc(ev)
            # A zero-length event at the window start still shows, as in Outlook.
            if start < window_end and (end > window_start or start == end == window_start):
                out.append(self.as_instance(ev))
        out.sort(key=lambda i: (i.start_utc, i.id))
        return out

    # ----- events: writes -----
    def create_event(self, user: User, body: dict[str, Any]) -> tuple[StoredEvent, bool]:
        """Create from a POST body; ``(event, False)`` when transactionId names an existing event."""
        props = check_properties(body)
        txn = props.pop("transactionId", None)
        if txn:
            earlier = self.events_of(user).get(self._by_transaction.get((user.id, txn), ""))
            if earlier is not None and earlier.transaction_id == txn:
                return earlier, False
        if "start" not in props or "end" not in props:
            raise bad_request("The event must have a start and an end.")
        ev = self._new_event(user, props, transaction_id=txn)
        self.events_of(user)[ev.id] = ev
        if txn:
            self._by_transaction[(user.id, txn)] = ev.id
        self._changed(user.id, ev.id, "created")
        if ev.props.get("attendees"):
            self._sync_copies(ev)
        return ev, True

    def _new_event(
        self,
        user: User,
        props: dict[str, Any],
        *,
        transaction_id: str | None = None,
        organizer: dict[str, Any] | None = None,
        organizer_ref: tuple[str, str] | None = None,
        response: dict[str, Any] | None = None,
        ical_uid: str | None = None,
    ) -> StoredEvent:
        start, end = props.pop("start"), props.pop("end")
        all_day = bool(props.pop("isAllDay", False))
        s_local, s_tz, e_local, e_tz = check_times(start, end, is_all_day=all_day)
        recurrence_in = props.pop("recurrence", None)
        recurrence = normalize(recurrence_in, start_day=s_local.date(), start_tz=s_tz) if recurrence_in else None
        extended = props.pop("singleValueExtendedProperties", None) or []
        moment = now()
        ck = ids.new_change_key()
        props["_seriesKey"] = ck
        return StoredEvent(
            id=ids.new_event_id(user.id),
            mailbox_id=user.id,
            props=props,
            start_local=s_local,
            start_tz=s_tz,
            end_local=e_local,
            end_tz=e_tz,
            is_all_day=all_day,
            recurrence=recurrence,
            change_key=ck,
            created=moment,
            last_modified=moment,
            ical_uid=ical_uid or ids.new_ical_uid(),
            is_organizer=organizer_ref is None,
            organizer=organizer or {"emailAddress": user.email_address()},
            response=response or {"response": "organizer", "time": MIN_TIME},
            transaction_id=transaction_id,
            extended=extended,
            organizer_ref=organizer_ref,
        )

    def update_event(self, user: User, event_id: str, body: dict[str, Any]) -> Instance:
        inst = self.instance(user, event_id)
        props = check_properties(body)
        if "transactionId" in props:
            raise bad_request("The property 'transactionId' can't be changed after the event is created.")
        ev = inst.event
        if inst.kind in ("occurrence", "exception"):
            self._update_occurrence(ev, inst, props)
        else:
            self._update_stored(ev, props)
        self._touch(ev)
        self._changed(user.id, ev.id, "updated")
        if ev.is_organizer and (ev.copies or ev.props.get("attendees")):
            self._sync_copies(ev)
        return self.instance(user, inst.id)

    def _update_stored(self, ev: StoredEvent, props: dict[str, Any]) -> None:
        times_touched = any(k in props for k in ("start", "end", "isAllDay", "recurrence"))
        before = (*event_times_utc(ev), ev.is_all_day, ev.recurrence)
        if times_touched:
            start = props.pop("start", None) or {"dateTime": ev.start_local.isoformat(), "timeZone": ev.start_tz}
            end = props.pop("end", None) or {"dateTime": ev.end_local.isoformat(), "timeZone": ev.end_tz}
            all_day = bool(props.pop("isAllDay", ev.is_all_day))
            s_local, s_tz, e_local, e_tz = check_times(start, end, is_all_day=all_day)
            if "recurrence" in props:
                rec = props.pop("recurrence")
                ev.recurrence = normalize(rec, start_day=s_local.date(), start_tz=s_tz) if rec else None
            elif ev.recurrence:
                rng = dict(ev.recurrence["range"], startDate=s_local.date().isoformat())
                ev.recurrence = normalize(dict(ev.recurrence, range=rng), start_day=s_local.date(), start_tz=s_tz)
            ev.start_local, ev.start_tz, ev.end_local, ev.end_tz, ev.is_all_day = s_local, s_tz, e_local, e_tz, all_day
            if ev.recurrence is None or (*event_times_utc(ev), ev.is_all_day, ev.recurrence) != before:
                # A series whose pattern (its times are part of it) changes loses its exceptions: modified and
                # deleted occurrences are back to the pattern (MS-OXOCAL 3.1.4.7.3.5 "Updating a Recurring
                # Series"). Sending the same times or pattern again changes nothing.
                ev.exceptions.clear()
                ev.deleted_occurrences.clear()
        if "singleValueExtendedProperties" in props:
            incoming = props.pop("singleValueExtendedProperties") or []
            merged = {p["id"].lower(): p for p in ev.extended}
            merged.update({p["id"].lower(): p for p in incoming})
            ev.extended = list(merged.values())
        if props.get("attendees"):
            # Attendees already invited keep their response when the organizer re-sends the list.
            known = {a["emailAddress"]["address"].lower(): a["status"] for a in ev.props.get("attendees") or []}
            for a in props["attendees"]:
                previous = known.get(a["emailAddress"]["address"].lower())
                if previous and a["status"]["response"] == "none":
                    a["status"] = dict(previous)
        for key, value in props.items():
            if value is None:
                ev.props.pop(key, None)
            else:
                ev.props[key] = value
        ev.props["_seriesKey"] = ids.new_change_key()

    def _update_occurrence(self, master: StoredEvent, inst: Instance, props: dict[str, Any]) -> None:
        for forbidden in ("recurrence", "isAllDay"):
            if forbidden in props:
                raise bad_request(f"The property '{forbidden}' can't be set on an occurrence of a series.")
        key = occurrence_key(inst.original_start or inst.start_utc)
        ov = master.exceptions.get(key) or OccurrenceOverride()
        if "start" in props or "end" in props:
            start = props.pop("start", None)
            end = props.pop("end", None)
            s_utc = to_utc(parse_local(start["dateTime"]), start["timeZone"]) if start else inst.start_utc
            e_utc = to_utc(parse_local(end["dateTime"]), end["timeZone"]) if end else inst.end_utc
            if e_utc < s_utc:
                raise bad_request("The end time of the event must be after its start time.")
            ov.start_utc, ov.end_utc = s_utc, e_utc
        props.pop("singleValueExtendedProperties", None)
        ov.props.update(props)
        ov.change_key = ids.new_change_key()
        ov.last_modified = now()
        master.exceptions[key] = ov

    def _touch(self, ev: StoredEvent) -> None:
        ev.change_key = ids.new_change_key()
        ev.last_modified = now()

    def delete_event(self, user: User, event_id: str) -> None:
        inst = self.instance(user, event_id)
        ev = inst.event
        if inst.kind in ("occurrence", "exception"):
            key = occurrence_key(inst.original_start or inst.start_utc)
            ev.deleted_occurrences.add(key)
            ev.exceptions.pop(key, None)
            self._touch(ev)
            self._changed(user.id, ev.id, "updated")
            if ev.is_organizer:
                self._cancel_copies_occurrence(ev, key)
            return
        del self.events_of(user)[ev.id]
        self._changed(user.id, ev.id, "deleted")
        if ev.is_organizer:
            self._cancel_copies(ev)
        elif ev.organizer_ref:
            organizer_events = self.mailboxes.get(ev.organizer_ref[0], {})
            master = organizer_events.get(ev.organizer_ref[1])
            if master:
                master.copies.pop(user.id, None)

    def cancel_event(self, user: User, event_id: str) -> None:
        inst = self.instance(user, event_id)
        if not inst.event.is_organizer:
            raise bad_request("Your request can't be completed. You need to be an organizer to cancel a meeting.")
        self.delete_event(user, event_id)

    def respond(self, user: User, event_id: str, response: str, *, send_response: bool = True) -> None:
        """accept / decline / tentativelyAccept by an attendee (page "event: accept").

        Only a response that is sent reaches the organizer's attendee list: with ``sendResponse: false``
        (https://learn.microsoft.com/en-us/graph/api/event-accept) Exchange sends no meeting response, so
        the organizer's copy keeps the attendee's previous status.
        """
        inst = self.instance(user, event_id)
        ev = inst.event
        if ev.is_organizer:
            raise bad_request("Your request can't be completed. You can't respond to a meeting you organized.")
        status = {"response": response, "time": stamp()}
        if inst.kind in ("occurrence", "exception"):
            key = occurrence_key(inst.original_start or inst.start_utc)
            ov = ev.exceptions.get(key) or OccurrenceOverride(change_key=ids.new_change_key())
            ov.response = status
            ov.change_key = ids.new_change_key()
            ov.last_modified = now()
            ev.exceptions[key] = ov
        else:
            ev.response = status
            ev.props["showAs"] = {"accepted": "busy", "tentativelyAccepted": "tentative", "declined": "free"}[response]
            ev.props["_seriesKey"] = ids.new_change_key()
        self._touch(ev)
        self._changed(user.id, ev.id, "updated")
        if send_response:
            self._tell_organizer(user, ev, status)

    # ----- extended property filter -----
    @staticmethod
    def matches_extended(ev: StoredEvent, prop_id: str, value: str | None) -> bool:
        return any(p["id"].lower() == prop_id.lower() and (value is None or p["value"] == value) for p in ev.extended)
