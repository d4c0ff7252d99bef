"""All-day items outside UTC and rooms, end to end (issue 9): msgraph-sdk against the Graph emulator, HttpErp
against the reference ERP, links in Azurite.

R13: an all-day Outlook event is an all-day ERP activity when busy, an item with no specified time when free.
R14: multi-day and all-day items keep their exact dates both ways (Graph floats all-day dates,
https://learn.microsoft.com/en-us/graph/api/resources/event). R16: a facility whose record holds a room
mailbox is a room in Outlook, a resource attendee plus the location.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from emulators.erp.seed import seed_store
from emulators.fakes.calendar import InProcessCalendar
from shared.core.activities import Activity, ActivityChange, ActivityType, ErpUser, Facility, ParticipantKind
from shared.sync import inputs
from shared.sync.context import Ports, RunContext
from shared.sync.report import RunReport
from tests.sync.conftest import Stack

MAILBOX = "ann@contoso.example"
USER = "U-ANN"
BERLIN = "W. Europe Standard Time"
FJORD = {"id": "F-FJORD", "name": "Fjord room", "roomMailbox": "fjord@contoso.example"}


def _day(days: int) -> date:
    return (datetime.now(UTC) + timedelta(days=days)).date()


def _midnight(day: date) -> str:
    return f"{day.isoformat()}T00:00:00"


async def _outlook_all_day(stack: Stack, subject: str, first: date, days: int, *, show_as: str) -> None:
    body = {
        "subject": subject,
        "isAllDay": True,
        "showAs": show_as,
        "start": {"dateTime": _midnight(first), "timeZone": BERLIN},
        "end": {"dateTime": _midnight(first + timedelta(days=days)), "timeZone": BERLIN},
    }
    await stack.outlook("POST", f"/users/{MAILBOX}/events", json=body)


async def _erp_activity(stack: Stack, subject: str, **fields: Any) -> dict[str, Any]:
    body = {"type": "meeting", "subject": subject, "ownerId": USER, "state": "confirmed", **fields}
    response = await stack.erp_call("POST", "/activities", json=body, headers={"Idempotency-Key": subject})
    return dict(response.json())


async def _activities(stack: Stack) -> dict[str, dict[str, Any]]:
    page = (await stack.erp_call("GET", "/activity-changes", params={"userId": USER})).json()
    return {c["activity"]["subject"]: c["activity"] for c in page["items"] if c.get("activity")}


async def _events(stack: Stack) -> dict[str, dict[str, Any]]:
    start, end = datetime.now(UTC) - timedelta(days=1), datetime.now(UTC) + timedelta(days=40)
    resp = await stack.outlook(
        "GET",
        f"/users/{MAILBOX}/calendarView",
        params={"startDateTime": start.isoformat(), "endDateTime": end.isoformat(), "$top": "100"},
    )
    return {e["subject"]: e for e in resp.json()["value"]}


@pytest.mark.integration
async def test_outlook_all_day_event_in_w_europe_reaches_the_erp_as_an_all_day_activity_on_its_date(
    stack: Stack,
) -> None:
    """R13/R14: an all-day busy event written in "W. Europe Standard Time" becomes an all-day activity from
    midnight to midnight of its date in Europe/Berlin (it arrived as 01:00–01:00 and the ERP refused it),
    and a free three-day one an item with no specified time over its three dates; nothing echoes."""
    await stack.add_person(user_id=USER, mailbox=MAILBOX, name="Ann", time_zone="Europe/Berlin")
    fair, leave = _day(5), _day(8)
    await _outlook_all_day(stack, "Trade fair", fair, 1, show_as="busy")
    await _outlook_all_day(stack, "Team days", leave, 3, show_as="free")

    first = await stack.services.engine.sync_user(USER)
    assert first.status == "ok", first
    assert first.done["erp created"] == 2, first.done
    activities = await _activities(stack)
    busy, free = activities["Trade fair"], activities["Team days"]
    assert (busy["start"], busy["end"], busy["timeZone"]) == (
        _midnight(fair),
        _midnight(fair + timedelta(days=1)),
        "Europe/Berlin",
    )
    assert (busy["allDay"], busy["noSpecifiedTime"]) == (True, False)
    assert (free["start"], free["end"]) == (_midnight(leave), _midnight(leave + timedelta(days=3)))
    assert (free["allDay"], free["noSpecifiedTime"]) == (False, True)

    quiet = await stack.services.engine.sync_user(USER)
    assert sum(quiet.done.values()) == 0, quiet.done  # R5


@pytest.mark.integration
async def test_erp_all_day_activity_in_berlin_becomes_an_outlook_all_day_event_on_the_same_dates(
    stack: Stack,
) -> None:
    """R14: a two-day all-day activity stored as Berlin midnights is an all-day event over the same two
    dates in W. Europe Standard Time (Graph floats the dates: midnight in the asked zone); nothing echoes."""
    await stack.add_person(user_id=USER, mailbox=MAILBOX, name="Ann", time_zone="Europe/Berlin")
    first_day = _day(6)
    await _erp_activity(
        stack,
        "Works outing",
        start=_midnight(first_day),
        end=_midnight(first_day + timedelta(days=2)),
        timeZone="Europe/Berlin",
        allDay=True,
    )
    report = await stack.services.engine.sync_user(USER)
    assert report.done["m365 created"] == 1, report.done
    event = (await _events(stack))["Meeting: Works outing"]
    assert event["isAllDay"] is True
    assert event["originalStartTimeZone"] == BERLIN
    assert (event["start"]["dateTime"], event["end"]["dateTime"]) == (
        _midnight(first_day) + ".0000000",
        _midnight(first_day + timedelta(days=2)) + ".0000000",
    )
    quiet = await stack.services.engine.sync_user(USER)
    assert sum(quiet.done.values()) == 0, quiet.done  # R5


@pytest.mark.integration
async def test_erp_meeting_booking_a_room_invites_the_room_in_outlook_without_echo(stack: Stack) -> None:
    """R16: an ERP meeting booking "Fjord room" (room mailbox fjord@contoso.example) is created in Outlook
    with the room as a resource attendee and as the location, as Outlook books a room; the room accepts,
    and the next run writes nothing."""
    await stack.add_person(user_id=USER, mailbox=MAILBOX, name="Ann", time_zone="Europe/Berlin")
    added = await stack.graph.post(
        "/_emulator/users",
        json={"mail": FJORD["roomMailbox"], "displayName": FJORD["name"], "kind": "room", "hasMailbox": True},
    )
    assert added.status_code == 201, added.text
    seed_store(stack.erp_app.state.store, {"facilities": [FJORD]})
    day = _day(4)
    await _erp_activity(
        stack,
        "Fjord review",
        start=f"{day.isoformat()}T10:00:00",
        end=f"{day.isoformat()}T11:00:00",
        timeZone="Europe/Berlin",
        facilityIds=[FJORD["id"]],
    )
    first = await stack.services.engine.sync_user(USER)
    assert first.done["m365 created"] == 1, first.done
    event = (await _events(stack))["Meeting: Fjord review"]
    rooms = [a for a in event["attendees"] if a["type"] == "resource"]
    assert [a["emailAddress"]["address"] for a in rooms] == [FJORD["roomMailbox"]]
    assert event["location"]["displayName"] == "Fjord room"
    assert event["location"]["locationEmailAddress"] == FJORD["roomMailbox"]

    quiet = await stack.services.engine.sync_user(USER)
    assert sum(quiet.done.values()) == 0, quiet.done  # R5: no echo either way


async def test_weekly_all_day_series_keeps_each_occurrence_on_its_date_across_the_spring_dst_change() -> None:
    """R14 on the Graph emulator: a weekly Monday all-day series in W. Europe Standard Time is read back (UTC
    asked, dates floating) on Mondays after the last Sunday of March too; the emulator used to move those
    occurrences to the Sunday, an hour before their midnight in UTC terms
    (https://learn.microsoft.com/en-us/graph/api/resources/event: all-day start and end are midnight)."""
    calendar = InProcessCalendar()
    calendar.emulator.add_user(MAILBOX, "Ann")
    outlook = await calendar.outlook()
    body = {
        "subject": "Gym",
        "isAllDay": True,
        "start": {"dateTime": "2026-03-16T00:00:00", "timeZone": BERLIN},
        "end": {"dateTime": "2026-03-17T00:00:00", "timeZone": BERLIN},
        "recurrence": {
            "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"]},
            "range": {"type": "numbered", "startDate": "2026-03-16", "numberOfOccurrences": 4},
        },
    }
    assert (await outlook.post(f"/v1.0/users/{MAILBOX}/events", json=body)).status_code == 201
    window = {"start": datetime(2026, 3, 1, tzinfo=UTC), "end": datetime(2026, 4, 30, tzinfo=UTC)}
    read = await calendar.delta_start(MAILBOX, **window)
    days = sorted((e.event.start.date(), e.event.end.date()) for e in read.entries if e.event)
    mondays = [date(2026, 3, 16) + timedelta(weeks=n) for n in range(4)]
    assert days == [(m, m + timedelta(days=1)) for m in mondays]
    await outlook.aclose()
    await calendar.aclose()


