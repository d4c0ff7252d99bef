"""Shared steps of the series tests (R28): a person's Outlook and ERP, on the in-process fakes (``FakeStack``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

import httpx

from emulators.fakes.stack import FakeStack
from shared.sync.report import RunReport


class People(Protocol):
    """A person's Outlook and ERP screens: ``FakeStack`` and the HTTP stack (``emulators.stack``) both are."""

    async def outlook(self, method: str, path: str, **kwargs: Any) -> httpx.Response: ...

    async def erp_call(self, method: str, path: str, **kwargs: Any) -> httpx.Response: ...


MAILBOX = "ann@contoso.example"
USER = "U-ANN"
ZONE = "Europe/Oslo"


def first_day(days: int = 2) -> date:
    return (datetime.now(UTC) + timedelta(days=days)).date()


@asynccontextmanager
async def fake_stack(*, series: bool = True) -> AsyncIterator[FakeStack]:
    stack = await FakeStack.start(series=series)
    try:
        await stack.add_person(user_id=USER, mailbox=MAILBOX, name="Ann", time_zone=ZONE)
        yield stack
    finally:
        await stack.aclose()


async def sync(stack: FakeStack) -> RunReport:
    report = await stack.engine.sync_user(USER)
    assert report.status == "ok", report
    assert not report.issues, report.issues
    return report


def writes(report: RunReport) -> dict[str, int]:
    """What a run wrote (counts by kind), without the bookkeeping of remembering."""
    return {k: v for k, v in report.done.items() if v}


def weekly(day: date, count: int = 3) -> dict[str, Any]:
    return {
        "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": [day.strftime("%A").lower()]},
        "range": {"type": "numbered", "startDate": day.isoformat(), "numberOfOccurrences": count},
    }


async def outlook_series(stack: People, subject: str = "Weekly check-in", *, day: date | None = None) -> str:
    """A weekly series of 3 occurrences, 10:00-11:00 Oslo time, made in Outlook; its master's id."""
    day = day or first_day()
    body = {
        "subject": subject,
        "body": {"contentType": "text", "content": "from Outlook"},
        "start": {"dateTime": f"{day.isoformat()}T10:00:00", "timeZone": ZONE},
        "end": {"dateTime": f"{day.isoformat()}T11:00:00", "timeZone": ZONE},
        "recurrence": weekly(day),
    }
    return str((await stack.outlook("POST", f"/users/{MAILBOX}/events", json=body)).json()["id"])


async def occurrences(stack: People, master_id: str) -> list[dict[str, Any]]:
    start = datetime.now(UTC) - timedelta(days=1)
    params = {"startDateTime": start.isoformat(), "endDateTime": (start + timedelta(days=60)).isoformat()}
    found = await stack.outlook("GET", f"/users/{MAILBOX}/events/{master_id}/instances", params=params)
    return sorted(found.json()["value"], key=lambda o: o["originalStart"])


async def calendar(stack: People) -> list[dict[str, Any]]:
    """The mailbox's calendar view over the window (singles, occurrences, exceptions)."""
    start = datetime.now(UTC) - timedelta(days=1)
    params = {"startDateTime": start.isoformat(), "endDateTime": (start + timedelta(days=60)).isoformat()}
    found = await stack.outlook("GET", f"/users/{MAILBOX}/calendarView", params={**params, "$top": "200"})
    return list(found.json()["value"])


async def masters(stack: People) -> list[dict[str, Any]]:
    events = (await stack.outlook("GET", f"/users/{MAILBOX}/events", params={"$top": "100"})).json()["value"]
    return [e for e in events if e.get("type") == "seriesMaster"]


async def activities(stack: People, *, live: bool = True) -> list[dict[str, Any]]:
    page = (await stack.erp_call("GET", "/activity-changes", params={"userId": USER})).json()
    found = [c["activity"] for c in page["items"] if c.get("activity")]
    return [a for a in found if not live or a["state"] != "voided"]


async def erp_series(stack: People, subject: str = "Series review", *, day: date | None = None) -> dict[str, Any]:
    """A confirmed weekly meeting series of 3 in the ERP, 13:00-14:00 Oslo time."""
    day = day or first_day(3)
    body = {
        "type": "meeting",
        "subject": subject,
        "description": "from the ERP",
        "start": f"{day.isoformat()}T13:00:00",
        "end": f"{day.isoformat()}T14:00:00",
        "timeZone": ZONE,
        "ownerId": USER,
        "state": "confirmed",
        "recurrence": weekly(day),
    }
    return dict((await stack.erp_call("POST", "/activities", json=body, headers={"Idempotency-Key": subject})).json())


async def erp_patch(stack: People, activity_id: str, patch: dict[str, Any]) -> dict[str, Any]:
    current = (await stack.erp_call("GET", f"/activities/{activity_id}")).json()
    headers = {"If-Match": f'"{current["version"]}"'}
    return dict((await stack.erp_call("PATCH", f"/activities/{activity_id}", json=patch, headers=headers)).json())
