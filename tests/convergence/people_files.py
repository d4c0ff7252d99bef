"""The people's rules for files (R18): attaching and removing files on meetings, in Outlook and in the ERP.

Ann's "attachment file sync" setting is on (her ERP user record); Bob's and Cy's are off. So files on meetings Ann
owns travel both ways, the ERP owning an ERP-born meeting's files (a file removed in Outlook is put back, one
added in Outlook stays there); on anyone else's meetings every file stays where it was put. Files are small and
each one's bytes are its own, so the check can tell them apart by hash: no file duplicated, none lost.

The model (``Files``) is kept per meeting as content hashes; ``check_files`` compares it with what the owner's
event and the activity show once every sync has caught up.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import initialize, precondition, rule

from shared.core.activities import Activity, ActivityState
from tests.convergence.model import Meeting
from tests.convergence.people import People, has_meetings, picks
from tests.convergence.statistics import statistic
from tests.convergence.world import PEOPLE, World

FILE_SYNC = "ann"  # the one person whose setting is on
sizes = st.sampled_from([1, 700, 20_000])


@dataclass
class Files:
    """One meeting's files as people left them: ``erp`` on the activity, ``outlook`` on the organizer's event only
    (an ERP-born meeting's Outlook-added files, or any file of a meeting whose owner does not sync files)."""

    both: set[str] = field(default_factory=set)  # on both sides (synced)
    erp: set[str] = field(default_factory=set)  # on the activity only
    outlook: set[str] = field(default_factory=set)  # on the event only


def _with_files(meeting: Meeting) -> bool:
    """Meetings people put files on: made by Ann or Bob (always synced, so the organizer's mailbox owns the
    meeting and its files follow the organizer's setting), not closed. A meeting of Cy's may be owned by an
    invited colleague while Cy's sync is off, and Eve's by whoever claimed it: whose setting applies there is the
    owner's, which the model does not follow."""
    return meeting.origin in ("m365", "erp") and meeting.organizer in ("ann", "bob") and meeting.closed is None


def _bytes(serial: int, size: int) -> bytes:
    seed = hashlib.sha256(f"file {serial}".encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


class FilePeople(People):
    """People attaching and removing files, on top of the others."""

    def __init__(self) -> None:
        super().__init__()
        self.files: dict[int, Files] = {}
        self.file_serial = 0

    @initialize()
    def ann_syncs_files(self) -> None:
        """Ann switches her attachment file sync on in the ERP (R18, off by default)."""
        store = self.world.store
        user = store.get_user(PEOPLE[FILE_SYNC].user_id)
        store.put_user(user.model_copy(update={"sync_attachments": True}))

    def _syncs_files(self, meeting: Meeting) -> bool:
        return meeting.organizer == FILE_SYNC and meeting.origin in ("m365", "erp")

    def _next_file(self, size: int) -> tuple[str, bytes]:
        self.file_serial += 1
        return f"f{self.file_serial}.bin", _bytes(self.file_serial, size)

    @precondition(has_meetings)
    @rule(pick=picks, size=sizes)
    def organizer_attaches_a_file(self, pick: int, size: int) -> None:
        """The organizer attaches a file to the meeting in Outlook (R18)."""
        found = self._organizer_event(pick)
        if found is None or not _with_files(found[0]):
            return
        meeting, mailbox, event = found
        name, data = self._next_file(size)
        body = {
            "@odata.type": "#microsoft.graph.fileAttachment",
            "name": name,
            "contentType": "application/octet-stream",
            "contentBytes": base64.b64encode(data).decode(),
        }
        self._touch()
        self.world.run(self.world.outlook(mailbox, "POST", f"/events/{event.id}/attachments", json=body))
        files, digest = self.files.setdefault(meeting.number, Files()), hashlib.sha256(data).hexdigest()
        if self._syncs_files(meeting) and meeting.origin == "m365":
            files.both.add(digest)
        else:
            files.outlook.add(digest)

    @precondition(has_meetings)
    @rule(pick=picks, size=sizes)
    def erp_user_attaches_a_file(self, pick: int, size: int) -> None:
        """A person attaches a file to the meeting's activity in the ERP (R18)."""
        found = self._live_activity(pick)
        if found is None or not _with_files(found[0]):
            return
        meeting, activity = found
        name, data = self._next_file(size)
        self._touch()
        self.world.run(
            self.world.erp_call(
                "POST",
                f"/activities/{activity.id}/attachments",
                params={"name": name},
                content=data,
                headers={"Content-Type": "application/octet-stream", "Idempotency-Key": f"person-{name}"},
            )
        )
        files, digest = self.files.setdefault(meeting.number, Files()), hashlib.sha256(data).hexdigest()
        (files.both if self._syncs_files(meeting) else files.erp).add(digest)

    @precondition(has_meetings)
    @rule(pick=picks, which=picks)
    def organizer_removes_a_file(self, pick: int, which: int) -> None:
        """The organizer removes one of the event's files in Outlook (R18: an ERP-born meeting's ERP file comes
        back)."""
        found = self._organizer_event(pick)
        if found is None or not _with_files(found[0]):
            return
        meeting, mailbox, event = found
        listed = self.world.run(outlook_files(self.world, mailbox, event.id))
        if not listed:
            return
        file_id, digest = sorted(listed.items())[which % len(listed)]
        self._touch()
        self.world.run(self.world.outlook(mailbox, "DELETE", f"/events/{event.id}/attachments/{file_id}"))
        files = self.files.setdefault(meeting.number, Files())
        files.outlook.discard(digest)
        if self._syncs_files(meeting) and meeting.origin == "m365":
            files.both.discard(digest)

    @precondition(has_meetings)
    @rule(pick=picks, which=picks)
    def erp_user_removes_a_file(self, pick: int, which: int) -> None:
        """A person removes one of the activity's files in the ERP (R18)."""
        found = self._live_activity(pick)
        if found is None or not _with_files(found[0]) or not found[1].attachments:
            return
        meeting, activity = found
        chosen = sorted(activity.attachments, key=lambda f: f.id)[which % len(activity.attachments)]
        self._touch()
        self.world.run(self.world.erp_call("DELETE", f"/activities/{activity.id}/attachments/{chosen.id}"))
        files = self.files.setdefault(meeting.number, Files())
        files.both.discard(chosen.sha256)
        files.erp.discard(chosen.sha256)


async def outlook_files(world: World, mailbox: str, event_id: str) -> dict[str, str]:
    """The event's file attachments, as id → SHA-256 of their bytes."""
    listed = (await world.outlook(mailbox, "GET", f"/events/{event_id}/attachments")).json()["value"]
    found = {}
    for item in listed:
        raw = await world.outlook(mailbox, "GET", f"/events/{event_id}/attachments/{item['id']}/$value")
        found[item["id"]] = hashlib.sha256(raw.content).hexdigest()
    return found


def _event_of(world: World, meeting: Meeting) -> tuple[str, str] | None:
    """The organizer's mailbox and event of a synced person's meeting (an ERP-born one's once the sync made it)."""
    if meeting.organizer is None:
        return None
    mailbox = PEOPLE[meeting.organizer].mailbox
    for event in world.run(world.calendar(mailbox)):
        if (meeting.origin == "erp" and event.stamp == meeting.activity_id) or event.id == meeting.event_id:
            meeting.ical_uid = event.ical_uid
            return mailbox, event.id
    return None


def _activity_of(world: World, meeting: Meeting) -> Activity | None:
    for activity in world.activities():
        if activity.state is ActivityState.VOIDED:
            continue
        ical = activity.origin.ical_uid if activity.origin else None
        if activity.id == meeting.activity_id or (ical and ical == meeting.ical_uid):
            return activity
    return None


def check_files(machine: Any) -> None:
    """R18 once every sync caught up: each meeting's activity shows exactly its ERP and synced files, its owner's
    event exactly its Outlook and synced files; none twice (a duplicate copy shows as a count above one)."""
    world: World = machine.world
    for meeting in machine.meetings:
        files: Files | None = machine.files.get(meeting.number)
        if files is None or not meeting.live or meeting.closed is not None:
            continue
        event = _event_of(world, meeting)
        activity = _activity_of(world, meeting)
        if files.both:
            statistic("files checked on a meeting whose owner syncs files")
        if files.erp or files.outlook:
            statistic("files checked that stay on one side")
        if activity is not None:
            on_activity = sorted(f.sha256 for f in activity.attachments)
            assert on_activity == sorted(files.both | files.erp), f"meeting {meeting.number}: activity files (R18)"
        if event is not None:
            on_event = sorted(world.run(outlook_files(world, *event)).values())
            assert on_event == sorted(files.both | files.outlook), f"meeting {meeting.number}: event files (R18)"
