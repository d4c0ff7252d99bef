"""The decision table (shared.core.planner): given changes and links, the actions to take."""

from __future__ import annotations

from datetime import timedelta

from shared.core.actions import (
    CreateActivity,
    CreateEvent,
    DeleteEvent,
    DetachLink,
    Relink,
    Remember,
    Skip,
    UpdateActivity,
    UpdateEvent,
    VoidActivity,
)
from shared.core.activities import ActivityChange, ActivityState, ActivityType, Origin
from shared.core.items import Field, ItemKind, Side
from shared.core.links import LinkState
from shared.core.m365 import DeltaEntry, EventType
from shared.core.planner import RunInput, plan
from shared.core.policy import Direction, PrivateEvents, SyncPolicy
from tests.core.builders import NOW, activity, event, link

POLICY = SyncPolicy()


def run(**kwargs: object) -> RunInput:
    values: dict[str, object] = {
        "user_id": "u1",
        "mailbox": "ann@contoso.com",
        "policy": POLICY,
        "now": NOW,
        "links": (),
    }
    values.update(kwargs)
    return RunInput(**values)  # type: ignore[arg-type]


def change(act: object, seq: int = 1, *, deleted: bool = False) -> ActivityChange:
    a = act  # the builder's Activity
    return ActivityChange(
        seq=seq,
        activity_id=a.id,
        owner_id="u1",
        deleted=deleted,  # type: ignore[attr-defined]
        activity=None if deleted else a,
    )  # type: ignore[arg-type]


def test_new_event_creates_one_activity() -> None:
    """R5/R23: an unlinked M365 event becomes an ERP meeting."""
    actions = plan(run(m365_changes=[DeltaEntry(event_id="AAMk-event-1", event=event())])).actions
    assert len(actions) == 1
    assert isinstance(actions[0], CreateActivity)
    assert actions[0].item.kind is ItemKind.MEETING


def test_new_activity_creates_one_event() -> None:
    """R5: an unlinked confirmed ERP activity becomes an event."""
    actions = plan(run(erp_changes=[change(activity())])).actions
    assert [type(a) for a in actions] == [CreateEvent]


def test_echo_of_our_own_write_is_not_synced_back() -> None:
    """R5: the delta reports the event we wrote; its content equals the link's fingerprint, so nothing happens."""
    ev, act = event(), activity()
    actions = plan(
        run(links=[link(ev, act)], m365_changes=[DeltaEntry(event_id=ev.id, event=ev)], erp_changes=[change(act)])
    ).actions
    assert actions == ()


def test_subject_changed_in_outlook_updates_the_activity_of_an_outlook_meeting() -> None:
    """R12: a field changed on M365 flows to the ERP."""
    ev, act = event(), activity()
    edited = ev.model_copy(update={"subject": "Quarterly review (moved)", "change_key": "ck2"})
    actions = plan(run(links=[link(ev, act)], m365_changes=[DeltaEntry(event_id=ev.id, event=edited)])).actions
    assert len(actions) == 1
    assert isinstance(actions[0], UpdateActivity)
    assert actions[0].fields == {Field.SUBJECT}


def test_subject_changed_in_outlook_on_an_erp_task_does_not_flow_back() -> None:
    """R20/R22: from a task event only start and end flow back; the subject change is only remembered."""
    ev, act = event(subject="Task: Call back"), activity(type=ActivityType.TASK, subject="Call back")
    edited = ev.model_copy(update={"subject": "Task: something else"})
    actions = plan(
        run(
            links=[link(ev, act, origin=Side.ERP, kind=ItemKind.TASK)],
            m365_changes=[DeltaEntry(event_id=ev.id, event=edited)],
        )
    ).actions
    assert [type(a) for a in actions] == [Remember]


def test_moved_task_event_moves_the_erp_task() -> None:
    """R20: start and end of a task event flow back to the ERP."""
    ev, act = event(subject="Task: Call back"), activity(type=ActivityType.TASK, subject="Call back")
    moved = ev.model_copy(update={"start": ev.start + timedelta(hours=2), "end": ev.end + timedelta(hours=2)})
    actions = plan(
        run(
            links=[link(ev, act, origin=Side.ERP, kind=ItemKind.TASK)],
            m365_changes=[DeltaEntry(event_id=ev.id, event=moved)],
        )
    ).actions
    assert isinstance(actions[0], UpdateActivity)
    assert actions[0].fields == {Field.WHEN}


def test_activity_edited_in_erp_updates_the_event() -> None:
    """R5/R21: ERP edits (location) update the linked event."""
    ev, act = event(), activity()
    edited = act.model_copy(update={"location": "Room 4", "version": 2})
    actions = plan(run(links=[link(ev, act)], erp_changes=[change(edited)])).actions
    assert isinstance(actions[0], UpdateEvent)
    assert actions[0].fields == {Field.LOCATION}


