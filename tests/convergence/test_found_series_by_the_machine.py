"""Minimal examples the convergence machine found with recurring series (R28, issue 10), replayed step by step.

Same conventions as ``test_found_by_the_machine.py`` (whose helpers these replays use): the steps are the
machine's own rules and the checks are the machine's; those still failing are ``xfail(strict=True)``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from shared.core.activities import ActivityState
from tests.convergence.machine import SyncConvergence
from tests.convergence.test_found_by_the_machine import ALL_CATCH_UP, OUTLOOK_EVENT, Step, clean, crash, replay
from tests.convergence.test_sync_converges_under_faults import OnFakes, immediate_retries, seeded_ids
from tests.convergence.world import PEOPLE

__all__ = ["immediate_retries", "seeded_ids"]  # fixtures, used by name below

pytestmark = pytest.mark.usefixtures("seeded_ids")


# --- found by the machine with recurring series (R28, issue 10) ---

SERIES = {"owner": "ann", "subject": "Q3", "day": 2, "hour": 9, "minutes": 60, "daily": False}


def _series_replay(erp_series: bool, *steps: Step, then: Callable[[SyncConvergence], None] | None = None) -> None:
    """The machine's steps with the ERP holding series or not (``erp_may_hold_no_series``), then ``then`` (a step
    a rule of the machine no longer takes while the bug is pinned), then the final check."""
    machine = OnFakes()
    try:
        machine.erp_may_hold_no_series(erp_series=erp_series)
        for name, arguments in steps:
            getattr(machine, name)(**arguments)
        if then is not None:
            then(machine)
        machine.check_final()
    finally:
        machine.world.close()


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="R28: a calendar-view delta carries no master; renaming a series whose occurrences in the window are "
    "all exceptions changes no occurrence the delta reports (the emulator shows the exceptions renamed, with their "
    "changeKey unchanged), so the series activity keeps its old subject",
)
def test_outlook_series_renamed_when_every_occurrence_is_an_exception_reaches_the_erp() -> None:
    """R28/R5: Ann's Outlook series of 2; she moves both occurrences (both exceptions now), the sync takes them;
    then she renames the series in Outlook: the ERP series activity must take the new subject."""

    def rename(machine: SyncConvergence) -> None:  # ``outlook_renames_series`` skips a series with no plain one
        series = machine.series[0]
        assert series.master_id is not None
        mailbox = PEOPLE[series.owner].mailbox
        path = f"/events/{series.master_id}"
        machine.world.run(machine.world.outlook(mailbox, "PATCH", path, json={"subject": "demo"}))
        series.edit("m365", subject="demo")

    _series_replay(
        True,
        ("outlook_creates_series", {**SERIES, "count": 2}),
        clean(),
        ("outlook_moves_occurrence", {"pick": 0, "index": 0, "hour": 14}),
        ("outlook_moves_occurrence", {"pick": 0, "index": 1, "hour": 14}),
        clean(),
        then=rename,
    )


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="R28 fallback: an ERP edit of an occurrence's own activity is written to the occurrence with isAllDay "
    "(event_write's WHEN), which Graph (the emulator) refuses on an occurrence: a refused item, the sides differ",
)
def test_without_erp_series_an_occurrence_activity_moved_in_the_erp_moves_its_occurrence() -> None:
    """R28 fallback/R5: Ann's Outlook series of 3 is 3 activities (an ERP without series); a person moves the first
    occurrence's activity to 15:00 in the ERP: its occurrence in Outlook must move with it."""
    _series_replay(
        False,
        ("outlook_creates_series", {**SERIES, "count": 3}),
        clean(),
        then=lambda machine: machine._erp_occurrence_activity(0, 0, 15),
    )


