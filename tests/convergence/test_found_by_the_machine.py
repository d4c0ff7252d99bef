"""Minimal examples the convergence machine found, replayed step by step (R5, R8, R10, R27).

Each one failed on the engine once. The steps are the machine's own rules, so the checks (one activity per
meeting, copies linked, answers equal, fields equal, no echo) are the machine's. Those still failing are
``xfail(strict=True)``: they pin a known bug of the product until it is fixed, then fail as "XPASS" so the
mark is taken off. Each runs on the fakes; the older ones also on the real adapters (Azurite).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.convergence.machine import SyncConvergence
from tests.convergence.test_sync_converges_under_faults import OnFakes, OnHttp, immediate_retries, seeded_ids
from tests.convergence.world_http import HttpWorld

__all__ = ["immediate_retries", "seeded_ids"]  # fixtures, used by name below
pytestmark = pytest.mark.usefixtures("seeded_ids")

Step = tuple[str, dict[str, Any]]


@pytest.fixture(params=["fakes", pytest.param("http", marks=pytest.mark.integration)])
def machine(request: pytest.FixtureRequest) -> Iterator[type[SyncConvergence]]:
    """The machine on the fakes, or on the real adapters with Table Storage in Azurite."""
    if request.param == "fakes":
        yield OnFakes
        return
    HttpWorld.azurite = request.getfixturevalue("azurite_connection_string")
    request.getfixturevalue("immediate_retries")
    yield OnHttp


def replay(machine_class: type[SyncConvergence], *steps: Step) -> None:
    """Run the machine's steps in order, then its final check (everyone caught up, then no echo)."""
    machine = machine_class()
    try:
        for name, arguments in steps:
            getattr(machine, name)(**arguments)
        machine.check_final()
    finally:
        machine.world.close()


def clean(who: str = "ann") -> Step:
    return ("sync_runs_clean", {"who": who})


def crash(method: str, *, who: str = "ann", skip: int = 0, after: bool = False) -> Step:
    return ("host_dies_mid_run", {"who": who, "method": method, "skip": skip, "after": after})


WHEN = {"day": 3, "hour": 9, "minutes": 60}
OUTLOOK_EVENT = (
    "outlook_creates_meeting",
    {"organizer": "ann", "invitees": [], "contact": False, "subject": "Budget", "location": "", **WHEN},
)
ERP_MEETING = (
    "erp_creates_confirmed_meeting",
    {"owner": "ann", "registered": [], "contact": False, "subject": "Budget", "location": "", **WHEN},
)
EVE_INVITES_ANN = ("eve_invites", {"invitees": ["ann"], "subject": "Budget", "location": "", **WHEN})


# --- found by the single-mailbox machine, kept ---


def test_edits_of_different_fields_on_both_sides_sync_in_one_run(machine: type[SyncConvergence]) -> None:
    """R6/R5: an Outlook rename and an ERP location change of one meeting apply in one run, with no echo after."""
    replay(
        machine,
        OUTLOOK_EVENT,
        clean(),
        ("organizer_renames", {"pick": 0, "subject": "lunch"}),
        ("erp_moves_meeting_elsewhere", {"pick": 0, "location": "HQ"}),
        clean(),
        clean(),  # R5: after convergence a run writes nothing
    )


def test_create_whose_answer_was_lost_is_paired_once(machine: type[SyncConvergence]) -> None:
    """R10: the ERP made the activity but every answer was lost; the next clean run pairs it, once."""
    replay(
        machine,
        OUTLOOK_EVENT,
        (
            "sync_meets_erp_fault_mid_run",
            {"who": "ann", "where": ("POST", "/activities$"), "skip": 0, "count": 3, "lost": True},
        ),
        clean(),
    )


def test_void_in_erp_wins_over_location_change_in_outlook(machine: type[SyncConvergence]) -> None:
    """R8: a meeting voided in the ERP while its event was edited in Outlook leaves the calendar."""
    replay(
        machine,
        ERP_MEETING,
        clean(),
        ("erp_voids_meeting", {"pick": 0}),
        ("organizer_moves_it_elsewhere", {"pick": 0, "location": "HQ"}),
        clean(),
    )