# --- facilities are read only when an activity books one (R16) -------------------------------------------


@dataclass
class _Erp:
    """The one ERP call ``inputs.booked_rooms`` makes, counted."""

    facilities: Sequence[Facility]
    calls: list[str] = field(default_factory=list)

    async def list_facilities(self) -> Sequence[Facility]:
        self.calls.append("list_facilities")
        return self.facilities


def _run(erp: _Erp) -> RunContext:
    ports = Ports(calendar=None, erp=erp, state=None, policy=None, clock=lambda: datetime.now(UTC))  # type: ignore[arg-type]
    user = ErpUser(id=USER, display_name="Ann", email=MAILBOX)
    return RunContext(ports=ports, user=user, mailbox=MAILBOX, report=RunReport(user_id=USER), open_issue_keys=set())


def _change(activity_id: str, **fields: Any) -> ActivityChange:
    now = datetime.now(UTC)
    activity = Activity(
        id=activity_id,
        version=1,
        type=ActivityType.MEETING,
        subject=activity_id,
        start=datetime(2026, 12, 2, 9),
        end=datetime(2026, 12, 2, 10),
        owner_id=USER,
        created_at=now,
        modified_at=now,
        **fields,
    )
    return ActivityChange(seq=1, activity_id=activity_id, owner_id=USER, activity=activity)