def test_without_erp_series_a_cancelled_occurrence_back_after_the_series_moved_gets_an_activity() -> None:
    """R28 fallback: Ann's Outlook series of 3 (an ERP without series); she deletes its first occurrence (its
    activity is voided), then moves the whole series to 11:00 with 4 occurrences: Graph resets the exceptions, so
    the first occurrence is back; each occurrence must have one live activity again.

    It failed while every occurrence was claimed: the claim still named the voided activity, and the sync
    relinked the occurrence there. Occurrences with nobody invited are no longer claimed (R10), so it holds for
    this series; one that invites people still keeps the claim (a known gap of R28's fallback, not pinned)."""

    def reshape(machine: SyncConvergence) -> None:  # ``outlook_reshapes_series`` skips it while pinned
        machine.series[0].cancelled_once = False
        machine.outlook_reshapes_series(pick=0, hour=11, minutes=30, count=4)

    _series_replay(
        False,
        ("outlook_creates_series", {**SERIES, "count": 3}),
        ALL_CATCH_UP,
        ("outlook_cancels_occurrence", {"pick": 0, "index": 0}),
        clean(),
        then=reshape,
    )


def test_close_job_leaves_a_series_with_occurrences_to_come_open() -> None:
    """R29/R28: Ann's weekly Outlook series of 3 from tomorrow is one ERP series activity; the night after its
    first occurrence, two are still to come: the series has not ended, so the close job must leave it open (and
    its later changes syncing)."""
    machine = OnFakes()
    try:
        machine.outlook_creates_series(**{**SERIES, "day": 1, "count": 3})
        machine.sync_runs_clean(who="ann")
        world = machine.world
        world.run(world.close_job(world.today + timedelta(days=2)))
        (activity,) = [a for a in world.activities() if a.recurrence is not None]
        assert activity.state is not ActivityState.CLOSED, f"closed with occurrences to come (R29): {activity!r}"
    finally:
        machine.world.close()


def test_event_deleted_after_a_later_run_died_before_its_cursor_voids_the_activity() -> None:
    """R8/R9: Ann's first run is done; she makes two meetings; her run links the first and dies before the second
    link (so before the delta cursor); she deletes the first: its activity must be voided. (The first run dying
    the same way is handled: its next pull is a snapshot, test_event_deleted_after_a_first_run_died_before_its_cursor
    _voids_the_activity.)"""
    replay(
        OnFakes,
        clean(),
        OUTLOOK_EVENT,
        ("outlook_creates_meeting", {**OUTLOOK_EVENT[1], "day": 8}),
        crash("save_link", skip=1),
        ("organizer_cancels", {"pick": 0}),
    )


def test_without_erp_series_an_occurrence_made_before_a_crash_is_relinked_when_another_is_cancelled() -> None:
    """R28 fallback/R10: Bob's Outlook series of 2 (an ERP without series); his first run made both activities and
    died after claiming the second, before its link; he then deletes the first occurrence. The second is relinked
    to the activity made for it and the first's is voided (before the fix the first's link "followed" the second
    occurrence as if the series had moved: two live activities for one occurrence, none voided)."""
    _series_replay(
        False,
        ("outlook_creates_series", {**SERIES, "owner": "bob", "count": 2}),
        crash("save_meeting", who="bob", skip=1, after=True),
        ("outlook_cancels_occurrence", {"pick": 0, "index": 0}),
    )


def test_meeting_voided_in_the_erp_after_a_first_run_died_before_its_erp_cursor_leaves_outlook() -> None:
    """R8/R4: Ann's first run made and linked the activity of her Outlook meeting, then died before it saved the
    ERP feed's cursor; a person voids the activity in the ERP: her event must leave the calendar. (Found with an
    occurrence's own activity, whose check holds Outlook's occurrences against live activities; the meetings'
    check does not look at the event of an ended meeting.)"""
    machine = OnFakes()
    try:
        for name, arguments in (OUTLOOK_EVENT, crash("save_link", after=True), ("erp_voids_meeting", {"pick": 0})):
            getattr(machine, name)(**arguments)
        machine.check_final()
        event_id = machine.meetings[0].event_id
        left = [e for e in machine.world.run(machine.world.calendar(PEOPLE["ann"].mailbox)) if e.id == event_id]
        assert not [e for e in left if not e.is_cancelled], f"the voided meeting's event stays (R8): {left}"
    finally:
        machine.world.close()


