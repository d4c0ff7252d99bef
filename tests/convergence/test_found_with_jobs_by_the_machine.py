"""Minimal examples the convergence machine found with leave requests, quick edits, the close job and crashes
between writes (R6, R7, R10, R27, R29, R30; issues 8, 9 and 11), replayed step by step.

Same conventions as ``test_found_by_the_machine.py`` (whose helpers these replays use): the steps are the
machine's own rules and the checks are the machine's; those still failing are ``xfail(strict=True)``.
"""

from __future__ import annotations

import pytest

from tests.convergence.machine import SyncConvergence
from tests.convergence.test_found_by_the_machine import OUTLOOK_EVENT, WHEN, clean, crash, machine, replay
from tests.convergence.test_sync_converges_under_faults import OnFakes, immediate_retries, seeded_ids

__all__ = ["immediate_retries", "machine", "seeded_ids"]  # fixtures, used by name below

pytestmark = pytest.mark.usefixtures("seeded_ids")


# --- found by the machine with leave, quick edits and the close job (issues 9 and 11) ---


def test_attendee_taken_off_in_the_erp_before_their_copy_is_linked_stays_off() -> None:
    """R6/R15: Bob invites Ann in Outlook, Ann answers tentatively, Bob's run makes the activity with her row; then
    a person takes Ann off it in the ERP before her own run. The ERP's change is the latest: Bob's event must stop
    inviting her. Found while the machine ran with the new rules; none of them is needed to show it."""
    replay(
        OnFakes,
        (
            "outlook_creates_meeting",
            {"organizer": "bob", "invitees": ["ann"], "contact": False, "subject": "Budget", "location": "", **WHEN},
        ),
        ("attendee_answers", {"pick": 0, "who": 0, "answer": "tentativelyAccepted"}),
        clean("bob"),
        ("erp_unregisters_a_user", {"pick": 0, "who": 0}),
    )


def test_contacts_answer_after_a_crash_keeps_a_person_the_erp_took_off() -> None:
    """R27/R6: Ann's ERP meeting with Bob reached Outlook (the host died after its link); the ERP then took Bob
    off while Eve accepted; Ann's run writes Eve's answer (its answer lost, the ERP applied it): Bob is not
    invited again on either side."""
    replay(
        OnFakes,
        (
            "erp_creates_confirmed_meeting",
            {"owner": "ann", "registered": ["ann", "bob"], "contact": True, "subject": "Budget", "location": ""} | WHEN,
        ),
        crash("save_link", after=True),
        ("erp_unregisters_a_user", {"pick": 0, "who": 0}),
        ("eve_answers", {"pick": 0, "answer": "accepted"}),
        (
            "sync_meets_erp_fault_mid_run",
            {"who": "ann", "where": ("PATCH", "/activities/"), "skip": 0, "count": 3, "lost": True},
        ),
    )


def test_leave_cancelled_after_a_crash_before_the_leave_cursor_leaves_the_calendar(
    machine: type[SyncConvergence],
) -> None:
    """R30 (and R4's limit): Bob's first run shows two approved leave requests and dies before it saves the leave
    cursor; one request is then cancelled. His next run reads the leave feed as a snapshot again, but he has leave
    events linked already, so it is no first pull: the cancelled request's event goes (before the fix it was kept
    as "initial pull never deletes", and the cursor then moved past the cancellation for good)."""
    asks = {"approved": True, "description": "", "half_day": False, "leave_type": "Vacation", "zone": "UTC"}
    replay(
        machine,
        ("employee_asks_for_leave", {**asks, "who": "bob", "day": 1, "length": 2}),
        ("employee_asks_for_leave", {**asks, "who": "bob", "day": 6, "length": 1}),
        crash("save_link", who="bob", skip=1),
        ("employee_cancels_leave", {"pick": 1}),
    )


