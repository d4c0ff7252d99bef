"""Meetings across mailboxes in the decision table (R10, R27): who owns a meeting, what the copies do.

The rule (shared/core/meetings.py): the organizer's mailbox owns a meeting when the organizer is synced;
otherwise the first synced attendee to claim it. Other synced copies are linked as copies and sync only
their person's answer.
"""

from __future__ import annotations

from datetime import timedelta

from shared.core.actions import (
    AnswerInErp,
    AnswerInOutlook,
    CreateActivity,
    Demote,
    LinkCopy,
    Relink,
    RetireCopy,
    Skip,
    TakeOver,
    UpdateActivity,
    UpdateEvent,
    VoidActivity,
    Wait,
)
from shared.core.activities import ActivityChange, ActivityState, Participant, ParticipantKind, Response
from shared.core.items import Attendee
from shared.core.m365 import DeltaEntry
from shared.core.meetings import LinkRole, Meeting
from shared.core.planner import RunInput, plan
from shared.core.policy import SyncPolicy
from tests.core.builders import NOW, activity, event, link

ANN, BOB = "ann@contoso.com", "bob@contoso.com"
POLICY = SyncPolicy()


def run(**kwargs: object) -> RunInput:
    values: dict[str, object] = {
        "user_id": "u1",
        "mailbox": ANN,
        "policy": POLICY,
        "now": NOW,
        "links": (),
        "synced_mailboxes": frozenset({ANN, BOB}),
    }
    values.update(kwargs)
    return RunInput(**values)  # type: ignore[arg-type]


def copy_of_bobs_meeting(**overrides: object) -> object:
    """Ann's copy of a meeting Bob organises with a customer."""
    values: dict[str, object] = {
        "is_organizer": False,
        "response": "notResponded",
        "organizer_email": BOB,
        "attendees": (Attendee(email=ANN), Attendee(email="eve@fabrikam.example")),
    }
    values.update(overrides)
    return event(**values)


def claim(owner: str = "u2", activity_id: str | None = "act-1") -> Meeting:
    return Meeting(ical_uid="ical-1", owner_user_id=owner, owner_mailbox=BOB, activity_id=activity_id, updated_at=NOW)


def entry(ev: object) -> DeltaEntry:
    return DeltaEntry(event_id=ev.id, event=ev)  # type: ignore[attr-defined]


def change(act: object, seq: int = 1) -> ActivityChange:
    return ActivityChange(seq=seq, activity_id=act.id, owner_id=act.owner_id, activity=act)  # type: ignore[attr-defined]


def test_copy_of_a_meeting_a_synced_colleague_organises_waits_for_the_organizers_sync() -> None:
    """R10: Bob (synced) organises; Ann's copy never creates an activity, it waits for Bob's mailbox."""
    actions = plan(run(m365_changes=[entry(copy_of_bobs_meeting())])).actions
    assert [type(a) for a in actions] == [Wait]


def test_copy_of_a_claimed_meeting_is_linked_to_its_one_activity() -> None:
    """R10: Bob's mailbox created the activity; Ann's copy links to it and creates nothing."""
    actions = plan(run(m365_changes=[entry(copy_of_bobs_meeting())], meetings={"ical-1": claim()})).actions
    assert len(actions) == 1
    assert isinstance(actions[0], LinkCopy)
    assert actions[0].meeting.activity_id == "act-1"


def test_copy_of_a_meeting_whose_owner_is_still_creating_it_waits() -> None:
    """R10: the claim exists but its activity does not yet (another instance is mid-create)."""
    actions = plan(
        run(m365_changes=[entry(copy_of_bobs_meeting())], meetings={"ical-1": claim(activity_id=None)})
    ).actions
    assert [type(a) for a in actions] == [Wait]


def test_first_synced_attendee_of_an_external_organizers_meeting_creates_it() -> None:
    """R10: the organizer is a customer (not synced): the first synced attendee to claim it owns it."""
    ev = copy_of_bobs_meeting(organizer_email="eve@fabrikam.example")
    actions = plan(run(m365_changes=[entry(ev)])).actions
    assert [type(a) for a in actions] == [CreateActivity]


def test_organizer_becoming_synced_takes_the_meeting_over_from_an_attendee() -> None:
    """R10: an attendee's mailbox claimed it first; the organizer's own event takes it over."""
    ev = event(organizer_email=ANN)
    actions = plan(run(m365_changes=[entry(ev)], meetings={"ical-1": claim(owner="u3")})).actions
    assert [type(a) for a in actions] == [TakeOver]