def test_event_deleted_right_after_the_sync_made_it_voids_the_meeting(machine: type[SyncConvergence]) -> None:
    """R8: the event the sync just created for an ERP meeting is deleted in Outlook; the meeting is voided."""
    replay(machine, ERP_MEETING, clean(), ("organizer_cancels", {"pick": 0}), clean())


# --- found by the machine across mailboxes: bugs still open ---


def test_event_made_before_a_crash_is_relinked_without_a_second_create() -> None:
    """R10: the host died after the ERP-born meeting's event was made and before its link was saved; the
    next run pairs the event with the activity, once, and finishes."""
    replay(OnFakes, ERP_MEETING, crash("save_link"), clean())


def test_edit_after_a_crash_before_the_link_reaches_the_erp() -> None:
    """R10/R5: the host died after the ERP create and before the link; Ann then moved the meeting; the next
    run relinks and the activity shows the new location."""
    replay(OnFakes, OUTLOOK_EVENT, crash("save_link"), ("organizer_moves_it_elsewhere", {"pick": 0, "location": "HQ"}))


def test_event_deleted_after_a_crash_before_the_link_voids_the_activity() -> None:
    """R8/R10: the host died after the ERP create and before the link; Ann deleted the event; the activity
    is voided."""
    replay(OnFakes, OUTLOOK_EVENT, crash("save_link"), ("organizer_cancels", {"pick": 0}))


def test_cancelled_copy_relinked_after_a_crash_voids_the_activity() -> None:
    """R27/R10: Eve's meeting was claimed by Ann's run, which died before its link; Eve cancelled; the
    activity is voided."""
    replay(OnFakes, EVE_INVITES_ANN, crash("save_link"), ("organizer_cancels", {"pick": 0}))


def test_event_remade_for_an_erp_meeting_after_a_crash_does_not_fail_every_run() -> None:
    """R10: the host died after making the ERP-born meeting's event and before its link; Ann deleted the
    event; the following runs finish (and the meeting is not duplicated)."""
    replay(OnFakes, ERP_MEETING, crash("save_link"), ("organizer_cancels", {"pick": 0}))


ALL_CATCH_UP = ("everyone_syncs_until_quiet", {"order": ["ann", "bob", "cy"]})


def test_person_invited_again_after_being_taken_off_is_linked_again() -> None:
    """R10: Ann invites Bob, takes him off, invites him again: his new copy is linked to the one activity."""
    replay(
        OnFakes,
        (
            "outlook_creates_meeting",
            {"organizer": "ann", "invitees": ["bob"], "contact": False, "subject": "Budget", "location": "", **WHEN},
        ),
        ALL_CATCH_UP,
        ("organizer_uninvites", {"pick": 0, "who": 0}),
        ALL_CATCH_UP,
        ("organizer_invites", {"pick": 0, "who": "bob"}),
    )


def test_owning_attendees_changed_answer_reaches_their_row() -> None:
    """R27: Ann owns Eve's meeting; she accepts, the syncs catch up, she changes to tentative: her row says so."""
    replay(
        OnFakes,
        EVE_INVITES_ANN,
        ("attendee_answers", {"pick": 0, "who": 0, "answer": "accepted"}),
        ALL_CATCH_UP,
        ("attendee_answers", {"pick": 0, "who": 0, "answer": "tentativelyAccepted"}),
    )


CY_OFF = ("cy_may_start_unsynced", {"cy_synced": False})
CY_INVITES_ANN = (
    "outlook_creates_meeting",
    {"organizer": "cy", "invitees": ["ann"], "contact": False, "subject": "Budget", "location": "", **WHEN},
)


def test_former_owners_answer_reaches_her_row_after_the_organizer_takes_over() -> None:
    """R10/R27: Ann owned Cy's meeting while Cy was not synced; she accepted, then changed to tentative; Cy's
    sync is switched on and takes the meeting over: Ann's row answers tentative, as her copy does."""
    replay(
        OnFakes,
        CY_OFF,
        CY_INVITES_ANN,
        clean("ann"),
        ("attendee_answers", {"pick": 0, "who": 0, "answer": "accepted"}),
        ("erp_admin_switches_cy_on", {}),
        clean("ann"),
        ("attendee_answers", {"pick": 0, "who": 0, "answer": "tentativelyAccepted"}),
    )


