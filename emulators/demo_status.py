"""The admin's status page in ``make demo``: what the demo stages for it, and the page's own check.

Besides the people's everyday changes (``emulators/demo.py``), the demo tenant has things an admin must see:

- Carl deletes five of his six synced visits in Outlook at once: the run halts (R11, a halted deletion);
- Dora is enabled in the ERP but has no default company: she cannot be synced (R2);
- Alice edits a meeting whose ERP activity was released meanwhile (read-only): a conflict, with her version kept
  (R7);
- Alice books the Harbour room for an all-day "free" event; the room allows no items without a time, so the ERP
  refuses the activity (R13, a refused item).

``check_page`` then reads the page the way an admin's browser does (with the key) and says what it shows.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import httpx

from emulators.erp.seed import seed_store

STATUS_KEY = "demo-status-page-key-0123456789"
CARL, DORA, ALICE = "carl@contoso.example", "dora@contoso.example", "alice@contoso.example"
HARBOUR = "harbour@contoso.example"
ZONE = ZoneInfo("Europe/Oslo")
WINDOWS_ZONE = "W. Europe Standard Time"


class Person(Protocol):
    """What ``emulators.demo.Person`` offers: Outlook (Graph REST) and the ERP's API."""

    async def outlook(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]: ...
    async def new_event(
        self, mailbox: str, subject: str, start: datetime, minutes: int, **extra: Any
    ) -> dict[str, Any]: ...
    async def erp_call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]: ...
    async def activities(self, owner: str) -> dict[str, dict[str, Any]]: ...


def graph_users() -> list[tuple[str, str, str]]:
    """Mailboxes the Graph emulator needs for the staged problems (mail, name, kind)."""
    return [(CARL, "Carl Carlsen", "user"), (DORA, "Dora Dahl", "user"), (HARBOUR, "Harbour room", "room")]


def seed_erp(store: Any) -> None:
    seed_store(
        store,
        {
            "users": [
                {
                    "id": "U-CARL",
                    "displayName": "Carl Carlsen",
                    "email": CARL,
                    "enabled": True,
                    "defaultCompanyId": "C-OWN",
                    "defaultLocationId": "L-HQ",
                    "timeZone": "Europe/Oslo",
                },
                # R2: enabled, with a mailbox, but no default company: listed for the admin, never synced.
                {"id": "U-DORA", "displayName": "Dora Dahl", "email": DORA, "enabled": True, "timeZone": "Europe/Oslo"},
            ],
            "facilities": [
                {"id": "F-HARBOUR", "name": "Harbour room", "roomMailbox": HARBOUR, "allowsNoSpecifiedTime": False}
            ],
        },
    )


def _at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=ZONE)


async def stage_before_sync(person: Person, today: date) -> list[str]:
    """Carl's six visits, in Outlook before the service starts; their event ids."""
    created = [
        await person.new_event(CARL, f"Site visit {n}", _at(today + timedelta(days=n), 13), 60) for n in range(1, 7)
    ]
    return [str(event["id"]) for event in created]


async def stage_problems(
    person: Person, today: date, carl_events: list[str], settle: Callable[[], Awaitable[None]]
) -> None:
    """Everything above, after the demo's own checks (so they are not disturbed)."""
    board = await person.new_event(ALICE, "Board meeting", _at(today + timedelta(days=6), 10), 60)
    await settle()
    activity = (await person.activities("U-ALICE"))["Board meeting"]
    await person.erp_call(
        "POST", f"/activities/{activity['id']}/release", headers={"If-Match": f'"{activity["version"]}"'}
    )
    await person.outlook("PATCH", f"/users/{ALICE}/events/{board['id']}", json={"subject": "Board meeting (moved)"})
    day = today + timedelta(days=7)
    await person.outlook(
        "POST",
        f"/users/{ALICE}/events",
        json={
            "subject": "Stand at the trade fair",
            "isAllDay": True,
            "showAs": "free",
            "start": {"dateTime": f"{day.isoformat()}T00:00:00", "timeZone": WINDOWS_ZONE},
            "end": {"dateTime": f"{(day + timedelta(days=1)).isoformat()}T00:00:00", "timeZone": WINDOWS_ZONE},
            "attendees": [
                {"type": "resource", "emailAddress": {"address": HARBOUR, "name": "Harbour room"}},
                # A customer takes part: a meeting of only internal people would not sync at all (R26).
                {"type": "required", "emailAddress": {"address": "frida@fabrikam.example", "name": "Frida"}},
            ],
        },
    )
    for event_id in carl_events[:5]:
        await person.outlook("DELETE", f"/users/{CARL}/events/{event_id}")
    await settle()


SHOWN = {
    "a conflict (R7)": "Board meeting (moved)",
    "a refused item (R13)": "does not allow items with no specified time",
    "an unsyncable user (R2)": "missing: default company",
    "a halted deletion (R11)": "Release the deletion",
}


async def check_page(functions_url: str) -> list[tuple[str, bool]]:
    """What the page shows, read with the key as an admin's browser would; (what, shown) per item."""
    async with httpx.AsyncClient(timeout=30) as client:
        page = await client.get(f"{functions_url}/api/status", headers={"X-Status-Key": STATUS_KEY})
    body = page.text if page.status_code == 200 else ""
    people = ("Alice Adams", "Bob Berg", "Carl Carlsen", "Dora Dahl")
    ran = bool(body) and "never run" not in body and all(name in body for name in people)
    return [*((what, text in body) for what, text in SHOWN.items()), ("each user's last run", ran)]