def test_own_claim_with_an_activity_but_no_link_relinks_after_a_crash() -> None:
    """R10: the activity was created and the claim saved, then the host crashed before the link: pair them."""
    actions = plan(run(m365_changes=[entry(event())], meetings={"ical-1": claim(owner="u1")})).actions
    assert len(actions) == 1
    assert isinstance(actions[0], Relink)
    assert actions[0].activity_id == "act-1"


def test_own_claim_without_an_activity_resumes_the_create() -> None:
    """R10: the claim was taken, the ERP create never answered: create again (same idempotency key)."""
    actions = plan(run(m365_changes=[entry(event())], meetings={"ical-1": claim(owner="u1", activity_id=None)})).actions
    assert [type(a) for a in actions] == [CreateActivity]


def test_internal_only_copy_is_skipped_not_left_waiting() -> None:
    """R26/R10: a filter that keeps the organizer's event out keeps the copy out too; it does not wait."""
    policy = SyncPolicy(internal_domains=frozenset({"contoso.com"}))
    ev = copy_of_bobs_meeting(attendees=(Attendee(email=ANN),))
    actions = plan(run(policy=policy, m365_changes=[entry(ev)])).actions
    assert [type(a) for a in actions] == [Skip]


def copy_link(ev: object, act: object, response: str = "none") -> object:
    return link(ev, act, role=LinkRole.COPY, response=response)  # type: ignore[arg-type]


def test_attendee_declining_their_copy_sets_their_participant_row_not_a_void() -> None:
    """R27: Ann declines Bob's meeting: her participant row says declined; the meeting stays for the others."""
    ev, act = copy_of_bobs_meeting(), activity(owner_id="u2")
    declined = ev.model_copy(update={"response": "declined", "change_key": "ck2"})  # type: ignore[attr-defined]
    actions = plan(run(links=[copy_link(ev, act)], m365_changes=[entry(declined)])).actions
    assert len(actions) == 1
    assert isinstance(actions[0], AnswerInErp)
    assert actions[0].response == "declined"


def test_copy_edits_other_than_the_answer_never_rewrite_the_organizers_fields() -> None:
    """R10: Ann adds a category to her copy: nothing is written to the meeting's activity."""
    ev, act = copy_of_bobs_meeting(), activity(owner_id="u2")
    tagged = ev.model_copy(update={"categories": ("Customer",), "change_key": "ck2"})  # type: ignore[attr-defined]
    assert plan(run(links=[copy_link(ev, act)], m365_changes=[entry(tagged)])).actions == ()


def test_answer_set_in_the_erp_is_given_on_the_persons_copy() -> None:
    """R27: Ann's participant row is set to accepted in the ERP: her copy accepts."""
    ev = copy_of_bobs_meeting()
    act = activity(
        owner_id="u2",
        participants=(Participant(email=ANN, kind=ParticipantKind.USER, ref_id="u1", response=Response.ACCEPTED),),
    )
    actions = plan(run(links=[copy_link(ev, act)], erp_changes=[change(act)])).actions
    assert len(actions) == 1
    assert isinstance(actions[0], AnswerInOutlook)
    assert actions[0].response == "accepted"


def test_answers_changed_on_both_sides_take_the_latest() -> None:
    """R6/R27: Ann tentatively accepts in Outlook after the ERP row was set to declined: Outlook's wins."""
    ev = copy_of_bobs_meeting(response="tentativelyAccepted", last_modified=NOW)
    act = activity(
        owner_id="u2",
        modified_at=NOW - timedelta(minutes=3),
        participants=(Participant(email=ANN, kind=ParticipantKind.USER, ref_id="u1", response=Response.DECLINED),),
    )
    actions = plan(run(links=[copy_link(ev, act)], m365_changes=[entry(ev)], erp_changes=[change(act)])).actions
    assert len(actions) == 1
    assert isinstance(actions[0], AnswerInErp)
    assert actions[0].response == "tentativelyAccepted"


def test_cancelled_copy_is_retired_and_never_counts_as_a_mass_deletion() -> None:
    """R8/R11: Bob cancels; each copy is retired without voiding anything or tripping the guard."""
    copies, links = [], []
    for i in range(6):
        ev = copy_of_bobs_meeting(id=f"copy-{i}", ical_uid=f"ical-{i}")
        act = activity(id=f"act-{i}", owner_id="u2")
        links.append(link(ev, act, link_id=f"L{i}", role=LinkRole.COPY))
        copies.append(entry(ev.model_copy(update={"is_cancelled": True})))  # type: ignore[attr-defined]
    result = plan(run(links=links, m365_changes=copies))
    assert result.halted is None
    assert len(result.actions) == 6
    assert all(isinstance(a, RetireCopy) for a in result.actions)