def test_organizer_switched_on_after_the_owning_attendee_left_has_an_activity() -> None:
    """R10/R5: Cy's meeting lost its attendee-owner (taken off); once Cy is synced, his meeting is an activity."""
    replay(
        OnFakes,
        CY_OFF,
        CY_INVITES_ANN,
        clean("ann"),
        ("organizer_uninvites", {"pick": 0, "who": 0}),
        ("erp_admin_switches_cy_on", {}),
    )


def test_event_deleted_after_a_first_run_died_before_its_cursor_voids_the_activity() -> None:
    """R8: Ann's first run made the activity and saved the link, then the host died before the delta cursor;
    Ann deleted the event; the activity is voided."""
    replay(OnFakes, OUTLOOK_EVENT, crash("save_link", after=True), ("organizer_cancels", {"pick": 0}))


SWITCH_CY_ON: Step = ("erp_admin_switches_cy_on", {})


def test_meeting_voided_in_the_erp_stays_voided_when_its_organizer_takes_over() -> None:
    """R8: Ann owned Cy's meeting; the ERP voided it; Cy's sync is switched on: no live activity comes back."""
    replay(OnFakes, CY_OFF, CY_INVITES_ANN, clean("ann"), SWITCH_CY_ON, ("erp_voids_meeting", {"pick": 0}))


def test_erp_edit_survives_the_organizers_take_over() -> None:
    """R6: Ann owned Cy's meeting; the ERP renamed it; Cy's sync is switched on and takes it over: the new
    subject is on Cy's event and the activity."""
    replay(
        OnFakes,
        CY_OFF,
        CY_INVITES_ANN,
        ALL_CATCH_UP,
        SWITCH_CY_ON,
        ("erp_renames_meeting", {"pick": 0, "subject": "Budget Budget"}),
    )


def test_former_owner_taken_off_does_not_void_the_organizers_meeting() -> None:
    """R10: Ann owned Cy's meeting; Cy's sync is switched on and Cy takes Ann off; Cy's run takes the meeting
    over before Ann's run: Cy's meeting keeps its activity."""
    replay(
        OnFakes,
        CY_OFF,
        CY_INVITES_ANN,
        clean("ann"),
        SWITCH_CY_ON,
        ("organizer_uninvites", {"pick": 0, "who": 0}),
        ("everyone_syncs_until_quiet", {"order": ["bob", "cy", "ann"]}),
    )


def test_declined_former_owners_copy_joins_the_organizers_new_activity() -> None:
    """R10/R27: Ann owned Cy's meeting; Cy's sync is switched on; Ann declines: once everyone caught up, Cy's
    meeting has an activity, Ann's copy is linked to it and her row says declined."""
    replay(
        OnFakes,
        CY_OFF,
        CY_INVITES_ANN,
        clean("ann"),
        SWITCH_CY_ON,
        ("attendee_answers", {"pick": 0, "who": 0, "answer": "declined"}),
        ALL_CATCH_UP,
    )


def test_answer_fills_a_row_the_erp_made_again() -> None:
    """R27: Ann accepted Bob's meeting; the ERP removes and re-adds her; her row answers accepted again."""
    replay(
        OnFakes,
        (
            "outlook_creates_meeting",
            {"organizer": "bob", "invitees": ["ann"], "contact": False, "subject": "Budget", "location": "", **WHEN},
        ),
        ("attendee_answers", {"pick": 0, "who": 0, "answer": "accepted"}),
        ALL_CATCH_UP,
        ("erp_unregisters_a_user", {"pick": 0, "who": 0}),
        ("erp_registers_a_user", {"pick": 0, "who": "ann"}),
        ALL_CATCH_UP,
    )


EVE_INVITES_ALL = ("eve_invites", {"invitees": ["ann", "bob", "cy"], "subject": "Budget", "location": "", **WHEN})


def test_owner_invited_again_answers_alike_on_both_sides() -> None:
    """R27: Ann owns Eve's meeting and accepted it; Eve takes her off and invites her again before Ann's next
    run; once everyone caught up, Ann's row answers what her (new) copy answers."""
    replay(
        OnFakes,
        EVE_INVITES_ANN,
        ("attendee_answers", {"pick": 0, "who": 0, "answer": "accepted"}),
        clean("ann"),
        ("organizer_uninvites", {"pick": 0, "who": 0}),
        ("organizer_invites", {"pick": 0, "who": "ann"}),
        ALL_CATCH_UP,
    )