def test_both_sides_changed_different_fields_keep_each_side() -> None:
    """R6: a field changed on only one side is taken from that side."""
    ev, act = event(), activity()
    m365 = ev.model_copy(update={"subject": "New title", "last_modified": NOW})
    erp = act.model_copy(update={"location": "Room 9", "version": 2, "modified_at": NOW - timedelta(minutes=1)})
    actions = plan(
        run(links=[link(ev, act)], m365_changes=[DeltaEntry(event_id=ev.id, event=m365)], erp_changes=[change(erp)])
    ).actions
    by_type = {type(a): a for a in actions}
    assert by_type[UpdateActivity].fields == {Field.SUBJECT}  # type: ignore[attr-defined]
    assert by_type[UpdateEvent].fields == {Field.LOCATION}  # type: ignore[attr-defined]


def test_same_field_changed_on_both_sides_latest_wins() -> None:
    """R6: the later change wins a field changed on both sides."""
    ev, act = event(), activity()
    m365 = ev.model_copy(update={"location": "Outlook room", "last_modified": NOW - timedelta(minutes=3)})
    erp = act.model_copy(update={"location": "ERP room", "version": 2, "modified_at": NOW})
    actions = plan(
        run(links=[link(ev, act)], m365_changes=[DeltaEntry(event_id=ev.id, event=m365)], erp_changes=[change(erp)])
    ).actions
    assert [type(a) for a in actions] == [UpdateEvent]


def test_clock_skew_tie_goes_to_m365() -> None:
    """R6: changes within the skew tolerance (2 s) count as a tie, and M365 wins ties."""
    ev, act = event(), activity()
    m365 = ev.model_copy(update={"location": "Outlook room", "last_modified": NOW - timedelta(seconds=1)})
    erp = act.model_copy(update={"location": "ERP room", "version": 2, "modified_at": NOW})
    actions = plan(
        run(links=[link(ev, act)], m365_changes=[DeltaEntry(event_id=ev.id, event=m365)], erp_changes=[change(erp)])
    ).actions
    assert [type(a) for a in actions] == [UpdateActivity]


def test_deleted_meeting_event_voids_the_activity() -> None:
    """R8: deleting a meeting in M365 voids (not deletes) its ERP activity."""
    ev, act = event(), activity()
    actions = plan(run(links=[link(ev, act)], m365_changes=[DeltaEntry(event_id=ev.id)])).actions
    assert [type(a) for a in actions] == [VoidActivity]


def test_deleted_task_event_keeps_the_erp_task() -> None:
    """R8: deleting the event of an ERP-born task does not void the task."""
    ev, act = event(), activity(type=ActivityType.TASK)
    actions = plan(
        run(links=[link(ev, act, origin=Side.ERP, kind=ItemKind.TASK)], m365_changes=[DeltaEntry(event_id=ev.id)])
    ).actions
    assert [type(a) for a in actions] == [DetachLink]


def test_voided_activity_deletes_the_event() -> None:
    """R8: voiding an activity in the ERP removes its event."""
    ev, act = event(), activity()
    voided = act.model_copy(update={"state": ActivityState.VOIDED, "version": 2})
    actions = plan(run(links=[link(ev, act)], erp_changes=[change(voided)])).actions
    assert [type(a) for a in actions] == [DeleteEvent]


def test_tombstone_deletes_the_event() -> None:
    """R8: an activity removed from the ERP (tombstone in the feed) removes its event."""
    ev, act = event(), activity()
    actions = plan(run(links=[link(ev, act)], erp_changes=[change(act, deleted=True)])).actions
    assert [type(a) for a in actions] == [DeleteEvent]


def test_initial_pull_never_deletes() -> None:
    """R4: an initial sync never deletes anything."""
    ev, act = event(), activity()
    actions = plan(run(links=[link(ev, act)], m365_changes=[DeltaEntry(event_id=ev.id)], m365_initial=True)).actions
    assert [type(a) for a in actions] == [Skip]


def test_one_way_erp_to_m365_never_writes_the_erp() -> None:
    """R1: with erp_to_m365 an Outlook event creates nothing in the ERP."""
    policy = SyncPolicy(direction=Direction.ERP_TO_M365)
    actions = plan(run(policy=policy, m365_changes=[DeltaEntry(event_id="e", event=event(id="e"))])).actions
    assert [type(a) for a in actions] == [Skip]


def test_per_user_direction_override_wins_over_the_tenant_setting() -> None:
    """R1: the direction is overridable per user (by mailbox address)."""
    policy = SyncPolicy(direction_overrides={"ann@contoso.com": Direction.M365_TO_ERP})
    actions = plan(run(policy=policy, erp_changes=[change(activity())])).actions
    assert [type(a) for a in actions] == [Skip]


