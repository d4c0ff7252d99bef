"""People edit both sides while sync runs fail at random: after a clean run both sides agree (R5, R6, R8, R10, R21).

A hypothesis state machine in the manner of vdirsyncer's ``tests/unit/sync/test_sync.py``: one user with ERP
defaults; Outlook and ERP people create, edit and delete meetings; sync runs are clean or meet injected 503/429
faults (Graph emulator faults, the reference ERP's faults, or a trap on the service's ERP calls mid-run, with
the answer lost after the ERP applied the call). Every clean run must leave both sides paired one to one with
equal fields; at the end a run after convergence writes nothing.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from datetime import datetime

import pytest
import stamina
from hypothesis import HealthCheck, event, reject, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule, run_state_machine_as_test
from kiota_http.middleware.retry_handler import RetryHandler

from shared.errors import ErpTransient, GraphTransient
from shared.sync.report import RunReport
from tests.convergence.model import Pair, Side
from tests.convergence.world import USER, ErpTrap, Seen, World

MASS_DELETE_MINIMUM = 5  # R11 halts a run at this many deletes on one side; the people stay below it
WORDS = ["Budget", "review", "Zürich", "visit", "Quote", "Æsir", "kick-off", "Q3", "lunch", "demo"]
subjects = st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(" ".join)
locations = st.sampled_from(["", "HQ", "Fjord room", "Teams", "Café Øst"])
days, hours = st.integers(1, 20), st.integers(7, 17)
durations = st.sampled_from([30, 60, 90])
picks = st.integers(0, 10_000)

# Where a fault hits the service's Graph calls: (method, path regex) or anywhere.
GRAPH_TARGETS = [
    (None, None),
    ("GET", r"calendarView/delta"),
    ("GET", r"/events/[^/]+$"),
    ("POST", r"/events$"),
    ("PATCH", r"/events/"),
    ("DELETE", r"/events/"),
]
# Where a trap springs on the service's ERP calls.
ERP_TARGETS = [
    ("GET", r"/activity-changes"),
    ("GET", r"/activities/"),
    ("POST", r"/activities$"),
    ("PATCH", r"/activities/"),
    ("POST", r"/void$"),
]


class SyncConvergence(RuleBasedStateMachine):
    azurite = ""  # set by the test: hypothesis builds the machine itself, so fixtures come in this way

    def __init__(self) -> None:
        super().__init__()
        self.world = World(azurite=type(self).azurite)
        self.pairs: dict[str, Pair] = {}
        self.faulted = False  # a run failed since the last clean one
        self.deletes: dict[Side, int] = {"m365": 0, "erp": 0}
        self.settled = False  # both sides were checked equal and nothing happened since

    # --- people in Outlook ---

    @rule(subject=subjects, location=locations, day=days, hour=hours, minutes=durations)
    def outlook_creates_event(self, subject: str, location: str, day: int, hour: int, minutes: int) -> None:
        self.settled = False
        start, end = self.world.when(day, hour, minutes)
        body = {
            "subject": subject,
            "location": {"displayName": location},
            "body": {"contentType": "text", "content": "from Outlook"},
            **_graph_times(start, end),
        }
        event = self.world.run(self.world.outlook("POST", "/events", json=body)).json()
        pair = Pair(key=f"E:{event['id']}", origin="m365", subject=subject, location=location, start=start, end=end)
        pair.edit("m365", subject=subject, location=location, when=(start, end))
        self.pairs[pair.key] = pair

    @rule(pick=picks, subject=subjects)
    def outlook_renames_event(self, pick: int, subject: str) -> None:
        self.settled = False
        event, pair = self._pick_event(pick)
        self.world.run(self.world.outlook("PATCH", f"/events/{event.id}", json={"subject": subject}))
        pair.edit("m365", subject=subject)

    @rule(pick=picks, location=locations.filter(bool))
    def outlook_moves_event_elsewhere(self, pick: int, location: str) -> None:
        self.settled = False
        event, pair = self._pick_event(pick)
        self.world.run(self.world.outlook("PATCH", f"/events/{event.id}", json={"location": {"displayName": location}}))
        pair.edit("m365", location=location)

    @rule(pick=picks, day=days, hour=hours, minutes=durations)
    def outlook_reschedules_event(self, pick: int, day: int, hour: int, minutes: int) -> None:
        self.settled = False
        event, pair = self._pick_event(pick)
        start, end = self.world.when(day, hour, minutes)
        self.world.run(self.world.outlook("PATCH", f"/events/{event.id}", json=_graph_times(start, end)))
        pair.edit("m365", when=(start, end))

    @precondition(lambda self: self.deletes["m365"] < MASS_DELETE_MINIMUM - 1)
    @rule(pick=picks)
    def outlook_deletes_event(self, pick: int) -> None:
        self.settled = False
        event, pair = self._pick_event(pick)
        self.world.run(self.world.outlook("DELETE", f"/events/{event.id}"))
        pair.alive = False  # R8: the ERP meeting is voided
        self.deletes["m365"] += 1

    # --- people in the ERP ---

    @rule(subject=subjects, location=locations, day=days, hour=hours, minutes=durations)
    def erp_creates_confirmed_meeting(self, subject: str, location: str, day: int, hour: int, minutes: int) -> None:
        self.settled = False
        start, end = self.world.when(day, hour, minutes)
        body = {
            "type": "meeting",
            "subject": subject,
            "description": "from the ERP",
            **({"location": location} if location else {}),
            "start": start.replace(tzinfo=None).isoformat(),
            "end": end.replace(tzinfo=None).isoformat(),
            "timeZone": "UTC",
            "ownerId": USER,
            "state": "confirmed",
        }
        key = f"person-{uuid.uuid4()}"
        activity = self.world.run(
            self.world.erp_call("POST", "/activities", json=body, headers={"Idempotency-Key": key})
        ).json()
        pair = Pair(key=f"A:{activity['id']}", origin="erp", subject=subject, location=location, start=start, end=end)
        pair.edit("erp", subject=subject, location=location)
        self.pairs[pair.key] = pair

    @rule(pick=picks, subject=subjects)
    def erp_renames_meeting(self, pick: int, subject: str) -> None:
        self.settled = False
        activity, pair = self._pick_activity(pick)
        self.world.run(self._erp_patch(activity.id, {"subject": subject}))
        pair.edit("erp", subject=subject)

    @rule(pick=picks, location=locations.filter(bool))
    def erp_moves_meeting_elsewhere(self, pick: int, location: str) -> None:
        self.settled = False
        activity, pair = self._pick_activity(pick)
        self.world.run(self._erp_patch(activity.id, {"location": location}))
        pair.edit("erp", location=location)

    @precondition(lambda self: self.deletes["erp"] < MASS_DELETE_MINIMUM - 1)
    @rule(pick=picks)
    def erp_voids_meeting(self, pick: int) -> None:
        self.settled = False
        activity, pair = self._pick_activity(pick)

        async def void() -> None:
            current = (await self.world.erp_call("GET", f"/activities/{activity.id}")).json()
            await self.world.erp_call(
                "POST", f"/activities/{activity.id}/void", headers={"If-Match": f'"{current["version"]}"'}
            )

        self.world.run(void())
        pair.alive = False  # R8: its event leaves the calendar
        self.deletes["erp"] += 1

    # --- the service ---

    @rule()
    def sync_runs_clean(self) -> None:
        report = self.world.run(self.world.services.engine.sync_user(USER))
        assert report.status == "ok", report.summary()
        if self.settled:
            assert sum(report.done.values()) == 0, f"a run after convergence wrote (R5 echo): {report.summary()}"
        self._check_converged()

    @rule(where=st.sampled_from(GRAPH_TARGETS), status=st.sampled_from([503, 429]), count=st.integers(1, 6))
    def sync_meets_graph_fault(self, where: tuple[str | None, str | None], status: int, count: int) -> None:
        method, path = where
        fault = {"status": status, "count": count, "method": method, "path": path}
        self.world.run(self.world.control(self.world.graph, "/_emulator/faults", fault))
        self._faulty_sync()

    @rule(status=st.sampled_from([503, 429, 502]), count=st.integers(1, 6))
    def sync_meets_erp_fault(self, status: int, count: int) -> None:
        self.world.run(self.world.control(self.world.erp, "_erp/faults", {"status": status, "count": count}))
        self._faulty_sync()

    @rule(where=st.sampled_from(ERP_TARGETS), skip=st.integers(0, 3), count=st.integers(1, 4), lost=st.booleans())
    def sync_meets_erp_fault_mid_run(self, where: tuple[str, str], skip: int, count: int, lost: bool) -> None:
        method, path = where
        self.world.erp_trap.trap = ErpTrap(method=method, path=path, skip=skip, count=count, lost=lost)
        self._faulty_sync()

    def _faulty_sync(self) -> None:
        try:
            report: RunReport | None = self.world.run(self.world.services.engine.sync_user(USER))
        except (ErpTransient, GraphTransient) as error:
            report = None  # the run gave up; cursors stayed, the next run sees the same changes again
            _statistic(f"run gave up: {type(error).__name__}")
        finally:
            self.world.erp_trap.trap = None
            self.world.run(self.world.clear_faults())
        assert report is None or report.status == "ok", report.summary()
        if report is not None:
            _statistic(
                "run absorbed the fault (retries)" if not self.world.erp_trap.sprung else "run finished after a trap"
            )
        self.world.erp_trap.sprung = 0
        self.faulted = True
        self.settled = False

    # --- checks ---

    def teardown(self) -> None:
        try:
            if sys.exc_info()[0] is None:  # a failing step is reported as is, not hidden behind this check
                self._check_final()
        finally:
            self.world.close()

    def _check_final(self) -> None:
        """Two clean runs repair whatever failed runs left; a run after that writes nothing (R5)."""
        first = self.world.run(self.world.services.engine.sync_user(USER))
        assert first.status == "ok", first.summary()
        self._check_converged()
        second = self.world.run(self.world.services.engine.sync_user(USER))
        self._check_converged()
        assert sum(second.done.values()) == 0, f"echo after convergence (R5): {second.summary()}"
        quiet = self.world.run(self.world.services.engine.sync_user(USER))
        assert sum(quiet.done.values()) == 0, f"a quiet run wrote (R5): {quiet.summary()}"

    def _check_converged(self) -> None:
        """Each live meeting is one event and one activity with equal fields (R10); deleted ones are gone (R8)."""
        events, activities = self.world.run(_both_sides(self.world))
        by_event, by_activity = _grouped(events), _grouped(activities)
        alive = {key: pair for key, pair in self.pairs.items() if pair.alive}
        stray = sorted((set(by_event) | set(by_activity)) - set(alive))
        assert not stray, f"records for meetings deleted or never made: {_describe(stray, by_event, by_activity)}"
        for key, pair in alive.items():
            found_events, found_activities = by_event.get(key, []), by_activity.get(key, [])
            assert len(found_events) == 1, f"{key} ({pair.origin}-born) has events {found_events}"
            assert len(found_activities) == 1, f"{key} ({pair.origin}-born) has activities {found_activities}"
            event, activity = found_events[0], found_activities[0]
            expected = pair.expected(faulted=self.faulted)
            assert activity.subject in expected.subjects, (key, activity, expected)
            assert any(m.matches(event.subject) for m in expected.event_subjects), (key, event, expected)
            if pair.origin == "m365":
                assert event.subject == activity.subject, (key, event, activity)
            assert event.location == activity.location, (key, event, activity)
            assert activity.location in expected.locations, (key, activity, expected)
            assert (event.start, event.end) == expected.when, (key, event, expected)
            assert (activity.start, activity.end) == expected.when, (key, activity, expected)
            pair.settle(subject=activity.subject, event_subject=event.subject, location=activity.location)
        self.pairs = alive
        self.faulted = False
        self.deletes = {"m365": 0, "erp": 0}
        self.settled = True

    # --- helpers ---

    def _pick_event(self, pick: int) -> tuple[Seen, Pair]:
        events = [e for e in self.world.run(self.world.live_events()) if e.pair_key in self.pairs]
        if not events:
            reject()  # nothing in Outlook to act on yet
        event = sorted(events, key=self._replayable_order)[pick % len(events)]
        return event, self.pairs[event.pair_key]

    def _pick_activity(self, pick: int) -> tuple[Seen, Pair]:
        activities = [a for a in self.world.run(self.world.live_activities()) if a.pair_key in self.pairs]
        if not activities:
            reject()  # nothing in the ERP to act on yet
        activity = sorted(activities, key=self._replayable_order)[pick % len(activities)]
        return activity, self.pairs[activity.pair_key]

    def _replayable_order(self, record: Seen) -> tuple[int, datetime, str]:
        """Ids are random on every replay; the order people made the meetings in is not (no flaky picks)."""
        return list(self.pairs).index(record.pair_key), record.start, record.subject

    async def _erp_patch(self, activity_id: str, patch: dict[str, object]) -> None:
        current = (await self.world.erp_call("GET", f"/activities/{activity_id}")).json()
        await self.world.erp_call(
            "PATCH", f"/activities/{activity_id}", json=patch, headers={"If-Match": f'"{current["version"]}"'}
        )


def _statistic(text: str) -> None:
    """Count how runs met their faults (``--hypothesis-show-statistics``); replays outside hypothesis skip it."""
    if currently_in_test_context():
        event(text)


def _graph_times(start: datetime, end: datetime) -> dict[str, object]:
    return {
        "start": {"dateTime": start.replace(tzinfo=None).isoformat(), "timeZone": "UTC"},
        "end": {"dateTime": end.replace(tzinfo=None).isoformat(), "timeZone": "UTC"},
    }


async def _both_sides(world: World) -> tuple[list[Seen], list[Seen]]:
    return await world.live_events(), await world.live_activities()


def _grouped(records: list[Seen]) -> dict[str, list[Seen]]:
    out: dict[str, list[Seen]] = {}
    for record in records:
        out.setdefault(record.pair_key, []).append(record)
    return out


def _describe(keys: list[str], events: dict[str, list[Seen]], activities: dict[str, list[Seen]]) -> str:
    return "; ".join(f"{k}: events={events.get(k, [])} activities={activities.get(k, [])}" for k in keys)


@pytest.fixture
def immediate_retries() -> Iterator[None]:
    """Retries happen (so small faults are absorbed) but without backoff sleeps: the test is about outcomes."""
    original = RetryHandler.get_delay_time
    RetryHandler.get_delay_time = lambda self, retry_count, response=None, delay=0.0: 0.0  # type: ignore[method-assign]
    try:
        with stamina.set_testing(True, attempts=3):
            yield
    finally:
        RetryHandler.get_delay_time = original  # type: ignore[method-assign]


@pytest.mark.integration
def test_both_sides_converge_after_people_edits_and_failed_runs(
    azurite_connection_string: str, immediate_retries: None
) -> None:
    """R5/R6/R8/R10/R21: whatever people did and however runs failed, a clean run pairs every live meeting once."""
    SyncConvergence.azurite = azurite_connection_string
    run_state_machine_as_test(
        SyncConvergence,
        settings=settings(
            max_examples=15,
            stateful_step_count=12,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