def test_conflict_of_a_closed_meeting_stays_listed_after_an_attendee_change_undone() -> None:
    """R7/R31: the close job closed Bob's ended meeting; Bob then moves it in Outlook (a conflict, listed, the event
    marked), invites Cy and takes him off again. The moved times were never applied, so the conflict stays listed
    for the admin."""
    replay(
        OnFakes,
        ("outlook_creates_meeting", {**OUTLOOK_EVENT[1], "organizer": "bob"}),
        clean("bob"),
        ("close_job_runs_at_night", {"pick": 0, "hours": 1}),
        ("organizer_reschedules", {"pick": 0, "day": 4, "hour": 9, "minutes": 30}),
        clean("bob"),
        ("organizer_invites", {"pick": 0, "who": "cy"}),
        clean("bob"),
        ("organizer_uninvites", {"pick": 0, "who": 0}),
    )


def test_outlook_rename_after_a_crash_before_the_link_wins_over_an_older_erp_edit() -> None:
    """R6/R10: Ann's run made the activity and died before its link; the ERP moved the meeting elsewhere and
    Ann then renamed it in Outlook (all within a second). The relink sees both records changed since the create
    (the event's change key is no longer the one the activity was made from): the location comes from the ERP,
    the subject from Outlook."""
    replay(
        OnFakes,
        (
            "outlook_creates_meeting",
            {"organizer": "ann", "invitees": ["ann"], "contact": True, "subject": "Budget Budget", "location": ""}
            | WHEN,
        ),
        crash("save_link", who="cy"),
        ("erp_moves_meeting_elsewhere", {"pick": 0, "location": "HQ"}),
        crash("save_link", who="ann"),
        ("organizer_renames", {"pick": 0, "subject": "Budget"}),
        ("erp_moves_meeting_elsewhere", {"pick": 0, "location": "HQ"}),
    )


def test_colleague_linked_while_off_the_erp_row_takes_an_outside_meeting_its_owner_left() -> None:
    """R10/R27: Ann owned Eve's meeting; the ERP took Cy's row off (Eve still invites him); Cy's first run links his
    copy and writes his row back (only the organizer could take him off); Eve then takes Ann off: the meeting
    passes on to Cy, whose feed shows the void. Found by the machine (its steps as it drew them)."""
    replay(
        OnFakes,
        ("cy_may_start_unsynced", {"cy_synced": True}),
        ("sync_runs_clean", {"who": "ann"}),
        (
            "eve_invites",
            {
                "day": 5,
                "hour": 9,
                "invitees": ["ann"],
                "location": "",
                "minutes": 30,
                "subject": "Budget Budget Budget",
            },
        ),
        ("sync_runs_clean", {"who": "ann"}),
        ("sync_runs_clean", {"who": "ann"}),
        ("erp_reschedules_meeting", {"day": 11, "hour": 12, "minutes": 30, "pick": 781}),
        ("organizer_uninvites", {"pick": 7404, "who": 303}),
        ("organizer_moves_it_elsewhere", {"location": "HQ", "pick": 167}),
        (
            "eve_invites",
            {
                "day": 9,
                "hour": 7,
                "invitees": ["ann", "bob"],
                "location": "",
                "minutes": 30,
                "subject": "Budget Budget Budget",
            },
        ),
        ("erp_reschedules_meeting", {"day": 12, "hour": 7, "minutes": 30, "pick": 207}),
        ("organizer_moves_it_elsewhere", {"location": "HQ", "pick": 14}),
        ("organizer_invites", {"pick": 234, "who": "cy"}),
        (
            "erp_creates_confirmed_meeting",
            {
                "contact": False,
                "day": 8,
                "hour": 10,
                "location": "",
                "minutes": 30,
                "owner": "ann",
                "registered": [],
                "subject": "Budget",
            },
        ),
        (
            "eve_invites",
            {
                "day": 1,
                "hour": 7,
                "invitees": ["ann"],
                "location": "",
                "minutes": 30,
                "subject": "Budget Budget Budget",
            },
        ),
        ("organizer_moves_it_elsewhere", {"location": "HQ", "pick": 0}),
        ("erp_unregisters_a_user", {"pick": 0, "who": 0}),
        ("erp_moves_meeting_elsewhere", {"location": "HQ", "pick": 0}),
        ("organizer_moves_it_elsewhere", {"location": "HQ", "pick": 0}),
        ("sync_runs_clean", {"who": "cy"}),
    )