def test_private_event_is_skipped_by_default() -> None:
    """R25: private events are not synced unless the setting says so."""
    actions = plan(run(m365_changes=[DeltaEntry(event_id="e", event=event(id="e", sensitivity="private"))])).actions
    assert isinstance(actions[0], Skip)
    assert "R25" in actions[0].reason


def test_private_event_synced_as_busy_hides_its_details() -> None:
    """R25: 'sync as busy' creates the activity without subject, body or attendees."""
    policy = SyncPolicy(private_events=PrivateEvents.SYNC_AS_BUSY)
    ev = event(id="e", sensitivity="private", subject="Doctor")
    actions = plan(run(policy=policy, m365_changes=[DeltaEntry(event_id="e", event=ev)])).actions
    assert isinstance(actions[0], CreateActivity)
    assert actions[0].item.subject == "Busy"


def test_excluded_and_included_categories() -> None:
    """R24: an excluded category is skipped; with an include list only those categories sync."""
    policy = SyncPolicy(exclude_categories=frozenset({"Personal"}), include_categories=frozenset({"Customer"}))
    excluded = event(id="x", categories=("personal",))
    other = event(id="o", categories=("Blue",))
    included = event(id="i", categories=("Customer",))
    actions = plan(
        run(policy=policy, m365_changes=[DeltaEntry(event_id=e.id, event=e) for e in (excluded, other, included)])
    ).actions
    assert [type(a) for a in actions] == [Skip, Skip, CreateActivity]


def test_internal_only_meeting_is_skipped() -> None:
    """R26: every attendee in the organisation's domains: not an ERP matter."""
    from shared.core.items import Attendee

    policy = SyncPolicy(internal_domains=frozenset({"contoso.com"}))
    ev = event(id="e", attendees=(Attendee(email="bob@contoso.com"),))
    actions = plan(run(policy=policy, m365_changes=[DeltaEntry(event_id="e", event=ev)])).actions
    assert isinstance(actions[0], Skip)


def test_declined_linked_meeting_voids_its_activity() -> None:
    """R27: an event the user declined is not shown in the ERP."""
    ev, act = event(), activity()
    declined = ev.model_copy(update={"response": "declined", "is_organizer": False})
    actions = plan(run(links=[link(ev, act)], m365_changes=[DeltaEntry(event_id=ev.id, event=declined)])).actions
    assert [type(a) for a in actions] == [VoidActivity]


def test_stamped_event_without_link_is_relinked_not_copied() -> None:
    """R10: an event we wrote for an ERP record (crash before saving the link) is paired, not duplicated."""
    ev = event(erp_stamp="act-1")
    actions = plan(run(m365_changes=[DeltaEntry(event_id=ev.id, event=ev)])).actions
    assert actions == (Relink(event_id=ev.id, activity_id="act-1", origin=Side.ERP),)


def test_activity_created_from_this_mailbox_without_link_is_relinked() -> None:
    """R10: an activity we created from this mailbox's event is paired again, never given a second event."""
    act = activity(origin=Origin(mailbox="ann@contoso.com", event_id="AAMk-event-1"))
    actions = plan(run(erp_changes=[change(act)])).actions
    assert actions == (Relink(event_id="AAMk-event-1", activity_id="act-1", origin=Side.M365),)


def test_draft_meeting_waits_for_confirmation() -> None:
    """R21: a meeting is sent to M365 once it is confirmed in the ERP."""
    actions = plan(run(erp_changes=[change(activity(state=ActivityState.DRAFT))])).actions
    assert isinstance(actions[0], Skip)


def test_activity_that_ended_before_the_look_back_is_not_synced() -> None:
    """R4: ERP activities that ended more than one day ago are not synced."""
    from datetime import datetime

    old = activity(start=datetime(2026, 11, 20, 9, 0), end=datetime(2026, 11, 20, 10, 0))
    actions = plan(run(erp_changes=[change(old)])).actions
    assert isinstance(actions[0], Skip)
    assert "R4" in actions[0].reason


def test_unchecked_activity_type_is_not_synced() -> None:
    """R3: only the configured activity types sync."""
    policy = SyncPolicy(activity_kinds=frozenset({ItemKind.MEETING}))
    actions = plan(run(policy=policy, erp_changes=[change(activity(type=ActivityType.PHONE_CALL))])).actions
    assert isinstance(actions[0], Skip)


def test_repeated_delta_items_are_planned_once() -> None:
    """graph-facts §1: delta pages may repeat an item; the last report counts, once."""
    first, second = event(subject="v1"), event(subject="v2")
    actions = plan(
        run(m365_changes=[DeltaEntry(event_id=first.id, event=first), DeltaEntry(event_id=second.id, event=second)])
    ).actions
    assert len(actions) == 1
    assert isinstance(actions[0], CreateActivity)
    assert actions[0].item.subject == "v2"


