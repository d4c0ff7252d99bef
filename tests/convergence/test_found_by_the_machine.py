"""Minimal examples the convergence machine found, replayed step by step (R5, R8, R10).

Each one failed on the engine once and is kept as a fast regression. The steps are the machine's own
rules, so the checks (pairing, fields, no echo) are the same as in the machine.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.convergence.test_sync_converges_under_faults import SyncConvergence, immediate_retries

__all__ = ["immediate_retries"]  # the fixture, used by name below


def replay(azurite: str, *steps: tuple[str, dict[str, Any]]) -> None:
    """Run the machine's steps in order, then its final check (two clean runs, then no echo)."""
    SyncConvergence.azurite = azurite
    machine = SyncConvergence()
    try:
        for name, arguments in steps:
            getattr(machine, name)(**arguments)
        machine._check_final()
    finally:
        machine.world.close()


ERP_MEETING = (
    "erp_creates_confirmed_meeting",
    {"day": 1, "hour": 7, "location": "", "minutes": 30, "subject": "Budget"},
)
OUTLOOK_EVENT = ("outlook_creates_event", {"day": 3, "hour": 9, "location": "", "minutes": 60, "subject": "Budget"})
CLEAN_RUN: tuple[str, dict[str, Any]] = ("sync_runs_clean", {})


@pytest.mark.integration
def test_edits_of_different_fields_on_both_sides_sync_in_one_run(
    azurite_connection_string: str, immediate_retries: None
) -> None:
    """R6/R5: an Outlook rename and an ERP location change of one meeting apply in one run, with no echo after."""
    replay(
        azurite_connection_string,
        OUTLOOK_EVENT,
        CLEAN_RUN,
        ("outlook_renames_event", {"pick": 0, "subject": "lunch"}),
        ("erp_moves_meeting_elsewhere", {"pick": 0, "location": "HQ"}),
        CLEAN_RUN,
        CLEAN_RUN,  # R5: after convergence a run writes nothing
    )


@pytest.mark.integration
def test_create_whose_answer_was_lost_is_paired_once(azurite_connection_string: str, immediate_retries: None) -> None:
    """R10: the ERP made the activity but every answer was lost; the next clean run pairs it, once."""
    replay(
        azurite_connection_string,
        OUTLOOK_EVENT,
        ("sync_meets_erp_fault_mid_run", {"where": ("POST", "/activities$"), "skip": 0, "count": 3, "lost": True}),
        CLEAN_RUN,
    )


@pytest.mark.integration
def test_void_in_erp_wins_over_location_change_in_outlook(
    azurite_connection_string: str, immediate_retries: None
) -> None:
    """R8: a meeting voided in the ERP while its event was edited in Outlook leaves the calendar."""
    replay(
        azurite_connection_string,
        ERP_MEETING,
        CLEAN_RUN,
        ("erp_voids_meeting", {"pick": 0}),
        ("outlook_moves_event_elsewhere", {"pick": 0, "location": "HQ"}),
        CLEAN_RUN,
    )


@pytest.mark.integration
def test_event_deleted_right_after_the_sync_made_it_voids_the_meeting(
    azurite_connection_string: str, immediate_retries: None
) -> None:
    """R8: the event the sync just created for an ERP meeting is deleted in Outlook; the meeting is voided."""
    replay(
        azurite_connection_string,
        ERP_MEETING,
        CLEAN_RUN,
        ("outlook_deletes_event", {"pick": 0}),
        CLEAN_RUN,
    )
