"""``InProcessCalendar`` sends what msgraph-sdk sends and reads what ``event_from_graph`` reads.

The fake skips kiota, so its dict twins of ``shared.graph.convert`` are checked here against the real
thing: the same ``EventWrite`` serialises to the same JSON, and the same Graph event (as the emulator
answers it, following https://learn.microsoft.com/en-us/graph/api/resources/event) becomes the same
``M365Event`` through both calendars.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
from kiota_serialization_json.json_serialization_writer import JsonSerializationWriter
from starlette.applications import Starlette

from emulators.fakes.calendar import InProcessCalendar, body_from_write
from emulators.graph import Emulator
from shared.core.activities import (
    DayOfWeek,
    PatternType,
    RangeType,
    Recurrence,
    RecurrencePattern,
    RecurrenceRange,
    WeekIndex,
)
from shared.core.items import Attendee, AttendeeRole
from shared.core.m365 import EventWrite
from shared.graph.convert import graph_from_write
from tests.graph_port.conftest import APP_ID, graph_calendar

ALICE, BOB = "alice@contoso.com", "bob@contoso.com"
WRITES = [
    EventWrite(subject="Only a subject"),
    EventWrite(
        subject="All of it",
        body="Agenda\nline two",
        start=datetime(2026, 12, 3, 9, 30),
        end=datetime(2026, 12, 3, 10, 0),
        time_zone="America/New_York",
        is_all_day=False,
        show_as="oof",
        sensitivity="private",
        location="Room 1",
        location_email="room1@contoso.com",
        attendees=(
            Attendee(email="bob@contoso.com", name="Bob"),
            Attendee(email="x@fabrikam.com", name="", role=AttendeeRole.OPTIONAL),
        ),
        categories=("Blue", "ERP"),
        erp_stamp="ACT-9",
        transaction_id="txn-9",
    ),
    EventWrite(location="", attendees=(), categories=(), body=""),
    EventWrite(start=datetime(2026, 12, 7), end=datetime(2026, 12, 8), is_all_day=True),
    EventWrite(
        subject="Weekly",
        start=datetime(2026, 12, 7, 9),
        end=datetime(2026, 12, 7, 10),
        time_zone="Europe/Berlin",
        recurrence=Recurrence(
            pattern=RecurrencePattern(
                type=PatternType.WEEKLY,
                interval=2,
                days_of_week=(DayOfWeek.WEDNESDAY, DayOfWeek.MONDAY),
                first_day_of_week=DayOfWeek.MONDAY,
            ),
            range=RecurrenceRange(type=RangeType.NUMBERED, start_date=date(2026, 12, 7), number_of_occurrences=6),
        ),
    ),
    EventWrite(
        recurrence=Recurrence(
            pattern=RecurrencePattern(
                type=PatternType.RELATIVE_YEARLY, days_of_week=(DayOfWeek.FRIDAY,), index=WeekIndex.LAST, month=12
            ),
            range=RecurrenceRange(
                type=RangeType.END_DATE,
                start_date=date(2026, 12, 25),
                end_date=date(2030, 12, 31),
                recurrence_time_zone="America/New_York",
            ),
        )
    ),
    EventWrite(
        recurrence=Recurrence(
            pattern=RecurrencePattern(type=PatternType.ABSOLUTE_MONTHLY, day_of_month=15),
            range=RecurrenceRange(type=RangeType.NO_END, start_date=date(2026, 12, 15)),
        )
    ),
]


def _kiota_json(write: EventWrite) -> dict[str, Any]:
    writer = JsonSerializationWriter()
    writer.write_object_value(None, graph_from_write(write))
    parsed: dict[str, Any] = json.loads(writer.get_serialized_content())
    return parsed


@pytest.mark.parametrize(
    "write",
    WRITES,
    ids=["subject", "everything", "cleared", "all-day", "weekly", "relative-yearly-zoned", "monthly-no-zone"],
)
def test_write_body_is_the_json_msgraph_sdk_sends(write: EventWrite) -> None:
    """The fake's request body equals the SDK's serialisation of ``graph_from_write`` (page "Update event")."""
    assert body_from_write(write) == _kiota_json(write)


def _when(day: int, hour: int, tz: str = "UTC") -> dict[str, str]:
    return {"dateTime": f"2026-12-{day:02d}T{hour:02d}:00:00", "timeZone": tz}


def _moved(day: int) -> dict[str, dict[str, str]]:
    return {"start": _when(day, 15), "end": _when(day, 16)}


async def _seed(fake: InProcessCalendar) -> None:
    """Events of every shape the sync meets, made by people in Outlook."""
    outlook = await fake.outlook()
    user = f"/v1.0/users/{ALICE}/events"
    bodies: list[dict[str, Any]] = [
        {"subject": "Zoned", "start": _when(2, 9, "W. Europe Standard Time"), "end": _when(2, 10, "Europe/Oslo")},
        {
            "subject": "All day",
            "isAllDay": True,
            "start": _when(4, 0, "Pacific Standard Time"),
            "end": _when(5, 0, "Pacific Standard Time"),
        },
        {
            "subject": "Meeting",
            "start": _when(6, 13),
            "end": _when(6, 14),
            "showAs": "oof",
            "sensitivity": "private",
            "categories": ["Red"],
            "body": {"contentType": "html", "content": "<p>Hi &amp; welcome</p>"},
            "location": {
                "displayName": "Room 1",
                "locationType": "conferenceRoom",
                "locationEmailAddress": "r1@contoso.com",
            },
            "attendees": [
                {"type": "required", "emailAddress": {"address": "Bob@Contoso.com", "name": "Bob"}},
                {"type": "optional", "emailAddress": {"address": "x@fabrikam.com"}},
            ],
            "singleValueExtendedProperties": [
                {"id": "String {5b0c8e36-1d7a-4f0e-9c55-8a2f3d6e7b91} Name erpActivityId", "value": "ACT-3"}
            ],
        },
        {
            "subject": "Weekly",
            "start": _when(7, 8),
            "end": _when(7, 9),
            "recurrence": {
                "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"]},
                "range": {"type": "numbered", "startDate": "2026-12-07", "numberOfOccurrences": 3},
            },
        },
        {
            "subject": "Yearly",
            "start": _when(24, 8, "Pacific Standard Time"),
            "end": _when(24, 9, "Pacific Standard Time"),
            "recurrence": {
                "pattern": {"type": "absoluteYearly", "dayOfMonth": 24, "month": 12},
                "range": {
                    "type": "endDate",
                    "startDate": "2026-12-24",
                    "endDate": "2029-12-24",
                    "recurrenceTimeZone": "Pacific Standard Time",
                },
            },
        },
    ]
    for body in bodies:
        assert (await outlook.post(user, json=body)).status_code == 201
    weekly = next(e for e in (await outlook.get(user)).json()["value"] if e["subject"] == "Weekly")
    window = {"startDateTime": "2026-12-01T00:00:00Z", "endDateTime": "2026-12-31T00:00:00Z"}
    first, second, _ = (await outlook.get(f"{user}/{weekly['id']}/instances", params=window)).json()["value"]
    assert (await outlook.patch(f"{user}/{first['id']}", json={"subject": "Moved", **_moved(8)})).status_code == 200
    assert (await outlook.delete(f"{user}/{second['id']}")).status_code == 204
    [copy] = (await outlook.get(f"/v1.0/users/{BOB}/events")).json()["value"]
    await outlook.post(f"/v1.0/users/{BOB}/events/{copy['id']}/tentativelyAccept", json={"sendResponse": True})
    await outlook.aclose()


async def test_same_events_read_the_same_through_both_calendars(emulator_app: Starlette) -> None:
    """Delta entries, single reads, series masters, their instances and iCalUId lookups give equal
    ``M365Event`` values through GraphCalendar (kiota) and the fake (dicts), for zones, all-day, meetings,
    responses, series with an exception and a cancelled occurrence, and stamps
    (https://learn.microsoft.com/en-us/graph/api/event-delta,
    https://learn.microsoft.com/en-us/graph/api/event-list-instances)."""
    emulator: Emulator = emulator_app.state.emulator
    emulator.add_user(ALICE, "Alice")
    emulator.add_user(BOB, "Bob")
    fake, real = InProcessCalendar(emulator_app, app_id=APP_ID), graph_calendar(emulator_app)
    await _seed(fake)
    window = {"start": datetime(2026, 12, 1, tzinfo=UTC), "end": datetime(2026, 12, 31, tzinfo=UTC)}
    for mailbox in (ALICE, BOB):
        by_fake = await fake.delta_start(mailbox, **window)
        by_real = await real.delta_start(mailbox, **window)
        assert by_fake.entries == by_real.entries
        assert len(by_fake.entries) == (6 if mailbox == ALICE else 1)
        masters = {e.event.series_master_id for e in by_fake.entries if e.event and e.event.series_master_id}
        for master_id in masters:
            master = await fake.get_event(mailbox, master_id)
            assert master == await real.get_event(mailbox, master_id)
            assert master.recurrence is not None
            in_window = await fake.instances(mailbox, master_id, **window)
            assert in_window == await real.instances(mailbox, master_id, **window)
            assert all(o.original_start is not None for o in in_window)
        for entry in by_fake.entries:
            assert await fake.get_event(mailbox, entry.event_id) == await real.get_event(mailbox, entry.event_id)
            ical = entry.event.ical_uid if entry.event else None
            assert ical is not None
            assert await fake.events_by_ical_uid(mailbox, ical) == await real.events_by_ical_uid(mailbox, ical)
    await emulator_app.state.emulator.notifier.close()
    await real.aclose()


async def test_removed_entries_read_the_same_through_both_calendars(emulator_app: Starlette) -> None:
    """A deleted event comes back as ``@removed`` with its id through both
    (https://learn.microsoft.com/en-us/graph/delta-query-events)."""
    emulator: Emulator = emulator_app.state.emulator
    emulator.add_user(ALICE, "Alice")
    fake, real = InProcessCalendar(emulator_app, app_id=APP_ID), graph_calendar(emulator_app)
    window = {"start": datetime(2026, 12, 1, tzinfo=UTC), "end": datetime(2026, 12, 31, tzinfo=UTC)}
    created = await fake.create_event(
        ALICE, EventWrite(subject="x", start=datetime(2026, 12, 2, 9), end=datetime(2026, 12, 2, 10))
    )
    start_fake, start_real = await fake.delta_start(ALICE, **window), await real.delta_start(ALICE, **window)
    await fake.delete_event(ALICE, created.id)
    after_fake, after_real = (
        await fake.delta_follow(start_fake.delta_link),
        await real.delta_follow(start_real.delta_link),
    )
    assert after_fake.entries == after_real.entries
    assert [(e.event_id, e.removed) for e in after_fake.entries] == [(created.id, True)]
    await real.aclose()