async def test_a_run_without_booked_facilities_does_not_ask_the_erp_for_them() -> None:
    """R16: the facilities' room mailboxes are read only when an activity books a facility without a
    participant row; otherwise the changes pass through untouched and the ERP is not asked."""
    erp = _Erp(facilities=[Facility.model_validate(FJORD)])
    changes = [_change("a1"), ActivityChange(seq=2, activity_id="a2", owner_id=USER, deleted=True)]
    assert await inputs.booked_rooms(_run(erp), changes) == changes
    assert erp.calls == []


async def test_facilities_booked_in_the_erp_become_room_rows_read_once_per_run() -> None:
    """R16: a facility booked directly gets its room row (once per run, however many activities book one);
    a facility without a room mailbox stays a booking only."""
    erp = _Erp(facilities=[Facility.model_validate(FJORD), Facility(id="F-VAN", name="Van")])
    run = _run(erp)
    booked = await inputs.booked_rooms(run, [_change("a1", facility_ids=("F-FJORD", "F-VAN"))])
    again = await inputs.booked_rooms(run, [_change("a2", facility_ids=("F-FJORD",))])
    assert erp.calls == ["list_facilities"]
    for change in (*booked, *again):
        assert change.activity is not None
        rows = [(p.kind, p.ref_id, p.email, p.name) for p in change.activity.participants]
        assert rows == [(ParticipantKind.FACILITY, "F-FJORD", "fjord@contoso.example", "Fjord room")]
