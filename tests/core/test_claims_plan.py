"""A meeting made with nobody invited is claimed once it has attendees (R10, ``shared/core/plan_claims.py``).

Such a meeting is linked without a tenant-wide claim: no other mailbox can hold a copy of it. Whichever side adds
attendees, the plan claims it first, before the write that invites anyone, so a colleague's copy finds the claim
when it appears.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.core.actions import ClaimMeeting, UpdateActivity, UpdateEvent
from shared.core.activities import ActivityChange, Contact, ErpUser, Facility, Participant, ParticipantKind
from shared.core.directory import Directory
from shared.core.items import Attendee, Side
from shared.core.m365 import DeltaEntry
from shared.core.meetings import outside_of, shared
from shared.core.planner import RunInput, plan
from shared.core.policy import SyncPolicy
from tests.core.builders import NOW, activity, event, link

ANN, BOB = "ann@contoso.com", "bob@contoso.com"


def run(**kwargs: object) -> RunInput:
    values: dict[str, object] = {
        "user_id": "u1",
        "mailbox": ANN,
        "policy": SyncPolicy(),
        "now": NOW,
        "synced_mailboxes": frozenset({ANN, BOB}),
    }
    values.update(kwargs)
    return RunInput(**values)  # type: ignore[arg-type]


EVE, ROOM = "eve@fabrikam.example", "room-1@contoso.com"


@pytest.mark.parametrize(
    ("is_organizer", "attendees", "expected"),
    [
        (True, (), False),
        (True, (Attendee(email="Ann@Contoso.com"),), False),
        (True, (Attendee(email="Eve@Fabrikam.example"), Attendee(email=ROOM)), False),
        (True, (Attendee(email="dan@contoso.com"),), True),
        (True, (Attendee(email=EVE), Attendee(email=BOB)), True),
        (False, (), True),
    ],
)
def test_only_a_meeting_of_ones_own_that_invites_no_colleague_is_held_by_one_mailbox_alone(
    is_organizer: bool, attendees: tuple[Attendee, ...], expected: bool
) -> None:
    """R10: another synced mailbox can hold a copy of someone else's meeting, or of one that invites anybody but
    the ERP's customer contacts and rooms (an address the ERP does not know, like Dan's, may be a colleague's);
    the mailbox itself in its own list does not count."""
    outside = frozenset({EVE, ROOM})
    assert shared(is_organizer=is_organizer, attendees=attendees, mailbox=ANN, outside=outside) is expected


def test_the_erps_contacts_and_rooms_are_outside_unless_a_user_has_the_address() -> None:
    """R10: ``Directory.outside`` names the customers and rooms; an address that is also an ERP user's is not."""
    directory = Directory.build(
        users=[ErpUser(id="u2", email=BOB, display_name="Bob")],
        contacts=[Contact(id="K-1", name="Eve", email="Eve@Fabrikam.example"), Contact(id="K-2", name="B", email=BOB)],
        facilities=[Facility(id="F-1", name="Room 1", room_mailbox=ROOM)],
    )
    assert directory.outside() == {EVE, ROOM}


def test_ann_inviting_bob_to_her_unclaimed_meeting_claims_it_before_the_activity_changes() -> None:
    """R10: the claim comes first, so the ERP hook the update fires finds it when Bob's sync looks."""
    before = event()
    act = activity()
    unclaimed = link(before, act, claimed=False)
    now = event(attendees=(Attendee(email=BOB),), change_key="ck2", last_modified=NOW)
    actions = plan(run(links=(unclaimed,), m365_changes=[DeltaEntry(event_id=now.id, event=now)])).actions
    assert actions[0] == ClaimMeeting(link=unclaimed)
    assert [type(a) for a in actions[1:]] == [UpdateActivity]


def test_a_participant_added_in_the_erp_claims_the_meeting_before_its_event_invites_anyone() -> None:
    """R10: the event update that invites a contact is preceded by the claim (the invitation makes copies)."""
    ev = event()
    before = activity()
    unclaimed = link(ev, before, origin=Side.ERP, claimed=False)
    after = activity(
        version=2,
        modified_at=NOW,
        participants=(Participant(email="eve@fabrikam.example", kind=ParticipantKind.CONTACT),),
    )
    change = ActivityChange(seq=1, activity_id=after.id, owner_id="u1", activity=after)
    actions = plan(run(links=(unclaimed,), erp_changes=[change])).actions
    assert actions[0] == ClaimMeeting(link=unclaimed)
    assert [type(a) for a in actions[1:]] == [UpdateEvent]


def test_a_claimed_meeting_or_one_still_inviting_nobody_is_not_claimed_again() -> None:
    """R10: no claim for a link that has one, nor for an edit that leaves the meeting one's own alone."""
    ev, act = event(), activity()
    invited = event(attendees=(Attendee(email=BOB),), change_key="ck2", last_modified=NOW)
    moved = event(start=NOW + timedelta(days=2), end=NOW + timedelta(days=2, hours=1), change_key="ck3")
    claimed_run = run(links=(link(ev, act),), m365_changes=[DeltaEntry(event_id=ev.id, event=invited)])
    solo_run = run(links=(link(ev, act, claimed=False),), m365_changes=[DeltaEntry(event_id=ev.id, event=moved)])
    assert not any(isinstance(a, ClaimMeeting) for a in plan(claimed_run).actions)
    assert not any(isinstance(a, ClaimMeeting) for a in plan(solo_run).actions)


def test_a_cancelled_meeting_is_not_claimed() -> None:
    """R10/R8: a cancelled event is on its way out; nobody's copy will look for its claim."""
    ev, act = event(), activity()
    cancelled = event(attendees=(Attendee(email=BOB),), is_cancelled=True, change_key="ck2", last_modified=NOW)
    runs = run(links=(link(ev, act, claimed=False),), m365_changes=[DeltaEntry(event_id=ev.id, event=cancelled)])
    assert not any(isinstance(a, ClaimMeeting) for a in plan(runs).actions)


def test_an_activitys_customer_contacts_and_rooms_are_outside_its_users_are_not() -> None:
    """R10: ``outside_of`` names the participants the ERP calls contacts or facilities, never its users."""
    act = activity(
        participants=(
            Participant(email="Eve@Fabrikam.example", kind=ParticipantKind.CONTACT),
            Participant(email=ROOM, kind=ParticipantKind.FACILITY),
            Participant(email=BOB, kind=ParticipantKind.USER, ref_id="u2"),
            Participant(email="x@elsewhere.example", kind=ParticipantKind.EXTERNAL),
        )
    )
    assert outside_of(act) == {EVE, ROOM}