def test_outlook_series_whose_link_a_crash_lost_is_relinked_as_a_series_with_the_occurrence_moved_since() -> None:
    """R28/R10: Ann's first run made the ERP series activity of her Outlook series and died before its link; she
    then moves an occurrence. Her next run pairs the two again as a SERIES (before the fix: a single item's link,
    planned twice, or a repeated create the ERP refused for its changed body) and the move reaches the ERP."""
    _series_replay(
        True,
        ("outlook_creates_series", {**SERIES, "day": 1, "hour": 7, "minutes": 30, "count": 2}),
        crash("save_link"),
        ("outlook_moves_occurrence", {"pick": 0, "index": 1, "hour": 11}),
    )


def test_erp_series_whose_master_a_crash_left_unlinked_is_linked_once() -> None:
    """R28/R10: Ann's run made the Outlook series of her ERP series and died before its link. Her next run makes
    it again (Graph's transactionId returns the same master) and links it once (before the fix the master was also
    relinked as a single item: two links for one event, a state conflict)."""
    _series_replay(
        True,
        ("erp_creates_series", {**SERIES, "day": 1, "hour": 7, "minutes": 30, "count": 2}),
        crash("save_link"),
    )


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="R28/R8: a calendar-view delta carries no master; a series whose occurrences in the window are all "
    "cancelled has nothing in the delta, so deleting it in Outlook is never seen and its activity stays live",
)
def test_outlook_series_deleted_with_every_occurrence_cancelled_voids_its_activity() -> None:
    """R28/R8: Ann's ERP series of 2 reached Outlook; the ERP cancels both occurrences (both deleted in Outlook);
    Ann then deletes the (empty) series in Outlook: its activity must be voided."""

    def delete(machine: SyncConvergence) -> None:  # ``outlook_deletes_series`` skips a series with no occurrence
        series = machine.series[0]
        link = next(k for k in machine.world.run(machine.world.state.links_for_user("U-ANN")) if k.series)
        machine.world.run(machine.world.outlook(PEOPLE["ann"].mailbox, "DELETE", f"/events/{link.event_id}"))
        series.ended = True

    _series_replay(
        True,
        ("erp_creates_series", {**SERIES, "count": 2}),
        ("erp_cancels_occurrence", {"pick": 0, "index": 0}),
        ("erp_cancels_occurrence", {"pick": 0, "index": 1}),
        ALL_CATCH_UP,
        then=delete,
    )


def test_outlook_series_whose_claim_a_crash_left_without_its_activity_keeps_the_erps_occurrence_move() -> None:
    """R28/R10/R6: Bob's run made the ERP series activity of his Outlook series and died before its claim named
    it (so before the link); a person then moves an occurrence in the ERP. Bob's next run finds the activity by its
    origin in the ERP's feed and pairs the two again as a series, and the move reaches Outlook (before the fix the
    repeated create returned the activity and paired it as if the ERP had not changed it: the move was lost)."""
    _series_replay(
        True,
        ("outlook_creates_series", {**SERIES, "owner": "bob", "day": 4, "count": 2, "daily": True}),
        crash("claim_meeting", who="bob", skip=1),
        ("erp_moves_occurrence", {"pick": 0, "index": 0, "hour": 17}),
    )


def test_without_erp_series_a_moved_series_whose_run_died_midway_names_each_occurrences_original_start() -> None:
    """R28 fallback: Ann's Outlook series of 2 is 2 activities (an ERP without series); she moves it from 14:00 to
    07:00 on the same days; her run follows the first occurrence to its new id and dies. Her next run names each
    link's new original start, the one already followed too (before the fix it kept the old one)."""
    _series_replay(
        False,
        ("outlook_creates_series", {**SERIES, "day": 1, "hour": 14, "minutes": 30, "count": 2}),
        ALL_CATCH_UP,
        ("outlook_reshapes_series", {"pick": 0, "hour": 7, "minutes": 30, "count": 2}),
        crash("save_link", after=True),
    )
