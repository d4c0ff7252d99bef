"""The people's rules for recurring series (R28): made in Outlook or in the ERP, a single occurrence moved or
cancelled on either side, the whole series renamed or given other times or another number of occurrences,
deleted in Outlook or voided in the ERP.

The ERP may hold series (``GET /capabilities``: ``series: true``, the reference ERP's default) or not: drawn once
per machine run (``erp_may_hold_no_series``). Without series, a person cannot make one in the ERP (it refuses a
recurrence) and each occurrence of an Outlook series is an activity of its own, which people move or void.
Series repeat in Oslo time (R12) and stay inside the sync window (R4), a few occurrences each.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import strategies as st
from hypothesis.stateful import initialize, precondition, rule

from tests.convergence.model_series import CANCELLED, ZONE, Series
from tests.convergence.people import durations, hours, persons, picks, subjects
from tests.convergence.people_series_erp import (
    SeriesErpPeople,
    counts,
    first_days,
    has_series,
    recurrence,
)
from tests.convergence.series_world import instances, master, utc, wall
from tests.convergence.world import PEOPLE

# REMOVALS_ONCE_CHECKED: people delete a series or one of its occurrences in Outlook only once the check saw its
# current occurrences: a run that linked new occurrence ids and died before its delta cursor leaves the old token,
# which never reports those ids removed (pinned in test_found_by_the_machine, for meetings as well).


class SeriesPeople(SeriesErpPeople):
    """Mixed into the machine first, with the ERP's rules (``SeriesErpPeople``)."""

    def __init__(self) -> None:
        super().__init__()
        self.series: list[Series] = []
        self.erp_series = True  # the reference ERP holds series unless drawn otherwise

    @initialize(erp_series=st.booleans())
    def erp_may_hold_no_series(self, erp_series: bool) -> None:
        """R28: the ERP may hold no series (``GET /capabilities`` says so before any run): Outlook series then
        reach it as one activity per occurrence in the window."""
        self.erp_series = erp_series
        self.world.store.series = erp_series

    # --- making series ---

    @rule(
        owner=persons,
        subject=subjects,
        day=first_days,
        hour=hours,
        minutes=durations,
        daily=st.booleans(),
        count=counts,
    )
    def outlook_creates_series(
        self, owner: str, subject: str, day: int, hour: int, minutes: int, daily: bool, count: int
    ) -> None:
        """A synced person makes a recurring appointment in Outlook (Oslo time): one ERP series activity, or one
        activity per occurrence for an ERP without series (R28)."""
        if owner not in self.synced:
            return
        start, end = self._series_first(day, hour, minutes)
        body = {
            "subject": subject,
            "body": {"contentType": "text", "content": "from Outlook"},
            "start": {"dateTime": wall(start, ZONE), "timeZone": ZONE},
            "end": {"dateTime": wall(end, ZONE), "timeZone": ZONE},
            "recurrence": recurrence(start, daily, count),
        }
        made = self.world.run(self.world.outlook(PEOPLE[owner].mailbox, "POST", "/events", json=body)).json()
        self._touch()
        self.series.append(
            Series(len(self.series), "m365", owner, daily, subject, (start, end, count), master_id=made["id"])
        )

    # --- in Outlook ---

    @precondition(has_series)
    @rule(pick=picks, index=picks, hour=hours)
    def outlook_moves_occurrence(self, pick: int, index: int, hour: int) -> None:
        """The owner moves one occurrence to another hour of its day in Outlook (an exception): the ERP series
        gets the exception, or the occurrence's own activity moves (R28)."""
        found = self._outlook_occurrence(pick, index)
        if found is None:
            return
        series, mailbox, occurrence = found
        start = utc(datetime.fromisoformat(wall(occurrence.original, ZONE)).replace(hour=hour), ZONE)
        end = start + (occurrence.end - occurrence.start)
        patch = {
            "start": {"dateTime": wall(start, ZONE), "timeZone": ZONE},
            "end": {"dateTime": wall(end, ZONE), "timeZone": ZONE},
        }
        self._touch()
        self.world.run(self.world.outlook(mailbox, "PATCH", f"/events/{occurrence.id}", json=patch))
        series.edit_occurrence("m365", occurrence.original, (start, end))

    @precondition(has_series)
    @rule(pick=picks, index=picks)
    def outlook_cancels_occurrence(self, pick: int, index: int) -> None:
        """The owner deletes one occurrence in Outlook: a cancelled exception of the ERP series, or its own
        activity voided (R28, R8). Only once the sync has seen the series' current pattern (R28's "not yet": an
        occurrence cancelled before that is not seen as cancelled; and ``REMOVALS_ONCE_CHECKED``)."""
        found = self._outlook_occurrence(pick, index)
        if found is None:
            return
        series, mailbox, occurrence = found
        if not series.checked or (self.erp_series and not series.seen):
            return
        if not self.erp_series and not self._may_remove_some(PEOPLE[series.owner].user_id, "m365", 1):
            return
        self._touch()
        self.world.run(self.world.outlook(mailbox, "DELETE", f"/events/{occurrence.id}"))
        series.edit_occurrence("m365", occurrence.original, CANCELLED)

    @precondition(has_series)
    @rule(pick=picks, subject=subjects)
    def outlook_renames_series(self, pick: int, subject: str) -> None:
        """The owner renames a series made in Outlook: its activity (or each occurrence's) follows (R28, R5; an
        ERP-born series' subject does not flow back, R21, so those are left alone). Only while one occurrence
        in the window is plain (every one, for an ERP without series): a calendar-view delta carries no master,
        and the rename shows on the exceptions with no new changeKey, so no delta carries it for them (pinned in
        test_found_by_the_machine)."""
        found = self._outlook_master(pick)
        if found is None or found[0].origin != "m365":
            return
        series, mailbox, master_id = found
        shown = self.world.run(instances(self.world, series.owner, master_id))
        if not any(o.kind == "occurrence" for o in shown):
            return  # the delta would carry nothing of the rename (test_found_by_the_machine: no plain occurrence)
        if not self.erp_series and any(o.kind == "exception" for o in shown):
            return  # each occurrence's activity follows its own delta entry, and an exception gets none
        self._touch()
        self.world.run(self.world.outlook(mailbox, "PATCH", f"/events/{master_id}", json={"subject": subject}))
        series.edit("m365", subject=subject)

    @precondition(has_series)
    @rule(pick=picks, hour=hours, minutes=durations, count=counts)
    def outlook_reshapes_series(self, pick: int, hour: int, minutes: int, count: int) -> None:
        """The owner gives the whole series another hour, length and number of occurrences in Outlook (Graph
        resets its exceptions): the same activity takes them, or the same activities follow their occurrences
        by position (R28). Without series in the ERP, not once an occurrence was cancelled (or dropped by fewer
        occurrences): a change of the series brings it back and the sync relinks it to its voided activity (pinned
        in test_found_by_the_machine)."""
        found = self._outlook_master(pick)
        if found is None:
            return
        series, mailbox, master_id = found
        if not self.erp_series and series.cancelled_once:
            return  # pinned in test_found_by_the_machine: the cancelled occurrence comes back linked to its void
        shown = self.world.run(master(self.world, series.owner, master_id))
        if shown is None:
            return
        first = datetime.fromisoformat(shown["recurrence"]["range"]["startDate"])
        start = utc(first.replace(hour=hour), ZONE)
        end = start + timedelta(minutes=minutes)
        now = len(self.world.run(instances(self.world, series.owner, master_id)))
        if not self.erp_series and count < now and not series.checked:
            return  # its occurrences dropped are removals: see ``REMOVALS_ONCE_CHECKED``
        if not self.erp_series and not self._may_remove_some(PEOPLE[series.owner].user_id, "m365", now - count):
            return
        recurrence = shown["recurrence"]
        recurrence = {**recurrence, "range": {**recurrence["range"], "numberOfOccurrences": count}}
        patch = {
            "start": {"dateTime": wall(start, ZONE), "timeZone": ZONE},
            "end": {"dateTime": wall(end, ZONE), "timeZone": ZONE},
            "recurrence": recurrence,
        }
        self._touch()
        self.world.run(self.world.outlook(mailbox, "PATCH", f"/events/{master_id}", json=patch))
        series.edit("m365", shape=(start, end, count))
        # Without series in the ERP, occurrences dropped are voided like cancelled ones, and come back the same way.
        series.cancelled_once = series.cancelled_once or (not self.erp_series and count < now)

    @precondition(has_series)
    @rule(pick=picks)
    def outlook_deletes_series(self, pick: int) -> None:
        """The owner deletes the whole series in Outlook: its activity is voided, or every occurrence's (R28, R8)."""
        found = self._outlook_master(pick)
        if found is None:
            return
        series, mailbox, master_id = found
        if not series.checked:
            return  # see ``REMOVALS_ONCE_CHECKED``
        if self.erp_series and not self.world.run(instances(self.world, series.owner, master_id)):
            return  # no occurrence left: no delta carries the deletion (pinned in test_found_by_the_machine)
        removals = 1 if self.erp_series else len(self._occurrence_links(series))
        if not self._may_remove_some(PEOPLE[series.owner].user_id, "m365", removals):
            return
        self._touch()
        self.world.run(self.world.outlook(mailbox, "DELETE", f"/events/{master_id}"))
        series.ended = True