def test_series_master_is_not_planned() -> None:
    """R28: the delta carries occurrences; a master (if ever seen) is not an item of its own."""
    master = event(type=EventType.SERIES_MASTER)
    actions = plan(run(m365_changes=[DeltaEntry(event_id=master.id, event=master)])).actions
    assert isinstance(actions[0], Skip)


def test_mass_deletion_halts_the_run() -> None:
    """R11: most linked items reported gone at once stops the run instead of deleting."""
    pairs = [(event(id=f"e{i}"), activity(id=f"a{i}")) for i in range(8)]
    links = [link(ev, act, link_id=f"L{i}") for i, (ev, act) in enumerate(pairs)]
    gone = [DeltaEntry(event_id=ev.id) for ev, _ in pairs[:6]]
    result = plan(run(links=links, m365_changes=gone))
    assert result.halted is not None
    assert not any(isinstance(a, VoidActivity) for a in result.actions)


def test_a_few_deletions_are_not_a_mass_deletion() -> None:
    """R11: deleting one of many linked items goes ahead."""
    pairs = [(event(id=f"e{i}"), activity(id=f"a{i}")) for i in range(8)]
    links = [link(ev, act, link_id=f"L{i}") for i, (ev, act) in enumerate(pairs)]
    result = plan(run(links=links, m365_changes=[DeltaEntry(event_id="e0")]))
    assert result.halted is None
    assert [type(a) for a in result.actions] == [VoidActivity]


def test_retired_link_ignores_late_echoes() -> None:
    """A voided pair stays retired: a late change of either side creates nothing new."""
    ev, act = event(), activity()
    retired = link(ev, act, state=LinkState.RETIRED)
    actions = plan(run(links=[retired], m365_changes=[DeltaEntry(event_id=ev.id, event=ev)])).actions
    assert [type(a) for a in actions] == [Skip]


def test_voided_activity_whose_event_also_changed_still_deletes_the_event() -> None:
    """R8: a void in the ERP wins over a concurrent edit of the event; the event is removed, not merged."""
    ev, act = event(), activity()
    edited = ev.model_copy(update={"subject": "edited meanwhile"})
    voided = act.model_copy(update={"state": ActivityState.VOIDED, "version": 2})
    actions = plan(
        run(
            links=[link(ev, act)], m365_changes=[DeltaEntry(event_id=ev.id, event=edited)], erp_changes=[change(voided)]
        )
    ).actions
    assert DeleteEvent in [type(a) for a in actions]


def test_activity_that_already_ended_is_written_without_invitations() -> None:
    """R4: a meeting from the last day is put in the calendar, but nobody is invited to the past."""
    from datetime import datetime

    recent = activity(start=datetime(2026, 12, 1, 7, 0), end=datetime(2026, 12, 1, 8, 0))  # ended 1 h before NOW
    upcoming = activity(id="act-2")
    actions = plan(run(erp_changes=[change(recent), change(upcoming, seq=2)])).actions
    invites = {a.activity.id: a.invite for a in actions if isinstance(a, CreateEvent)}
    assert invites == {"act-1": False, "act-2": True}


def test_lost_create_answer_is_paired_once_not_created_again() -> None:
    """R10: the event is in the delta again and its activity (born from it) is in the feed: one Relink only."""
    ev = event()
    born = activity(origin=Origin(mailbox="ann@contoso.com", event_id=ev.id))
    actions = plan(run(m365_changes=[DeltaEntry(event_id=ev.id, event=ev)], erp_changes=[change(born)])).actions
    assert actions == (Relink(event_id=ev.id, activity_id=born.id, origin=Side.M365),)


def test_mass_removal_in_the_erp_halts_the_run_too() -> None:
    """R11: most linked activities voided or removed at once in the ERP is halted like an Outlook mass delete."""
    pairs = [(event(id=f"e{i}"), activity(id=f"a{i}")) for i in range(8)]
    links = [link(ev, act, link_id=f"L{i}") for i, (ev, act) in enumerate(pairs)]
    result = plan(run(links=links, erp_changes=[change(act, seq=i, deleted=True) for i, (_, act) in enumerate(pairs)]))
    assert result.halted is not None
    assert "erp" in result.halted


def test_many_declines_are_responses_not_a_mass_deletion() -> None:
    """R11/R27: declining many meetings is a person's answer, not records vanishing; the voids go ahead."""
    pairs = [(event(id=f"e{i}"), activity(id=f"a{i}")) for i in range(8)]
    links = [link(ev, act, link_id=f"L{i}") for i, (ev, act) in enumerate(pairs)]
    declined = [DeltaEntry(event_id=ev.id, event=ev.model_copy(update={"response": "declined"})) for ev, _ in pairs]
    result = plan(run(links=links, m365_changes=declined))
    assert result.halted is None
    assert [type(a) for a in result.actions] == [VoidActivity] * 8
