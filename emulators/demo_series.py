"""Recurring series in ``make demo`` (issue 10, R28): a recurring meeting syncing both ways, one occurrence moved.

After the other steps, while the service listens (Graph notifications, the ERP's hook): Alice makes a weekly
Outlook series and an ERP person books Bob a weekly ERP meeting series; once synced, Alice moves one occurrence
of hers in Outlook and the ERP moves one occurrence of Bob's. Checked: each series is ONE record on the other
side (an ERP activity with its recurrence; an Outlook series master), and each moved occurrence is an
exception there (an ERP exception; an Outlook occurrence of ``type: exception`` at the new time).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

ALICE, BOB = "alice@contoso.example", "bob@contoso.example"
OSLO = ZoneInfo("Europe/Oslo")
WINDOWS_ZONE = "W. Europe Standard Time"
ALICE_SERIES, BOB_SERIES = "Weekly pipeline review", "Delivery stand-up"

Check = tuple[str, str, str, bool]


class Person(Protocol):
    """What ``emulators.demo.Person`` offers: Outlook (Graph REST) and the ERP's API."""

    async def outlook(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]: ...
    async def erp_call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]: ...
    async def edit_activity(self, activity_id: str, **patch: Any) -> dict[str, Any]: ...
    async def activities(self, owner: str) -> dict[str, dict[str, Any]]: ...


def _weekly(day: date, count: int) -> dict[str, Any]:
    return {
        "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": [day.strftime("%A").lower()]},
        "range": {"type": "numbered", "startDate": day.isoformat(), "numberOfOccurrences": count},
    }


def _local(moment: datetime) -> dict[str, str]:
    return {"dateTime": moment.replace(tzinfo=None).isoformat(), "timeZone": WINDOWS_ZONE}


async def _masters(person: Person, mailbox: str, subject: str) -> list[dict[str, Any]]:
    page = await person.outlook("GET", f"/users/{mailbox}/events", params={"$top": "200"})
    return [e for e in page["value"] if e.get("type") == "seriesMaster" and subject in e.get("subject", "")]


async def _occurrences(person: Person, mailbox: str, master_id: str, today: date) -> list[dict[str, Any]]:
    start = datetime.combine(today, time(0), tzinfo=OSLO)
    page = await person.outlook(
        "GET",
        f"/users/{mailbox}/events/{master_id}/instances",
        params={"startDateTime": start.isoformat(), "endDateTime": (start + timedelta(days=40)).isoformat()},
        headers={"Prefer": f'outlook.timezone="{WINDOWS_ZONE}"'},
    )
    return sorted(page["value"], key=lambda o: o["originalStart"])


async def run_series(person: Person, today: date, settle: Callable[[], Awaitable[None]]) -> list[Check]:
    """Both series made, synced, one occurrence of each moved, synced; the checks of what each side shows."""
    alice_day, bob_day = today + timedelta(days=2), today + timedelta(days=3)
    start = datetime.combine(alice_day, time(9), tzinfo=OSLO)
    await person.outlook(
        "POST",
        f"/users/{ALICE}/events",
        json={
            "subject": ALICE_SERIES,
            "start": _local(start),
            "end": _local(start + timedelta(hours=1)),
            "recurrence": _weekly(alice_day, 4),
        },
    )
    booked = await person.erp_call(
        "POST",
        "/activities",
        json={
            "type": "meeting",
            "subject": BOB_SERIES,
            "ownerId": "U-BOB",
            "start": f"{bob_day.isoformat()}T08:30:00",
            "end": f"{bob_day.isoformat()}T09:00:00",
            "timeZone": "Europe/Oslo",
            "state": "confirmed",
            "recurrence": _weekly(bob_day, 3),
        },
        headers={"Idempotency-Key": BOB_SERIES},
    )
    await settle()
    alice_acts = [a for a in (await person.activities("U-ALICE")).values() if a["subject"] == ALICE_SERIES]
    bob_masters = await _masters(person, BOB, BOB_SERIES)
    checks: list[Check] = [
        (
            "M365→ERP",
            "series",
            f"'{ALICE_SERIES}' (4 weekly) is ONE ERP activity with its recurrence (R28)",
            len(alice_acts) == 1 and (alice_acts[0].get("recurrence") or {}).get("pattern", {}).get("type") == "weekly",
        ),
        (
            "ERP→M365",
            "series",
            f"'{BOB_SERIES}' (3 weekly) is ONE series in Bob's Outlook (R28)",
            len(bob_masters) == 1 and len(await _occurrences(person, BOB, bob_masters[0]["id"], today)) == 3,
        ),
    ]
    alice_master = (await _masters(person, ALICE, ALICE_SERIES))[0]
    second = (await _occurrences(person, ALICE, alice_master["id"], today))[1]
    moved_day = date.fromisoformat(second["start"]["dateTime"][:10])
    moved = datetime.combine(moved_day, time(13), tzinfo=OSLO)
    await person.outlook(
        "PATCH",
        f"/users/{ALICE}/events/{second['id']}",
        json={"start": _local(moved), "end": _local(moved + timedelta(hours=1))},
    )
    bob_third = bob_day + timedelta(days=14)
    await person.edit_activity(
        booked["id"],
        exceptions=[
            {
                "originalStart": f"{bob_third.isoformat()}T08:30:00",
                "start": f"{bob_third.isoformat()}T10:00:00",
                "end": f"{bob_third.isoformat()}T10:30:00",
            }
        ],
    )
    await settle()
    alice_act = next(a for a in (await person.activities("U-ALICE")).values() if a["subject"] == ALICE_SERIES)
    exceptions = alice_act.get("exceptions") or []
    bob_occurrences = await _occurrences(person, BOB, bob_masters[0]["id"], today) if bob_masters else []
    bob_moved = [o for o in bob_occurrences if o["type"] == "exception"]
    checks += [
        (
            "M365→ERP",
            "exception",
            f"one '{ALICE_SERIES}' occurrence moved to 13:00 in Outlook → an exception of the ERP series",
            [e.get("start") for e in exceptions] == [f"{moved_day.isoformat()}T13:00:00"],
        ),
        (
            "ERP→M365",
            "exception",
            f"one '{BOB_SERIES}' occurrence moved to 10:00 in the ERP → that occurrence moved in Outlook",
            len(bob_moved) == 1 and bob_moved[0]["start"]["dateTime"].startswith(f"{bob_third.isoformat()}T10:00"),
        ),
    ]
    return checks
