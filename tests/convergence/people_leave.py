"""The people's rules for leave requests (R30): an employee asks for leave in the ERP, a manager approves or
rejects it, dates change, it is cancelled; in Outlook the requester edits or deletes the out-of-office event.

The ERP owns leave: an approved request is one out-of-office event in the requester's mailbox, on its dates,
titled "<Leave type>: <description>"; anything else shows nothing, and an Outlook edit or delete is put back.
The model (``Leave``) keeps only which request is whose and the status people gave it; what the request says
(dates, type) is read from the ERP at the check (``checks_leave``), as the sync reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from shared.core.activities import LeaveStatus
from tests.convergence.people import _graph_times, days, hours, persons, picks
from tests.convergence.world import PEOPLE, SeenEvent, World

leave_types = st.sampled_from(["Vacation", "Sick leave", "Training"])
descriptions = st.sampled_from(["", "Christmas", "Kid's birthday", "Ærø trip"])
lengths = st.integers(1, 3)
zones = st.sampled_from(["Europe/Oslo", "UTC"])
OPEN = (LeaveStatus.REQUESTED, LeaveStatus.APPROVED)  # a rejected or cancelled request is done with


@dataclass
class Leave:
    """One leave request as people made it: whose, and the status they gave it last."""

    number: int
    id: str
    requester: str
    status: LeaveStatus


def has_leave(machine: Any) -> bool:
    return bool(machine.leaves)


class LeavePeople:
    """Mixed into the machine: ``world``, ``leaves``, ``_touch`` and ``_may_remove`` come from it."""

    world: World
    leaves: list[Leave]

    def _touch(self) -> None:
        raise NotImplementedError

    def _may_remove(self, user_id: str, side: str) -> bool:
        raise NotImplementedError

    @rule(
        who=persons,
        leave_type=leave_types,
        description=descriptions,
        day=days,
        length=lengths,
        half_day=st.booleans(),
        zone=zones,
        approved=st.booleans(),
    )
    def employee_asks_for_leave(
        self,
        who: str,
        leave_type: str,
        description: str,
        day: int,
        length: int,
        half_day: bool,
        zone: str,
        approved: bool,
    ) -> None:
        """A person records leave in the ERP, all day over ``length`` dates or a morning off, requested or
        approved at once (R30: only an approved request is shown, as out of office)."""
        self._touch()
        body = {
            "userId": PEOPLE[who].user_id,
            "leaveType": leave_type,
            "description": description,
            **_dates(self.world, day, length, half_day),
            "timeZone": zone,
            "allDay": not half_day,
            "status": "approved" if approved else "requested",
        }
        made = self.world.run(self.world.erp_call("POST", "/leave-requests", json=body)).json()
        status = LeaveStatus.APPROVED if approved else LeaveStatus.REQUESTED
        self.leaves.append(Leave(len(self.leaves), made["id"], who, status))

    @precondition(has_leave)
    @rule(pick=picks)
    def manager_approves_leave(self, pick: int) -> None:
        """R30: the approved request appears in the requester's mailbox."""
        self._decide(pick, LeaveStatus.APPROVED, among=(LeaveStatus.REQUESTED,))

    @precondition(has_leave)
    @rule(pick=picks)
    def manager_rejects_leave(self, pick: int) -> None:
        """R30: a rejected request never shows (or leaves the calendar if it was approved before)."""
        self._decide(pick, LeaveStatus.REJECTED, among=OPEN)

    @precondition(has_leave)
    @rule(pick=picks)
    def employee_cancels_leave(self, pick: int) -> None:
        """R30: a cancelled request's event leaves the calendar."""
        self._decide(pick, LeaveStatus.CANCELLED, among=OPEN)

    @precondition(has_leave)
    @rule(pick=picks, day=days, length=lengths, half_day=st.booleans())
    def leave_dates_change(self, pick: int, day: int, length: int, half_day: bool) -> None:
        """The request's dates change in the ERP: its one event moves with it (R14, R30)."""
        leave = self._pick(pick, OPEN)
        if leave is None:
            return
        self._touch()
        patch = {**_dates(self.world, day, length, half_day), "allDay": not half_day}
        self.world.run(self._patch(leave, patch))

    @precondition(has_leave)
    @rule(pick=picks, subject=st.sampled_from(["Out", "Busy elsewhere"]), hour=hours)
    def requester_edits_leave_event(self, pick: int, subject: str, hour: int) -> None:
        """The requester renames and moves their leave event in Outlook: the next run puts it back (R30)."""
        found = self._leave_event(pick)
        if found is None:
            return
        mailbox, event = found
        self._touch()
        start = self.world.today + timedelta(days=2, hours=hour)
        patch = {"subject": subject, "isAllDay": False, **_graph_times(start, start + timedelta(hours=1))}
        self.world.run(self.world.outlook(mailbox, "PATCH", f"/events/{event.id}", json=patch))

    @precondition(has_leave)
    @rule(pick=picks)
    def requester_deletes_leave_event(self, pick: int) -> None:
        """The requester deletes their leave event in Outlook: the ERP still says approved, so it is put back
        (R30; never a removal of the request, R23)."""
        found = self._leave_event(pick)
        if found is None:
            return
        mailbox, event = found
        self._touch()
        self.world.run(self.world.outlook(mailbox, "DELETE", f"/events/{event.id}"))

    # --- helpers ---

    def _decide(self, pick: int, status: LeaveStatus, *, among: tuple[LeaveStatus, ...]) -> None:
        leave = self._pick(pick, among)
        if leave is None:
            return
        if leave.status is LeaveStatus.APPROVED and not self._may_remove(PEOPLE[leave.requester].user_id, "leave"):
            return  # R11: people stay below the mass-removal halt between checks
        self._touch()
        self.world.run(self._patch(leave, {"status": status.value}))
        leave.status = status

    def _pick(self, pick: int, among: tuple[LeaveStatus, ...]) -> Leave | None:
        candidates = [leave for leave in self.leaves if leave.status in among]
        return candidates[pick % len(candidates)] if candidates else None

    async def _patch(self, leave: Leave, patch: dict[str, object]) -> None:
        """A write at the request's current version (If-Match), as the ERP's screen does it."""
        version = self.world.store.get_leave_request(leave.id).version
        path = f"/leave-requests/{leave.id}"
        await self.world.erp_call("PATCH", path, json=patch, headers={"If-Match": f'"{version}"'})

    def _leave_event(self, pick: int) -> tuple[str, SeenEvent] | None:
        """An approved request's event in its requester's mailbox, once the sync made it."""
        leave = self._pick(pick, (LeaveStatus.APPROVED,))
        if leave is None:
            return None
        mailbox = PEOPLE[leave.requester].mailbox
        events = self.world.run(self.world.calendar(mailbox))
        found = [e for e in events if e.stamp == f"leave:{leave.id}"]
        return (mailbox, found[0]) if found else None


def _dates(world: World, day: int, length: int, half_day: bool) -> dict[str, str]:
    """Wall-clock start and end of the request: midnights ``length`` dates apart, or 08:00 to 12:00 that day."""
    start = (world.today + timedelta(days=day)).replace(tzinfo=None)
    if half_day:
        return {"start": (start + timedelta(hours=8)).isoformat(), "end": (start + timedelta(hours=12)).isoformat()}
    return {"start": start.isoformat(), "end": (start + timedelta(days=length)).isoformat()}
