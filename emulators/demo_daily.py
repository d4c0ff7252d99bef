"""Leave requests and the nightly jobs in ``make demo`` (issue 11: R29, R30).

Staged before the first sync: Alice's stand-up this morning (an Outlook event that has ended), Bob's approved
vacation (all day, three dates) and a leave request he has not had decided yet. After the people's changes the
demo fires ``daily_close`` and ``daily_cleanup`` through the host, as their timers would at night, and checks:
Bob's vacation is an out-of-office event and the undecided request is not on his calendar; the stand-up's ERP
meeting was closed by the close job and the other activities were not; both jobs' last runs are recorded.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from shared.composition import services

ALICE, BOB = "alice@contoso.example", "bob@contoso.example"
OSLO = ZoneInfo("Europe/Oslo")  # the demo people's zone (their events are written as Oslo wall clocks)
STAND_UP = "Stand-up"
VACATION = "Vacation: Autumn break"

Check = tuple[str, str, str, bool]


class Person(Protocol):
    """What ``emulators.demo.Person`` offers: Outlook (Graph REST) and the ERP's API."""

    async def new_event(
        self, mailbox: str, subject: str, start: datetime, minutes: int, **extra: Any
    ) -> dict[str, Any]: ...
    async def events(self, mailbox: str) -> dict[str, dict[str, Any]]: ...
    async def erp_call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]: ...
    async def activities(self, owner: str) -> dict[str, dict[str, Any]]: ...


class Host(Protocol):
    async def run_timer(self, name: str, *, past_due: bool = False) -> None: ...


async def stage_before_sync(person: Person, today: date) -> bool:
    """Alice's stand-up that ended this morning and Bob's leave requests; False when the demo runs so soon after
    midnight UTC that no meeting can have ended inside the sync window (R4): the close check is then skipped."""
    start = datetime.now(OSLO).replace(second=0, microsecond=0) - timedelta(minutes=50)
    ended_today = start.astimezone(UTC).date() == datetime.now(UTC).date()
    if ended_today:
        await person.new_event(ALICE, STAND_UP, start, 30)
    first = today + timedelta(days=6)
    for status, kind in (("approved", "Vacation"), ("requested", "Training")):
        await person.erp_call(
            "POST",
            "/leave-requests",
            json={
                "userId": "U-BOB",
                "leaveType": kind,
                "description": "Autumn break" if kind == "Vacation" else "",
                "start": f"{first.isoformat()}T00:00:00",
                "end": f"{(first + timedelta(days=3)).isoformat()}T00:00:00",
                "timeZone": "Europe/Oslo",
                "allDay": True,
                "status": status,
            },
        )
    return ended_today


async def run_jobs(
    person: Person, host: Host, settle: Callable[[], Awaitable[None]], *, closeable: bool
) -> list[Check]:
    """Fire both nightly jobs now and check what they and the leave sync did."""
    await settle()
    bob = await person.events(BOB)
    vacation = bob.get(VACATION, {})
    await host.run_timer("daily_close")
    await host.run_timer("daily_cleanup")
    activities = await person.activities("U-ALICE")
    states = {subject: a["state"] for subject, a in activities.items()}
    others_open = all(state != "closed" for subject, state in states.items() if subject != STAND_UP)
    jobs = {job.name: job for job in await (await services()).state.job_runs()}
    closed = jobs["daily_close"].counts.get("closed", 0) if "daily_close" in jobs else 0
    cleanup = jobs.get("daily_cleanup")
    return [
        (
            "ERP→M365",
            "leave",
            f"Bob's approved leave is an all-day out-of-office event {VACATION!r} (R30)",
            vacation.get("isAllDay") is True and vacation.get("showAs") == "oof",
        ),
        ("ERP→M365", "leave", "his undecided training request is not on his calendar (R30)", "Training" not in bob),
        (
            "job",
            "closed" if closeable else "skipped",
            f"daily_close closed the ended {STAND_UP!r} meeting from Outlook, nothing else (R29): closed={closed}",
            ((states.get(STAND_UP) == "closed" and closed == 1) or not closeable) and others_open,
        ),
        (
            "job",
            "cleaned",
            "daily_cleanup ran; its counts are on the status page: "
            + (
                ", ".join(f"{k}={v}" for k, v in sorted(cleanup.counts.items())) or "nothing old yet"
                if cleanup
                else "-"
            ),
            cleanup is not None and cleanup.outcome == "ok",
        ),
    ]
