"""The people's rules for quick second thoughts (issue 9): one record edited twice within one second.

In the ERP, two writes of one activity in the same second share one ``modified_at`` (the ERP keeps whole
seconds) and differ by version and feed ``seq``; in Outlook two edits within a second differ by ``changeKey``
and by ``lastModifiedDateTime``, which Graph keeps below the second. A run may come between the two edits (a
hook or a notification for the first arrives at once). Either way the sync ends with the LAST edit on both
sides (R5; R6 when the other side changed the same field too), nothing lost and nothing doubled.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from shared.core.activities import ActivityState
from shared.sync.report import RunReport
from tests.convergence.people import People, has_meetings, picks, subjects
from tests.convergence.statistics import statistic
from tests.convergence.world import BY_USER, PEOPLE, instant


class QuickPeople(People):
    """Mixed into the machine: ``synced`` and ``_status`` come from it."""

    synced: set[str]

    def _status(self, who: str) -> set[str]:
        raise NotImplementedError

    @precondition(has_meetings)
    @rule(pick=picks, first=subjects, second=subjects, run_between=st.booleans())
    def erp_renames_twice_within_a_second(self, pick: int, first: str, second: str, run_between: bool) -> None:
        """A person renames the meeting in the ERP and corrects it in the same second: two versions with one
        ``modified_at``; the second must reach Outlook even when a run took the first in between (R5)."""
        found = self._live_activity(pick)
        if found is None:
            return
        meeting, activity = found
        self._touch()
        path = f"/activities/{activity.id}"
        self.world.hold_erp_clock(datetime.now(UTC))
        try:
            one = self.world.run(self.world.erp_write(activity.id, "PATCH", path, json={"subject": first})).json()
            meeting.fields.edit("erp", subject=first)
            if run_between:
                self._run_between(BY_USER[activity.owner_id].key)
                now = next((a for a in self.world.activities() if a.id == activity.id), None)
                if now is None or now.state is ActivityState.VOIDED or now.read_only:
                    statistic("quick: the run between voided or closed it (the ERP refuses a second edit, R7)")
                    return  # e.g. its owning attendee was taken off meanwhile and the run voided it (R27)
            two = self.world.run(self.world.erp_write(activity.id, "PATCH", path, json={"subject": second})).json()
            meeting.fields.edit("erp", subject=second)
        finally:
            self.world.hold_erp_clock(None)
        assert two["version"] > one["version"], (one, two)
        statistic(f"quick: ERP edited twice in one second{', a run between' if run_between else ''}")
        if not run_between:  # the run may have written to the activity meanwhile, in the same second too
            assert (two["version"], two["modifiedAt"]) == (one["version"] + 1, one["modifiedAt"]), (one, two)

    @precondition(has_meetings)
    @rule(pick=picks, first=subjects, second=subjects, run_between=st.booleans())
    def organizer_renames_twice_within_a_second(self, pick: int, first: str, second: str, run_between: bool) -> None:
        """The organizer renames the meeting in Outlook and again within the second: the second edit is the one
        both sides show (R5; R21: an ERP-born meeting's subject does not flow back, its title stays typed)."""
        found = self._organizer_event(pick)
        if found is None:
            return
        meeting, mailbox, event = found
        self._touch()
        path = f"/events/{event.id}"
        one = self.world.run(self.world.outlook(mailbox, "PATCH", path, json={"subject": first})).json()
        meeting.fields.edit("m365", subject=first)
        if run_between and meeting.organizer is not None:
            self._run_between(meeting.organizer)
        two = self.world.run(self.world.outlook(mailbox, "PATCH", path, json={"subject": second})).json()
        meeting.fields.edit("m365", subject=second)
        if meeting.origin == "external":  # Eve's update re-sends every shared field to the copies
            meeting.fields.edit("m365", location=event.location, when=(event.start, event.end))
        assert two["changeKey"] != one["changeKey"], (one, two)
        assert _modified(two) > _modified(one), f"Graph keeps lastModifiedDateTime below the second: {one}, {two}"
        statistic(f"quick: Outlook edited twice in one second{', a run between' if run_between else ''}")

    def _run_between(self, who: str) -> None:
        """The run a hook or notification for the first edit starts at once."""
        report: RunReport = self.world.run(self.world.engine.sync_user(PEOPLE[who].user_id))
        assert report.status in self._status(who), report.summary()


def _modified(event: dict[str, Any]) -> datetime:
    return instant(str(event["lastModifiedDateTime"]), "UTC")
