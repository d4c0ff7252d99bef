"""The people's rules of the convergence machine, in the ERP: what people do there to the same meetings.

Each rule acts the way the ERP's screen does (the ERP Sync API on the reference ERP, writes at the current
version with If-Match) and tells the model what people now expect. A rule with nothing to act on does nothing.
"""

from __future__ import annotations

import uuid
from zoneinfo import ZoneInfo

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from shared.core.activities import Activity, ParticipantKind
from tests.convergence.model import TO_ERP, Fields, Meeting
from tests.convergence.people import (
    People,
    answers,
    days,
    durations,
    has_meetings,
    hours,
    locations,
    others,
    persons,
    picks,
    subjects,
)
from tests.convergence.world import BY_USER, EVE, EVE_ID, FABRIKAM_ID, PEOPLE


class ErpPeople(People):
    """People at the ERP's screen, on top of those in Outlook."""

    @rule(
        owner=persons,
        registered=others,
        contact=st.booleans(),
        subject=subjects,
        location=locations,
        day=days,
        hour=hours,
        minutes=durations,
    )
    def erp_creates_confirmed_meeting(
        self,
        owner: str,
        registered: list[str],
        contact: bool,
        subject: str,
        location: str,
        day: int,
        hour: int,
        minutes: int,
    ) -> None:
        """A person in the ERP books a confirmed meeting for a user with colleagues registered (participant
        rows) and maybe Eve: one event in the owner's mailbox inviting the others (R5, R10, R21)."""
        self._touch()
        invited = tuple(p for p in registered if p != owner)
        start, end = self.world.when(day, hour, minutes)
        rows = [
            {"email": PEOPLE[p].mailbox, "name": PEOPLE[p].name, "kind": "user", "refId": PEOPLE[p].user_id}
            for p in invited
        ]
        if contact:
            rows.append({"email": EVE, "name": "Eve", "kind": "contact", "refId": EVE_ID})
        body = {
            "type": "meeting",
            "subject": subject,
            "description": "from the ERP",
            **({"location": location} if location else {}),
            "start": start.replace(tzinfo=None).isoformat(),
            "end": end.replace(tzinfo=None).isoformat(),
            "timeZone": "UTC",
            "ownerId": PEOPLE[owner].user_id,
            "registeredUserIds": [PEOPLE[p].user_id for p in invited],
            "participants": rows,
            **({"contactIds": [EVE_ID], "companyId": FABRIKAM_ID} if contact else {}),
            "state": "confirmed",
        }
        key = {"Idempotency-Key": f"person-{uuid.uuid4()}"}
        made = self.world.run(self.world.erp_call("POST", "/activities", json=body, headers=key)).json()
        fields = Fields(erp_born=True, subject=subject, location=location, start=start, end=end)
        fields.edit("erp", subject=subject, location=location)
        self._add(Meeting(len(self.meetings), "erp", owner, invited, contact, fields, activity_id=made["id"]))

    @precondition(has_meetings)
    @rule(pick=picks, subject=subjects)
    def erp_renames_meeting(self, pick: int, subject: str) -> None:
        self._erp_edit(pick, {"subject": subject}, subject=subject)

    @precondition(has_meetings)
    @rule(pick=picks, location=locations.filter(bool))
    def erp_moves_meeting_elsewhere(self, pick: int, location: str) -> None:
        self._erp_edit(pick, {"location": location}, location=location)

    @precondition(has_meetings)
    @rule(pick=picks, day=days, hour=hours, minutes=durations)
    def erp_reschedules_meeting(self, pick: int, day: int, hour: int, minutes: int) -> None:
        """A person moves the meeting to another time in the ERP (wall-clock times in its time zone)."""
        start, end = self.world.when(day, hour, minutes)
        found = self._live_activity(pick)
        zone = ZoneInfo(found[1].time_zone if found else "UTC")
        patch: dict[str, object] = {
            name: moment.astimezone(zone).replace(tzinfo=None).isoformat()
            for name, moment in (("start", start), ("end", end))
        }
        self._erp_edit(pick, patch, when=(start, end))

    def _erp_edit(self, pick: int, patch: dict[str, object], **edit: object) -> None:
        found = self._live_activity(pick)
        if found is None:
            return
        meeting, activity = found
        self._touch()
        self.world.run(self.world.erp_write(activity.id, "PATCH", f"/activities/{activity.id}", json=patch))
        meeting.fields.edit("erp", **edit)

    @precondition(has_meetings)
    @rule(pick=picks)
    def erp_voids_meeting(self, pick: int) -> None:
        """A person voids the meeting in the ERP: it leaves every calendar (R8)."""
        found = self._live_activity(pick)
        if found is None or not self._may_remove(found[1].owner_id, "erp"):
            return
        meeting, activity = found
        self._touch()
        self.world.run(self.world.erp_write(activity.id, "POST", f"/activities/{activity.id}/void"))
        meeting.ended = True

    @precondition(has_meetings)
    @rule(pick=picks, who=picks, answer=answers)
    def erp_sets_answer(self, pick: int, who: int, answer: str) -> None:
        """A person sets a registered user's answer in the ERP: it is given on their copy (R27)."""
        found = self._live_activity(pick)
        if found is None:
            return
        meeting, activity = found
        rows = [
            i
            for i, p in enumerate(activity.participants)
            if p.kind is ParticipantKind.USER and p.ref_id in BY_USER and p.ref_id != activity.owner_id
        ]
        if not rows:
            return
        self._touch()
        chosen = rows[who % len(rows)]
        participants = [p.model_dump(by_alias=True, mode="json") for p in activity.participants]
        participants[chosen]["response"] = TO_ERP[answer]
        path = f"/activities/{activity.id}"
        self.world.run(self.world.erp_write(activity.id, "PATCH", path, json={"participants": participants}))
        meeting.answer(BY_USER[activity.participants[chosen].ref_id or ""].key, answer)

    @precondition(has_meetings)
    @rule(pick=picks, who=persons)
    def erp_registers_a_user(self, pick: int, who: str) -> None:
        """A person adds a colleague to a meeting its organizer owns, in the ERP: the organizer's event invites
        them and their copy joins the activity (R10, R15)."""
        found = self._organizers_activity(pick)
        if found is None or found[1].owner_id == PEOPLE[who].user_id or who in _registered(found[1]):
            return
        meeting, activity = found
        self._touch()
        person = PEOPLE[who]
        row = {"email": person.mailbox, "name": person.name, "kind": "user", "refId": person.user_id}
        participants = [*(p.model_dump(by_alias=True, mode="json") for p in activity.participants), row]
        registered = [*activity.registered_user_ids, person.user_id]
        patch = {"participants": participants, "registeredUserIds": registered}
        self.world.run(self.world.erp_write(activity.id, "PATCH", f"/activities/{activity.id}", json=patch))
        meeting.invite(who, "erp", frozenset({*_registered(activity), who}))

    @precondition(has_meetings)
    @rule(pick=picks, who=picks)
    def erp_unregisters_a_user(self, pick: int, who: int) -> None:
        """A person takes a colleague off a meeting its organizer owns, in the ERP: their copy is cancelled."""
        found = self._organizers_activity(pick)
        if found is None or not _registered(found[1]):
            return
        meeting, activity = found
        self._touch()
        registered = sorted(_registered(activity))
        person = PEOPLE[registered[who % len(registered)]]
        participants = [
            p.model_dump(by_alias=True, mode="json") for p in activity.participants if p.ref_id != person.user_id
        ]
        ids = [i for i in activity.registered_user_ids if i != person.user_id]
        patch = {"participants": participants, "registeredUserIds": ids}
        self.world.run(self.world.erp_write(activity.id, "PATCH", f"/activities/{activity.id}", json=patch))
        meeting.uninvite(person.key, "erp", frozenset(_registered(activity) - {person.key}))

    def _organizers_activity(self, pick: int) -> tuple[Meeting, Activity] | None:
        """A live meeting whose activity its (synced) organizer owns; others' attendee lists are not the ERP's
        to change (the owner's event is an attendee's copy)."""
        found = self._live_activity(pick)
        if found is None or found[0].organizer is None or found[1].owner_id != PEOPLE[found[0].organizer].user_id:
            return None
        return found


def _registered(activity: Activity) -> set[str]:
    """The people with a user row on the activity, its owner left out."""
    return {
        BY_USER[p.ref_id].key
        for p in activity.participants
        if p.kind is ParticipantKind.USER and p.ref_id in BY_USER and p.ref_id != activity.owner_id
    }
