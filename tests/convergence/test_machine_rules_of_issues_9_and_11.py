"""The machine's rules for quick second edits (issue 9), leave requests and the close job (issue 11), walked once
each on both backends, so every rule is known to act and be checked on the real adapters too (the HTTP machine
runs only a few random examples). The checks are the machine's (``checks``, ``checks_leave``, ``nightly``).
"""

from __future__ import annotations

import pytest

from tests.convergence.machine import SyncConvergence
from tests.convergence.test_found_by_the_machine import (
    OUTLOOK_EVENT,
    WHEN,
    clean,
    immediate_retries,
    machine,
    replay,
    seeded_ids,
)

__all__ = ["immediate_retries", "machine", "seeded_ids"]  # fixtures, used by name below
pytestmark = pytest.mark.usefixtures("seeded_ids")

ASKS = {"description": "Christmas", "leave_type": "Vacation", "zone": "Europe/Oslo", "length": 2}


def test_the_last_of_two_edits_within_a_second_wins_on_both_sides(machine: type[SyncConvergence]) -> None:
    """R5 (issue 9): Ann renames her meeting twice within a second in Outlook, a run taking the first in between;
    then a person renames it twice within one ERP second, a run between again: both sides end with the last."""
    replay(
        machine,
        OUTLOOK_EVENT,
        clean(),
        ("organizer_renames_twice_within_a_second", {"pick": 0, "first": "lunch", "second": "Q4", "run_between": True}),
        ("erp_renames_twice_within_a_second", {"pick": 0, "first": "Q3", "second": "kick-off", "run_between": True}),
        ("everyone_syncs_until_quiet", {"order": ("ann", "bob", "cy")}),
    )


def test_leave_approved_moved_edited_deleted_cancelled_and_rejected(machine: type[SyncConvergence]) -> None:
    """R30/R23: Bob's requested leave shows once approved, moves with its dates, is put back after he edits and
    then deletes its event in Outlook, and goes when cancelled; Ann's half day approved at once goes when rejected.
    No leave event ever becomes an activity."""
    replay(
        machine,
        ("employee_asks_for_leave", {**ASKS, "who": "bob", "day": 5, "half_day": False, "approved": False}),
        ("employee_asks_for_leave", {**ASKS, "who": "ann", "day": 2, "half_day": True, "approved": True}),
        clean("bob"),
        ("manager_approves_leave", {"pick": 0}),
        clean("bob"),
        ("everyone_syncs_until_quiet", {"order": ("ann", "bob", "cy")}),
        ("leave_dates_change", {"pick": 0, "day": 7, "length": 3, "half_day": False}),
        clean("bob"),
        ("requester_edits_leave_event", {"pick": 0, "subject": "Out", "hour": 10}),
        ("everyone_syncs_until_quiet", {"order": ("bob", "ann", "cy")}),
        ("requester_deletes_leave_event", {"pick": 0}),
        ("everyone_syncs_until_quiet", {"order": ("bob", "ann", "cy")}),
        ("employee_cancels_leave", {"pick": 0}),
        ("manager_rejects_leave", {"pick": 0}),
    )


def test_close_job_then_an_outlook_edit_is_a_conflict_not_a_loss(machine: type[SyncConvergence]) -> None:
    """R29/R7: the night after Ann's meeting from Outlook ended, the close job closes it (and not Bob's meeting
    made in the ERP); Ann then renames it in Outlook: the activity stays as closed, the conflict is listed and
    the event marked."""
    erp_meeting = {"owner": "bob", "registered": [], "contact": False, "subject": "Quote", "location": ""} | WHEN
    replay(
        machine,
        OUTLOOK_EVENT,
        ("erp_creates_confirmed_meeting", erp_meeting),
        ("everyone_syncs_until_quiet", {"order": ("ann", "bob", "cy")}),
        ("close_job_runs_at_night", {"pick": 0, "hours": 2}),
        ("everyone_syncs_until_quiet", {"order": ("ann", "bob", "cy")}),
        ("organizer_renames", {"pick": 0, "subject": "lunch"}),
        ("erp_renames_meeting", {"pick": 1, "subject": "Q3"}),  # Bob's meeting stays open: the ERP takes it
    )
