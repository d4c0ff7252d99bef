"""The people's rules of the convergence machine, in Outlook: what Ann, Bob, Cy and Eve do there.

Each rule acts the way the person's client does (Graph REST on the emulator) and tells the model what people
now expect. A rule with nothing to act on does nothing. The ERP's people are in ``people_erp``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from shared.core.activities import Activity, ActivityState
from tests.convergence.model import ANSWERS, Fields, Meeting
from tests.convergence.world import EVE, PEOPLE, SeenEvent

if TYPE_CHECKING:
    from tests.convergence.world import World

WORDS = ["Budget", "review", "Zürich", "visit", "Quote", "Æsir", "kick-off", "Q3", "lunch", "demo"]
subjects = st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(" ".join)
locations = st.sampled_from(["", "HQ", "Fjord room", "Teams", "Café Øst"])
days, hours = st.integers(1, 20), st.integers(7, 17)
durations = st.sampled_from([30, 60, 90])
picks = st.integers(0, 10_000)
persons = st.sampled_from(sorted(PEOPLE))
others = st.lists(persons, unique=True, max_size=2)
answers = st.sampled_from(ANSWERS)
ACTIONS = {"accepted": "accept", "tentativelyAccepted": "tentativelyAccept", "declined": "decline"}


def has_meetings(machine: Any) -> bool:
    return bool(machine.meetings)


class People:
    """Mixed into the machine: ``world``, ``meetings``, ``_touch`` and ``_may_remove`` come from it."""

    world: World
    meetings: list[Meeting]

    def _touch(self) -> None:
        raise NotImplementedError

    def _may_remove(self, user_id: str, side: str) -> bool:
        raise NotImplementedError

    # --- people in Outlook ---

    @rule(
        organizer=persons,
        invitees=others,
        contact=st.booleans(),
        subject=subjects,
        location=locations,
        day=days,
        hour=hours,
        minutes=durations,
    )
    def outlook_creates_meeting(
        self,
        organizer: str,
        invitees: list[str],
        contact: bool,
        subject: str,
        location: str,
        day: int,
        hour: int,
        minutes: int,
    ) -> None:
        """A synced person makes a meeting in Outlook, inviting some colleagues and maybe Eve (none: an
        appointment of one mailbox). R5/R23: it becomes one activity, owned by the organizer (R10)."""
        invited = tuple(p for p in invitees if p != organizer)
        addresses = [PEOPLE[p].mailbox for p in invited] + ([EVE] if contact else [])
        made = self._outlook_meeting(PEOPLE[organizer].mailbox, addresses, subject, location, day, hour, minutes)
        self._add(
            Meeting(
                len(self.meetings),
                "m365",
                organizer,
                invited,
                contact,
                made[0],
                event_id=made[1].id,
                ical_uid=made[1].ical_uid,
            )
        )

    @rule(
        invitees=st.lists(persons, unique=True, min_size=1),
        subject=subjects,
        location=locations,
        day=days,
        hour=hours,
        minutes=durations,
    )
    def eve_invites(self, invitees: list[str], subject: str, location: str, day: int, hour: int, minutes: int) -> None:
        """Eve (not synced) invites synced people: the first of them whose sync claims it owns it (R10)."""
        addresses = [PEOPLE[p].mailbox for p in invitees]
        made = self._outlook_meeting(EVE, addresses, subject, location, day, hour, minutes)
        self._add(
            Meeting(
                len(self.meetings),
                "external",
                None,
                tuple(invitees),
                False,
                made[0],
                event_id=made[1].id,
                ical_uid=made[1].ical_uid,
            )
        )

    def _outlook_meeting(
        self, mailbox: str, addresses: list[str], subject: str, location: str, day: int, hour: int, minutes: int
    ) -> tuple[Fields, SeenEvent]:
        start, end = self.world.when(day, hour, minutes)
        body = {
            "subject": subject,
            "location": {"displayName": location},
            "body": {"contentType": "text", "content": "from Outlook"},
            **_graph_times(start, end),
            "attendees": [{"emailAddress": {"address": a}, "type": "required"} for a in addresses],
        }
        made = self.world.run(self.world.outlook(mailbox, "POST", "/events", json=body)).json()
        fields = Fields(erp_born=False, subject=subject, location=location, start=start, end=end)
        fields.edit("m365", subject=subject, location=location, when=(start, end))
        return fields, SeenEvent(
            id=made["id"],
            ical_uid=made["iCalUId"],
            subject=subject,
            location=location,
            start=start,
            end=end,
            is_cancelled=False,
            is_organizer=True,
            response="organizer",
            attendees={},
            stamp=None,
        )

    @precondition(has_meetings)
    @rule(pick=picks, subject=subjects)
    def organizer_renames(self, pick: int, subject: str) -> None:
        """The organizer renames the meeting in Outlook (R5; R21: an ERP-born subject does not flow back)."""
        self._organizer_edit(pick, {"subject": subject}, subject=subject)

    @precondition(has_meetings)
    @rule(pick=picks, location=locations.filter(bool))
    def organizer_moves_it_elsewhere(self, pick: int, location: str) -> None:
        self._organizer_edit(pick, {"location": {"displayName": location}}, location=location)

    @precondition(has_meetings)
    @rule(pick=picks, day=days, hour=hours, minutes=durations)
    def organizer_reschedules(self, pick: int, day: int, hour: int, minutes: int) -> None:
        start, end = self.world.when(day, hour, minutes)
        self._organizer_edit(pick, _graph_times(start, end), when=(start, end))

    def _organizer_edit(self, pick: int, patch: dict[str, object], **edit: object) -> None:
        found = self._organizer_event(pick)
        if found is None:
            return
        meeting, mailbox, event = found
        self._touch()
        self.world.run(self.world.outlook(mailbox, "PATCH", f"/events/{event.id}", json=patch))
        fields = meeting.fields
        fields.edit("m365", **edit)
        if meeting.origin == "external":
            # Eve's update re-sends every shared field to the copies, the owner's among them.
            fields.edit("m365", subject=event.subject, location=event.location, when=(event.start, event.end))
            fields.edit("m365", **edit)

    @precondition(has_meetings)
    @rule(pick=picks, who=persons)
    def organizer_invites(self, pick: int, who: str) -> None:
        """The organizer invites one more synced person: their copy joins the one activity (R10, R15)."""
        found = self._organizer_event(pick)
        if found is None or who == found[0].organizer or PEOPLE[who].mailbox in found[2].attendees:
            return
        meeting, mailbox, event = found
        addresses = [*event.attendees, PEOPLE[who].mailbox]
        self._attendees_edit(meeting, mailbox, event, addresses)
        meeting.invite(who, "m365", _shown(addresses))

    @precondition(has_meetings)
    @rule(pick=picks, who=picks)
    def organizer_uninvites(self, pick: int, who: int) -> None:
        """The organizer takes a synced person off the meeting: their copy is cancelled, their row goes (R15);
        when they owned Eve's meeting, it is voided (R27)."""
        found = self._organizer_event(pick)
        invited = sorted(_shown(list(found[2].attendees))) if found else []
        if found is None or not invited:
            return
        meeting, mailbox, event = found
        person = invited[who % len(invited)]
        addresses = [a for a in event.attendees if a != PEOPLE[person].mailbox]
        self._attendees_edit(meeting, mailbox, event, addresses)
        meeting.uninvite(person, "m365", _shown(addresses))

    def _attendees_edit(self, meeting: Meeting, mailbox: str, event: SeenEvent, addresses: list[str]) -> None:
        self._touch()
        attendees = [{"emailAddress": {"address": a}, "type": "required"} for a in addresses]
        self.world.run(self.world.outlook(mailbox, "PATCH", f"/events/{event.id}", json={"attendees": attendees}))
        if meeting.origin == "external":  # Eve's update re-sends every shared field to the copies
            meeting.fields.edit("m365", subject=event.subject, location=event.location, when=(event.start, event.end))

    @precondition(has_meetings)
    @rule(pick=picks)
    def organizer_cancels(self, pick: int) -> None:
        """The organizer cancels (or, with nobody invited, deletes) the meeting: its activity is voided (R8)."""
        found = self._organizer_event(pick)
        if found is None:
            return
        meeting, mailbox, event = found
        if meeting.origin != "external" and not self._may_remove(PEOPLE[meeting.organizer or ""].user_id, "m365"):
            return
        self._touch()
        if meeting.invited or meeting.contact or meeting.origin == "external":
            self.world.run(self.world.outlook(mailbox, "POST", f"/events/{event.id}/cancel", json={"Comment": ""}))
        else:
            self.world.run(self.world.outlook(mailbox, "DELETE", f"/events/{event.id}"))
        meeting.ended = True

    @precondition(has_meetings)
    @rule(pick=picks, who=picks, answer=answers)
    def attendee_answers(self, pick: int, who: int, answer: str) -> None:
        """An invited synced person accepts, tentatively accepts or declines their copy, sending the response
        as Outlook does (R27: it reaches their participant row; an owning attendee's decline voids)."""
        candidates = [m for m in self.meetings if not m.ended and m.invited]
        if not candidates:
            return
        meeting = candidates[pick % len(candidates)]
        person = meeting.invited[who % len(meeting.invited)]
        copy = self._copy(meeting, PEOPLE[person].mailbox)
        if copy is None or copy.is_cancelled:
            return
        self._touch()
        self.world.run(self._respond(PEOPLE[person].mailbox, copy.id, answer))
        meeting.answer(person, answer)

    @precondition(has_meetings)
    @rule(pick=picks, answer=answers)
    def eve_answers(self, pick: int, answer: str) -> None:
        """Eve answers an invitation from her own mail system: the organizer's event shows it, and so must
        her participant row (R27)."""
        candidates = [m for m in self.meetings if not m.ended and m.contact]
        if not candidates:
            return
        meeting = candidates[pick % len(candidates)]
        copy = self._copy(meeting, EVE)
        if copy is None or copy.is_cancelled:
            return
        self._touch()
        self.world.run(self._respond(EVE, copy.id, answer))

    async def _respond(self, mailbox: str, event_id: str, answer: str) -> None:
        path = f"/events/{event_id}/{ACTIONS[answer]}"
        await self.world.outlook(mailbox, "POST", path, json={"comment": "", "sendResponse": True})

    # --- finding things ---

    def _add(self, meeting: Meeting) -> None:
        self._touch()
        self.meetings.append(meeting)

    def _organizer_event(self, pick: int) -> tuple[Meeting, str, SeenEvent] | None:
        """A meeting not cancelled, its organizer's mailbox and event (an ERP-born one's once the sync made it)."""
        candidates = [m for m in self.meetings if not m.ended]
        if not candidates:
            return None
        meeting = candidates[pick % len(candidates)]
        mailbox = PEOPLE[meeting.organizer].mailbox if meeting.organizer else EVE
        events = self.world.run(self.world.calendar(mailbox))
        if meeting.origin == "erp":
            found = [e for e in events if e.stamp == meeting.activity_id]
        else:
            found = [e for e in events if e.id == meeting.event_id]
        if not found:
            return None
        meeting.ical_uid = found[0].ical_uid
        return meeting, mailbox, found[0]

    def _copy(self, meeting: Meeting, mailbox: str) -> SeenEvent | None:
        if meeting.ical_uid is None and meeting.organizer:  # ERP-born: the owner's event names the meeting
            owner = self.world.run(self.world.calendar(PEOPLE[meeting.organizer].mailbox))
            made = [e for e in owner if e.stamp == meeting.activity_id]
            meeting.ical_uid = made[0].ical_uid if made else None
        events = self.world.run(self.world.calendar(mailbox))
        return next((e for e in events if meeting.ical_uid and e.ical_uid == meeting.ical_uid), None)

    def _live_activity(self, pick: int) -> tuple[Meeting, Activity] | None:
        """A live meeting and its live activity, if the sync made one yet and it is not read-only (closed, R29)."""
        candidates = [m for m in self.meetings if m.live]
        if not candidates:
            return None
        meeting = candidates[pick % len(candidates)]
        for activity in self.world.activities():
            if activity.state is ActivityState.VOIDED or activity.read_only:  # the ERP refuses to change those (R7)
                continue
            ical = activity.origin.ical_uid if activity.origin else None
            if activity.id == meeting.activity_id or (ical and ical == meeting.ical_uid):
                return meeting, activity
        return None


def _shown(addresses: list[str]) -> frozenset[str]:
    """The synced people among an attendee list."""
    return frozenset(p for p, person in PEOPLE.items() if person.mailbox in addresses)


def _graph_times(start: datetime, end: datetime) -> dict[str, object]:
    return {
        "start": {"dateTime": start.replace(tzinfo=None).isoformat(), "timeZone": "UTC"},
        "end": {"dateTime": end.replace(tzinfo=None).isoformat(), "timeZone": "UTC"},
    }
