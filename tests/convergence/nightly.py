"""The nightly close job in the machine (R29), and what the checks hold of the meetings it closed (R7).

The job runs at a drawn night (each later than the last: time only moves forward), between people's edits and
the users' syncs. That night it closes exactly the activities the sync created from Outlook events (they have an
``origin``) that have ended, whose owner is enabled, ended within its look-back and are not read-only yet; it
never closes one made in the ERP. A closed activity is read-only: people in the ERP can no longer change it, and
an Outlook edit of its event is an R7 conflict (the ERP record stays as it was, the event is marked, the Outlook
version kept for the admin), never a loss and never a ping-pong.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule
from pydantic import ValidationError

from shared.core.activities import Activity, ActivityState
from shared.core.m365 import M365Event
from shared.core.policy import SyncPolicy
from shared.state.model import Issue, IssueKind
from shared.sync.report import RunReport
from tests.convergence.model import Closed, Meeting
from tests.convergence.statistics import statistic
from tests.convergence.world import BY_USER, PEOPLE, SeenEvent, World, activity_when

CONFLICT_CATEGORY = SyncPolicy().conflict_category


def has_outlook_meetings(machine: Any) -> bool:
    """Meetings made in Outlook, which the sync makes activities the job may close, are under way, and no series
    people made: the job now leaves a series open until its last occurrence ended (``core.closing``,
    test_close_job_leaves_a_series_with_occurrences_to_come_open), but the series checks (``checks_series``) do not
    know closed series yet, nor does ``_closed`` map a series activity to what people made."""
    return any(m.origin != "erp" and m.closed is None for m in machine.meetings) and not machine.series


class NightlyJobs:
    """Mixed into the machine: ``world``, ``meetings``, ``synced`` and ``_touch`` come from it."""

    world: World
    meetings: list[Meeting]
    synced: set[str]
    night: datetime | None

    def _touch(self) -> None:
        raise NotImplementedError

    @precondition(has_outlook_meetings)
    @rule(pick=st.integers(0, 10_000), hours=st.integers(0, 47))
    def close_job_runs_at_night(self, pick: int, hours: int) -> None:
        """R29: the daily close job, ``hours`` after an activity made from Outlook ends (or after tomorrow
        begins, when the sync made none yet); time only moves forward from one night to the next. It closes
        every activity it should (nothing else runs meanwhile)."""
        self._close(pick, hours)

    @precondition(has_outlook_meetings)
    @rule(
        pick=st.integers(0, 10_000),
        hours=st.integers(0, 47),
        who=st.sampled_from(sorted(PEOPLE)),
        yields=st.lists(st.integers(0, 3), min_size=1, max_size=8),
    )
    def close_job_runs_while_a_sync_runs(self, pick: int, hours: int, who: str, yields: list[int]) -> None:
        """R29 under the user's lease: the job and a user's sync on another instance at once, their calls
        interleaved as ``yields`` says. The job leaves a user whose run holds the lease (and an activity that
        changed since its snapshot) for the next night; what it closes is still only what it should."""
        self._close(pick, hours, alongside=who, yields=yields)

    def _close(self, pick: int, hours: int, *, alongside: str | None = None, yields: Sequence[int] = ()) -> None:
        before = {a.id: a for a in self.world.activities()}
        ends = sorted(activity_when(a)[1] for a in before.values() if a.origin is not None and not a.read_only)
        night = (ends[pick % len(ends)] if ends else self.world.today + timedelta(days=1)) + timedelta(hours=hours)
        night = max(night, self.night or night)
        self.night = night
        if alongside is None:
            counts = self.world.run(self.world.close_job(night))
        else:
            counts = self._close_alongside(night, alongside, yields)
        assert not counts.get("users failed"), f"the close job failed for a user: {counts}"
        if alongside is None:
            assert not counts.get("users busy"), f"the close job found a user busy with no run under way: {counts}"
        lookback = timedelta(days=self.world.services().settings.sync_close_lookback_days)
        enabled = {PEOPLE[p].user_id for p in self.synced}
        for activity in self.world.activities():
            was = before.get(activity.id, activity)
            where = f"activity {activity.id} ({was.subject!r}, origin {was.origin}, owner {was.owner_id})"
            end = activity_when(was)[1]
            if activity.state is ActivityState.CLOSED and was.state is not ActivityState.CLOSED:
                assert was.origin is not None, f"{where}: closed, though made in the ERP (R29)"
                assert end <= night, f"{where}: closed before it ended ({end} > {night}) (R29)"
                assert was.owner_id in enabled, f"{where}: closed for a user not enabled (R2)"
                self._closed(activity, where)
                continue
            eligible = was.origin is not None and not was.read_only and was.owner_id in enabled
            if alongside is None:
                assert not (eligible and night - lookback < end <= night), f"{where}: ended, yet left open (R29)"

    def _close_alongside(self, night: datetime, who: str, yields: Sequence[int]) -> dict[str, int]:
        world = self.world
        other = world.another_instance()

        async def both() -> tuple[dict[str, int], RunReport]:
            return await asyncio.gather(world.close_job(night), other.sync_user(PEOPLE[who].user_id))

        world.interleave(yields)
        try:
            counts, report = world.run(both())
        finally:
            world.interleave([])
        # The job holds the user's lease while it works for them: the run may find it busy (queued again).
        assert report.status in ({"ok"} if who in self.synced else {"unsyncable"}) | {"busy"}, report.summary()
        self._touch()  # the sync may have written
        statistic(f"nightly: close job alongside a run: run {report.status}, job {sorted(counts)}")
        return counts

    def _closed(self, activity: Activity, where: str) -> None:
        ical = activity.origin.ical_uid if activity.origin else None
        meeting = next((m for m in self.meetings if ical and m.ical_uid == ical), None)
        assert meeting is not None, f"{where}: closed, yet no meeting explains it (R10)"
        meeting.closed = Closed(activity.id, activity.subject, activity.location, activity_when(activity))
        self._touch()
        statistic(f"nightly: closed an activity of a meeting made in {meeting.origin}")


def check_closed(
    meeting: Meeting, live: Sequence[Activity], event: SeenEvent | None, issues: Sequence[Issue], where: str
) -> None:
    """The closed meeting's one activity is as the job closed it (R7: the ERP record stays); where its owner's
    event shows other fields since, that is a conflict the admin sees, with the event marked (R7, R31)."""
    closed = meeting.closed
    assert closed is not None
    assert [a.id for a in live] == [closed.activity_id], f"{where}: closed as {closed.activity_id}, yet live {live}"
    activity = live[0]
    assert activity.state is ActivityState.CLOSED, f"{where}: closed, now {activity.state.value}"
    shows = (activity.subject, activity.location, activity_when(activity))
    assert shows == (closed.subject, closed.location, closed.when), f"{where}: a closed activity changed: {shows}"
    if event is None:
        return
    owner = BY_USER[activity.owner_id].key
    conflicts = [
        i for i in issues if i.kind is IssueKind.CONFLICT and closed.activity_id in (i.activity_id, i.event_id)
    ] or [i for i in issues if i.kind is IssueKind.CONFLICT and i.event_id == event.id]
    if event.is_cancelled or event.response == "declined":  # R8/R27 would void it: refused, a conflict (R7)
        assert conflicts, f"{where}: {owner}'s event {event} ended the closed meeting, no conflict listed (R7)"
        return
    if (event.subject, event.location, (event.start, event.end)) == shows:
        return
    statistic("checked: Outlook edit of a closed meeting kept as a conflict")
    assert conflicts, f"{where}: {owner}'s event {event} differs from the closed activity, no conflict listed (R7)"
    outlook = (event.subject, event.location, (event.start, event.end))
    differing = [i for i in range(3) if outlook[i] != shows[i]]
    kept = [_kept(issue) for issue in conflicts]
    assert any(k is not None and all(k[i] == outlook[i] for i in differing) for k in kept), (
        f"{where}: no listed conflict keeps what Outlook shows apart from the closed activity {event} (R7: nothing "
        f"is lost): {kept}"
    )
    assert CONFLICT_CATEGORY in event.categories, f"{where}: the conflicting event is not marked (R7): {event}"


def _kept(issue: Issue) -> tuple[str, str, tuple[datetime, datetime]] | None:
    """The Outlook version a conflict keeps (R7): its event's subject, location and times."""
    try:
        kept = M365Event.model_validate_json(issue.payload or "")
    except ValidationError:
        return None
    return kept.subject, kept.location, (kept.start.astimezone(UTC), kept.end.astimezone(UTC))