def test_owner_declining_while_the_erp_changed_the_same_meeting_voids_it() -> None:
    """R27: the owner's decline is applied even when the activity changed in the ERP in the same run."""
    ev, act = event(is_organizer=False, organizer_email="eve@fabrikam.example"), activity()
    declined = ev.model_copy(update={"response": "declined", "change_key": "ck2"})
    edited = act.model_copy(update={"subject": "Renamed in the ERP", "version": 2})
    actions = plan(run(links=[link(ev, act)], m365_changes=[entry(declined)], erp_changes=[change(edited)])).actions
    assert [type(a) for a in actions] == [VoidActivity]


def test_owner_link_of_an_activity_taken_over_elsewhere_is_demoted_to_a_copy() -> None:
    """R10: the organizer's mailbox took the meeting over; this mailbox's old owner link becomes a copy."""
    ev, act = event(), activity()
    moved = act.model_copy(update={"owner_id": "u9", "version": 2})
    actions = plan(run(links=[link(ev, act)], erp_changes=[change(moved)])).actions
    assert [type(a) for a in actions] == [Demote]


def test_activity_another_mailbox_owns_and_this_one_has_no_link_for_is_not_created_again() -> None:
    """R10: Ann is a registered user of Bob's activity; her run never creates an event for it."""
    act = activity(owner_id="u2")
    actions = plan(run(erp_changes=[change(act)])).actions
    assert [type(a) for a in actions] == [Skip]


def test_participant_answers_alone_changed_in_the_erp_write_nothing_to_the_organizers_event() -> None:
    """R27: Graph lets only attendees answer; an answer changed in the ERP is not an event update."""
    ev, act = (
        event(attendees=(Attendee(email="eve@fabrikam.example"),)),
        activity(participants=(Participant(email="eve@fabrikam.example", kind=ParticipantKind.CONTACT),)),
    )
    answered = act.model_copy(
        update={
            "version": 2,
            "participants": (
                Participant(email="eve@fabrikam.example", kind=ParticipantKind.CONTACT, response=Response.ACCEPTED),
            ),
        }
    )
    actions = plan(run(links=[link(ev, act)], erp_changes=[change(answered)])).actions
    assert not any(isinstance(a, UpdateEvent) for a in actions)
    assert not any(isinstance(a, UpdateActivity) for a in actions)


def test_attendee_deleting_their_copy_declines_and_retires_the_copy() -> None:
    """R27: deleting an invitation in Outlook declines it (Exchange may also remove a declined copy): the
    person's row says declined; the meeting's activity is not voided."""
    ev, act = copy_of_bobs_meeting(), activity(owner_id="u2")
    actions = plan(run(links=[copy_link(ev, act)], m365_changes=[DeltaEntry(event_id=ev.id)])).actions  # type: ignore[attr-defined]
    assert [type(a) for a in actions] == [AnswerInErp, RetireCopy]
    assert isinstance(actions[0], AnswerInErp)
    assert actions[0].response == "declined"


def test_answer_set_in_the_erp_on_an_activity_voided_meanwhile_is_given_on_the_copy_first() -> None:
    """R27: a person in the ERP accepted for Ann, then the activity was voided (its meeting passing on): Ann's
    copy is accepted before its link retires, so the meeting's next activity takes the answer from the copy."""
    ev = copy_of_bobs_meeting()
    act = activity(owner_id="u2")
    copy_link = link(ev, act, role=LinkRole.COPY, response="none")
    voided = act.model_copy(
        update={
            "state": ActivityState.VOIDED,
            "version": 2,
            "participants": (
                Participant(email=ANN, kind=ParticipantKind.USER, ref_id="u1", response=Response.ACCEPTED),
            ),
        }
    )
    for changes in ({"m365_changes": [entry(ev.model_copy(update={"change_key": "ck2"}))]}, {}):
        actions = plan(run(links=(copy_link,), erp_changes=[change(voided)], **changes)).actions
        assert actions[0] == AnswerInOutlook(link=copy_link, response="accepted")
        assert isinstance(actions[1], RetireCopy)