def test_meeting_its_owning_attendee_declined_passes_on() -> None:
    """R27/R10: Eve invites Ann, Bob and Cy; Bob's sync owns it; Bob declines: his activity is voided and the
    meeting passes on, whoever synced first: one live activity another of them owns, every copy linked to it,
    Bob's row declined."""
    replay(
        OnFakes,
        EVE_INVITES_ALL,
        clean("bob"),
        ("attendee_answers", {"pick": 0, "who": 1, "answer": "declined"}),
        ALL_CATCH_UP,
    )


def test_meeting_voided_in_the_erp_is_not_made_again_by_a_new_attendee() -> None:
    """R8: a meeting a person voided in the ERP does not come back when another attendee's sync first sees it."""
    replay(
        OnFakes,
        EVE_INVITES_ANN,
        ALL_CATCH_UP,
        ("organizer_invites", {"pick": 0, "who": "bob"}),
        ("organizer_uninvites", {"pick": 0, "who": 0}),
        ("erp_voids_meeting", {"pick": 0}),
        ALL_CATCH_UP,
    )


def test_erp_attendee_added_after_a_crash_before_the_link_is_kept() -> None:
    """R6/R10: the host died between Cy's ERP create and its link; the ERP added Ann; after the relink Ann is
    invited on Cy's event and registered on the activity."""
    replay(
        OnFakes,
        (
            "outlook_creates_meeting",
            {"organizer": "cy", "invitees": ["bob"], "contact": False, "subject": "Budget", "location": "", **WHEN},
        ),
        crash("save_link", who="cy"),
        ("erp_registers_a_user", {"pick": 0, "who": "ann"}),
    )


def test_owner_who_declines_then_accepts_has_the_meeting_again() -> None:
    """R27/R10: Ann owns Eve's meeting, declines it (void), then accepts it: once caught up it is an activity."""
    replay(
        OnFakes,
        EVE_INVITES_ANN,
        clean("ann"),
        ("attendee_answers", {"pick": 0, "who": 0, "answer": "declined"}),
        clean("ann"),
        ("attendee_answers", {"pick": 0, "who": 0, "answer": "accepted"}),
    )


def test_meeting_passed_on_after_an_erp_rename_of_the_old_activity_takes_either_value() -> None:
    """R10/R6: Ann owned Eve's meeting and the ERP renamed her activity (only her copy showed it); Ann then
    declined and the meeting passed on to Bob, whose new activity is made from his copy (Eve's subject): once
    caught up, the activity and Bob's copy agree. Found by the machine (its steps as it drew them)."""
    replay(
        OnFakes,
        ("cy_may_start_unsynced", {"cy_synced": True}),
        ("erp_may_hold_no_series", {"erp_series": False}),
        ("host_dies_mid_run", {"after": False, "method": "save_link", "skip": 0, "who": "ann"}),
        (
            "eve_invites",
            {"day": 2, "hour": 10, "invitees": ["ann", "bob"], "location": "", "minutes": 30, "subject": "Budget"},
        ),
        ("erp_unregisters_a_user", {"pick": 2914, "who": 752}),
        ("attendee_answers", {"answer": "accepted", "pick": 667, "who": 33}),
        ("attendee_answers", {"answer": "accepted", "pick": 0, "who": 32}),
        ("erp_moves_meeting_elsewhere", {"location": "HQ", "pick": 0}),
        ("erp_moves_meeting_elsewhere", {"location": "HQ", "pick": 5773}),
        ("erp_renames_meeting", {"pick": 0, "subject": "Budget"}),
        ("erp_voids_meeting", {"pick": 0}),
        ("host_dies_mid_run", {"after": False, "method": "save_link", "skip": 0, "who": "cy"}),
        ("erp_voids_meeting", {"pick": 386}),
        ("erp_moves_meeting_elsewhere", {"location": "HQ", "pick": 0}),
        ("two_instances_sync_at_once", {"first": "ann", "second": "ann", "yields": [0, 0, 0, 0, 0, 0, 0, 0]}),
        ("erp_renames_meeting", {"pick": 1335, "subject": "Budget Budget Budget"}),
        ("everyone_syncs_until_quiet", {"order": ["ann", "cy", "bob"]}),
        ("host_dies_mid_run", {"after": True, "method": "save_delta_cursor", "skip": 2, "who": "ann"}),
        ("attendee_answers", {"answer": "declined", "pick": 327, "who": 1030}),
        ("sync_meets_graph_fault", {"count": 4, "status": 503, "where": ("GET", "/events$"), "who": "cy"}),
    )


