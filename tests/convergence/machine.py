"""The convergence machine: people at both ends of three synced mailboxes, syncs that interleave and fail.

A hypothesis state machine in the manner of vdirsyncer's ``tests/unit/sync/test_sync.py``. Ann, Bob and Cy
are synced users (mailbox + ERP user with defaults); Eve is an ERP contact at a customer company whose own
mail system can answer invitations and send her own. People create, edit, answer and cancel meetings in
Outlook and in the ERP; users' syncs run one by one, in varied orders, two at once on two instances with
their port calls interleaved, or meet injected faults: Graph 503/429, ERP 503/429/502, a trap on the
service's ERP calls mid-run (with the answer lost after the ERP applied the call) and a host dying between
writes. People also edit one record twice within a second (``people_quick``), ask for, approve, move, reject
and cancel leave and edit or delete its event in Outlook (``people_leave``), make recurring series on either
side and move, cancel, reshape or delete them or one occurrence (``people_series``, with an ERP with or without
series), attach and remove files on either side (``people_files``, R18: Ann's setting on, the others' off),
and the nightly close job runs between it all (``nightly``). Whenever every user's sync has caught up,
``checks.check`` holds both systems against the model (meetings, closed meetings, leave; series:
``checks_series``); at the end, one more round writes nothing.

``world_factory`` picks the backend: ``FakeWorld`` (in-process fakes) or ``HttpWorld`` (real adapters).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from datetime import datetime
from typing import ClassVar

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

from emulators.fakes.stack import CRASHABLE, ErpTrap, SimulatedCrash, StateCrash
from shared.errors import ErpTransient, GraphTransient
from shared.sync.report import RunReport
from tests.convergence.checks import check, quiesce
from tests.convergence.checks_series import check_series
from tests.convergence.model import Meeting
from tests.convergence.nightly import NightlyJobs
from tests.convergence.people_erp import ErpPeople
from tests.convergence.people_files import FilePeople, check_files
from tests.convergence.people_leave import Leave, LeavePeople
from tests.convergence.people_quick import QuickPeople
from tests.convergence.people_series import SeriesPeople
from tests.convergence.statistics import statistic
from tests.convergence.world import PEOPLE, World

MASS_DELETE_MINIMUM = 5  # R11 halts a run at this many removals on one side; people stay below it per user
ORDER = tuple(sorted(PEOPLE))
persons = st.sampled_from(ORDER)
orders = st.permutations(ORDER)
# Where a fault hits the service's Graph calls: (method, path regex) or anywhere.
GRAPH_TARGETS = [
    (None, None),
    ("GET", r"calendarView/delta"),
    ("GET", r"/events/[^/]+$"),
    ("GET", r"/events$"),
    ("POST", r"/events$"),
    ("PATCH", r"/events/"),
    ("DELETE", r"/events/"),
    ("POST", r"/(accept|decline|tentativelyAccept)$"),
    ("GET", r"/attachments"),
    ("POST", r"/attachments$"),
]
# Where a trap springs on the service's ERP calls.
ERP_TARGETS = [
    ("GET", r"/activity-changes"),
    ("GET", r"/activities/"),
    ("POST", r"/activities$"),
    ("PATCH", r"/activities/"),
    ("POST", r"/void$"),
    ("GET", r"/users$"),
    ("POST", r"/attachments$"),
    ("GET", r"/attachments/"),
]


class SyncConvergence(
    SeriesPeople, ErpPeople, QuickPeople, LeavePeople, FilePeople, NightlyJobs, RuleBasedStateMachine
):
    world_factory: ClassVar[Callable[[], World]]

    def __init__(self) -> None:
        super().__init__()
        self.world = type(self).world_factory()
        self.meetings: list[Meeting] = []
        self.leaves: list[Leave] = []
        self.night: datetime | None = None  # the close job's last night (R29)
        self.removals: dict[tuple[str, str], int] = {}  # (user, side) -> removals since the last check (R11)
        self.settled = False  # checked equal and nothing happened since
        self.synced = set(ORDER)  # whose syncs run; Cy may start switched off (R2)

    @initialize(cy_synced=st.booleans())
    def cy_may_start_unsynced(self, cy_synced: bool) -> None:
        """Cy's calendar sync may be off at first: meetings he organises are owned by an invited colleague
        until it is on, then his mailbox takes them over (R10)."""
        if not cy_synced:
            self.world.enable(PEOPLE["cy"].user_id, False)
            self.synced.discard("cy")

    @precondition(lambda self: "cy" not in self.synced)
    @rule()
    def erp_admin_switches_cy_on(self) -> None:
        """The ERP admin switches Cy's sync on (R2): his meetings are his from his next run (R10 take-over)."""
        self.world.enable(PEOPLE["cy"].user_id, True)
        self.synced.add("cy")
        self._touch()

    def _status(self, who: str) -> set[str]:
        return {"ok"} if who in self.synced else {"unsyncable"}

    # --- the service ---

    @rule(who=persons)
    def sync_runs_clean(self, who: str) -> None:
        """One user's run on its own: it must finish (and write nothing when all was settled, R5)."""
        report = self.world.run(self.world.engine.sync_user(PEOPLE[who].user_id))
        assert report.status in self._status(who), report.summary()
        if self.settled:
            assert sum(report.done.values()) == 0, f"a run after convergence wrote (R5 echo): {report.summary()}"

    @rule(first=persons, second=persons, yields=st.lists(st.integers(0, 3), min_size=1, max_size=8))
    def two_instances_sync_at_once(self, first: str, second: str, yields: list[int]) -> None:
        """Two Functions instances run two users' syncs at the same moment, their port calls interleaved as
        ``yields`` says (R10: one meeting seen by both still makes one activity). The same user twice: the
        lease lets one through, the other is busy."""
        world = self.world
        other = world.another_instance()

        async def both() -> tuple[RunReport, RunReport]:
            return await asyncio.gather(
                world.engine.sync_user(PEOPLE[first].user_id), other.sync_user(PEOPLE[second].user_id)
            )

        world.interleave(yields)
        try:
            reports = world.run(both())
        finally:
            world.interleave([])
        for who, report in zip((first, second), reports, strict=True):
            assert report.status in self._status(who) | ({"busy"} if first == second else set()), report.summary()
            if self.settled:
                assert sum(report.done.values()) == 0, f"a run after convergence wrote (R5): {report.summary()}"

    @rule(order=orders)
    def everyone_syncs_until_quiet(self, order: tuple[str, ...]) -> None:
        """Every user's sync runs, in ``order``, until nothing changes; then both systems must agree."""
        quiesce(self.world, order, self.synced)
        self._check()

    @rule()
    def delta_tokens_expire(self) -> None:
        """R4/R9/R32: Graph forgets the delta tokens mid-life (410); each mailbox's next run pulls its window
        afresh and reads the linked events missing from it one by one: nothing is lost or duplicated."""
        self.settled = False
        self.world.run(self.world.expire_delta_tokens())

    @rule(
        who=persons, where=st.sampled_from(GRAPH_TARGETS), status=st.sampled_from([503, 429]), count=st.integers(1, 6)
    )
    def sync_meets_graph_fault(self, who: str, where: tuple[str | None, str | None], status: int, count: int) -> None:
        """Graph answers the run's matching calls 503/429 ``count`` times (retried, or the run gives up)."""
        method, path = where
        fault = {"status": status, "count": count, "method": method, "path": path}
        self.world.run(self.world.graph_fault(**fault))
        self._faulty_sync(who)

    @rule(who=persons, status=st.sampled_from([503, 429, 502]), count=st.integers(1, 6))
    def sync_meets_erp_fault(self, who: str, status: int, count: int) -> None:
        """The ERP answers the run's next ``count`` calls with ``status`` (retried, or the run gives up)."""
        self.world.run(self.world.erp_fault(status, count))
        self._faulty_sync(who)

    @rule(
        who=persons,
        where=st.sampled_from(ERP_TARGETS),
        skip=st.integers(0, 3),
        count=st.integers(1, 4),
        lost=st.booleans(),
    )
    def sync_meets_erp_fault_mid_run(self, who: str, where: tuple[str, str], skip: int, count: int, lost: bool) -> None:
        """A trap on the service's ERP calls; ``lost``: the ERP applied the call, its answer never came (R10)."""
        method, path = where
        self.world.erp_trap(ErpTrap(method=method, path=path, skip=skip, count=count, lost=lost))
        self._faulty_sync(who)

    @rule(who=persons, method=st.sampled_from(CRASHABLE), skip=st.integers(0, 3), after=st.booleans())
    def host_dies_mid_run(self, who: str, method: str, skip: int, after: bool) -> None:
        """The host dies at a state write (before or after it), e.g. between an ERP create and its link (R10)."""
        self.world.state_crash(StateCrash(method=method, skip=skip, after=after))
        self._faulty_sync(who)

    def _faulty_sync(self, who: str) -> None:
        """One run with the fault set up; a run that gives up leaves its cursors, so the next sees it all again."""
        report: RunReport | None = None
        try:
            report = self.world.run(self.world.engine.sync_user(PEOPLE[who].user_id))
        except (ErpTransient, GraphTransient, SimulatedCrash) as error:
            statistic(f"run gave up: {type(error).__name__}")
        finally:
            self.world.run(self.world.clear_faults())
            sprung = self.world.sprung()
        if report is not None:
            assert report.status in self._status(who), report.summary()
            statistic("run finished after a trap" if sprung else "run absorbed the fault (retries)")
        self.settled = False

    # --- checks ---

    def _check(self) -> None:
        series = check_series(self.world, self.series, erp_series=self.erp_series)  # R28
        check(self.world, self.meetings, self.synced, self.leaves, series)
        check_files(self)  # R18
        self.removals = {}
        self.settled = True

    def teardown(self) -> None:
        try:
            if sys.exc_info()[0] is None:  # a failing step is reported as is, not hidden behind this check
                self.check_final()
        finally:
            self.world.close()

    def check_final(self) -> None:
        """Everyone's syncs catch up and both systems agree; one more round then writes nothing (R5)."""
        quiesce(self.world, ORDER, self.synced)
        self._check()
        for person in ORDER:
            quiet = self.world.run(self.world.engine.sync_user(PEOPLE[person].user_id))
            assert sum(quiet.done.values()) == 0, f"a quiet run wrote (R5): {quiet.summary()}"

    # --- helpers for people's rules ---

    def _touch(self) -> None:
        self.settled = False

    def _may_remove(self, user_id: str, side: str) -> bool:
        """R11: people stay below the mass-delete halt, per user and side, between checks."""
        key = (user_id, side)
        if self.removals.get(key, 0) >= MASS_DELETE_MINIMUM - 1:
            return False
        self.removals[key] = self.removals.get(key, 0) + 1
        return True