def test_meeting_passed_on_to_its_organizer_after_an_erp_rename_of_the_old_activity_takes_either_value() -> None:
    """R10/R27/R6: Ann owned Cy's meeting while Cy's sync was off; Cy took Ann off it and switched on, and the ERP
    renamed Ann's activity twice within a second before any run. Ann's run voids her activity (R27) and Cy's
    mailbox takes the meeting with a new activity made from his event: the rename of the voided activity reached
    no one else, so either subject is acceptable once caught up, as for a meeting passed on to an attendee.
    Found by the machine (its steps as it drew them)."""
    replay(
        OnFakes,
        ("cy_may_start_unsynced", {"cy_synced": False}),
        ("erp_may_hold_no_series", {"erp_series": False}),
        ("two_instances_sync_at_once", {"first": "ann", "second": "ann", "yields": [0]}),
        ("host_dies_mid_run", {"after": False, "method": "save_link", "skip": 0, "who": "ann"}),
        (
            "outlook_creates_meeting",
            {
                "contact": False,
                "day": 1,
                "hour": 7,
                "invitees": ["ann"],
                "location": "",
                "minutes": 30,
                "organizer": "cy",
                "subject": "Budget",
            },
        ),
        ("everyone_syncs_until_quiet", {"order": ["ann", "bob", "cy"]}),
        ("organizer_uninvites", {"pick": 0, "who": 0}),
        ("erp_admin_switches_cy_on", {}),
        (
            "erp_renames_twice_within_a_second",
            {"first": "Budget", "pick": 0, "run_between": False, "second": "Budget Budget"},
        ),
    )


def test_answer_set_in_the_erp_as_the_meeting_passes_on_reaches_its_next_activity() -> None:
    """R27/R10: Eve invites Ann and Bob; Ann's sync owns the meeting. A person in the ERP sets Bob's answer to
    accepted, and Eve then takes Ann off, so the meeting passes on to Bob with a new activity. The answer set on
    the old activity (voided by the pass-on) is given on Bob's copy first, and the new activity's row says it."""
    replay(
        OnFakes,
        ALL_CATCH_UP,
        (
            "eve_invites",
            {"day": 1, "hour": 7, "invitees": ["ann", "bob"], "location": "", "minutes": 30, "subject": "Budget"},
        ),
        ALL_CATCH_UP,
        ("erp_sets_answer", {"answer": "accepted", "pick": 0, "who": 0}),
        ("organizer_uninvites", {"pick": 0, "who": 0}),
    )


def test_answer_set_in_the_erp_for_a_late_synced_attendee_as_the_meeting_passes_on_is_kept() -> None:
    """R27/R10: the same with Cy's sync switched on after Eve's invitation and a Graph fault in Ann's first run
    (the random example of 2026-12-02): Cy's answer, set in the ERP as the owner is taken off, ends on Cy's row
    of the meeting's next activity."""
    replay(
        OnFakes,
        ("cy_may_start_unsynced", {"cy_synced": False}),
        ("erp_may_hold_no_series", {"erp_series": False}),
        ("sync_meets_graph_fault", {"who": "ann", "where": (None, None), "status": 503, "count": 1}),
        (
            "eve_invites",
            {"invitees": ["ann", "bob", "cy"], "subject": "Budget", "location": "", "day": 1, "hour": 7, "minutes": 30},
        ),
        ("erp_admin_switches_cy_on", {}),
        ("two_instances_sync_at_once", {"first": "bob", "second": "ann", "yields": [0]}),
        ALL_CATCH_UP,
        ("two_instances_sync_at_once", {"first": "ann", "second": "ann", "yields": [0]}),
        ALL_CATCH_UP,
        ("organizer_uninvites", {"pick": 0, "who": 1}),
        ("erp_sets_answer", {"answer": "accepted", "pick": 0, "who": 1}),
    )
