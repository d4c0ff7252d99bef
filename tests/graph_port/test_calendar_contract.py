"""The ``CalendarPort`` contract: what the engine may rely on, for ``GraphCalendar`` and ``InProcessCalendar``.

Every test runs on both (the ``side`` fixture) against the same Graph emulator; each cites the Microsoft
Graph page it relies on.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from shared.core.activities import DayOfWeek, PatternType, RangeType, Recurrence, RecurrencePattern, RecurrenceRange
from shared.core.items import Attendee
from shared.core.m365 import EventType, EventWrite
from shared.errors import GraphInvalid, GraphMailboxUnavailable, GraphNotFound, GraphSyncStateLost, GraphTransient
from tests.graph_port.conftest import Side

ALICE, BOB = "alice@contoso.com", "bob@contoso.com"
WINDOW = {"start": datetime(2026, 12, 1, tzinfo=UTC), "end": datetime(2026, 12, 31, tzinfo=UTC)}
# Thursdays 3, 10, 17 and 24 December 2026, 09:00 in Berlin (08:00 UTC).
WEEKLY = Recurrence(
    pattern=RecurrencePattern(type=PatternType.WEEKLY, days_of_week=(DayOfWeek.THURSDAY,)),
    range=RecurrenceRange(
        type=RangeType.NUMBERED,
        start_date=date(2026, 12, 3),
        number_of_occurrences=4,
        recurrence_time_zone="Europe/Berlin",
    ),
)
THURSDAYS = [datetime(2026, 12, day, 8, tzinfo=UTC) for day in (3, 10, 17, 24)]


def _json(subject: str, day: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "subject": subject,
        "start": {"dateTime": f"2026-12-{day:02d}T10:00:00", "timeZone": "UTC"},
        "end": {"dateTime": f"2026-12-{day:02d}T11:00:00", "timeZone": "UTC"},
        **extra,
    }


def _write(subject: str, **extra: Any) -> EventWrite:
    values: dict[str, Any] = {
        "subject": subject,
        "start": datetime(2026, 12, 3, 9, 0),
        "end": datetime(2026, 12, 3, 10, 0),
        "time_zone": "Europe/Oslo",
    }
    return EventWrite(**{**values, **extra})


async def _meeting(side: Side) -> tuple[str, str]:
    """Alice organises a meeting with Bob through the port; returns her event id and the iCalUId."""
    created = await side.calendar.create_event(
        ALICE, _write("Design review", attendees=(Attendee(email=BOB, name="Bob Brown"),), erp_stamp="A-7")
    )
    assert created.ical_uid
    return created.id, created.ical_uid


async def test_delta_start_then_follow_sees_creates_updates_and_deletes(side: Side) -> None:
    """A first calendarView delta round lists the window's events; the deltaLink then returns what changed,
    a deletion as ``@removed`` (https://learn.microsoft.com/en-us/graph/delta-query-events)."""
    kept = (await side.person("POST", f"/users/{ALICE}/events", json=_json("Kept", 2))).json()
    gone = (await side.person("POST", f"/users/{ALICE}/events", json=_json("Gone", 3))).json()
    first = await side.calendar.delta_start(ALICE, **WINDOW)
    assert {e.event_id for e in first.entries} == {kept["id"], gone["id"]}
    assert not any(e.removed for e in first.entries)

    await side.person("PATCH", f"/users/{ALICE}/events/{kept['id']}", json={"subject": "Kept, renamed"})
    await side.person("DELETE", f"/users/{ALICE}/events/{gone['id']}")
    new = (await side.person("POST", f"/users/{ALICE}/events", json=_json("New", 4))).json()
    second = await side.calendar.delta_follow(first.delta_link)
    by_id = {e.event_id: e for e in second.entries}
    assert set(by_id) == {kept["id"], gone["id"], new["id"]}
    assert by_id[gone["id"]].removed
    subjects = {i: e.event.subject for i, e in by_id.items() if e.event is not None}
    assert subjects == {kept["id"]: "Kept, renamed", new["id"]: "New"}

    third = await side.calendar.delta_follow(second.delta_link)
    assert third.entries == ()


async def test_delta_over_several_pages_returns_every_event(side: Side) -> None:
    """A round spans pages joined by @odata.nextLink; the port follows them all
    (https://learn.microsoft.com/en-us/graph/api/event-delta)."""
    for day in range(1, 8):
        await side.person("POST", f"/users/{ALICE}/events", json=_json(f"E{day}", day))
    await side.control("PUT", "/settings", json={"defaultDeltaPageSize": 2})
    result = await side.calendar.delta_start(ALICE, **WINDOW)
    assert sorted(e.event.subject for e in result.entries if e.event) == [f"E{d}" for d in range(1, 8)]


async def test_get_event_reads_our_stamp_and_the_event_zone(side: Side) -> None:
    """Our extended property comes back through $expand, times as instants, the zone as IANA
    (https://learn.microsoft.com/en-us/graph/api/singlevaluelegacyextendedproperty-get)."""
    created = await side.calendar.create_event(ALICE, _write("Stamped", erp_stamp="ACT-1"))
    read = await side.calendar.get_event(ALICE, created.id)
    assert created.erp_stamp == read.erp_stamp == "ACT-1"
    assert read.start == datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
    assert read.time_zone == "Europe/Berlin"  # sent as "W. Europe Standard Time", read back as CLDR's zone for it
    plain = (await side.person("POST", f"/users/{ALICE}/events", json=_json("Plain"))).json()
    assert (await side.calendar.get_event(ALICE, plain["id"])).erp_stamp is None


async def test_all_day_event_keeps_its_days(side: Side) -> None:
    """An all-day event is midnight to midnight (https://learn.microsoft.com/en-us/graph/api/resources/event)."""
    write = EventWrite(
        subject="Off",
        start=datetime(2026, 12, 7),
        end=datetime(2026, 12, 8),
        time_zone="Europe/Oslo",
        is_all_day=True,
    )
    created = await side.calendar.create_event(ALICE, write)
    read = await side.calendar.get_event(ALICE, created.id)
    assert read.is_all_day
    assert (read.end - read.start).days == 1


async def test_create_retried_with_same_transaction_id_returns_the_same_event(side: Side) -> None:
    """A retried create with the same transactionId is recognised, not duplicated
    (https://learn.microsoft.com/en-us/graph/api/user-post-events)."""
    write = _write("Once", transaction_id="txn-1", erp_stamp="ACT-2")
    first = await side.calendar.create_event(ALICE, write)
    again = await side.calendar.create_event(ALICE, write)
    listed = (await side.person("GET", f"/users/{ALICE}/events")).json()["value"]
    assert again.id == first.id
    assert [e["id"] for e in listed] == [first.id]


async def test_update_changes_only_the_fields_sent(side: Side) -> None:
    """PATCH sends only the changed properties; the others stay (https://learn.microsoft.com/en-us/graph/api/event-update)."""
    created = await side.calendar.create_event(ALICE, _write("Before", location="Room 1", categories=("Blue",)))
    updated = await side.calendar.update_event(ALICE, created.id, EventWrite(subject="After"))
    assert (updated.subject, updated.location, updated.categories) == ("After", "Room 1", ("Blue",))
    assert updated.change_key != created.change_key
    assert updated.start == created.start


async def test_delete_is_idempotent_and_the_event_is_gone(side: Side) -> None:
    """DELETE answers 204, a second one 404, which the port swallows; a read then is GraphNotFound
    (https://learn.microsoft.com/en-us/graph/api/event-delete)."""
    created = await side.calendar.create_event(ALICE, _write("Short-lived"))
    await side.calendar.delete_event(ALICE, created.id)
    await side.calendar.delete_event(ALICE, created.id)
    with pytest.raises(GraphNotFound):
        await side.calendar.get_event(ALICE, created.id)


async def test_events_by_ical_uid_finds_the_attendees_copy(side: Side) -> None:
    """Every copy of a meeting shares its iCalUId; $filter=iCalUId finds the mailbox's own copy
    (https://learn.microsoft.com/en-us/graph/api/user-list-events)."""
    organizer_id, ical_uid = await _meeting(side)
    [copy] = await side.calendar.events_by_ical_uid(BOB, ical_uid)
    [own] = await side.calendar.events_by_ical_uid(ALICE, ical_uid)
    assert copy.id != organizer_id
    assert copy.ical_uid == ical_uid
    assert (copy.is_organizer, copy.response, copy.organizer_email) == (False, "notResponded", ALICE)
    assert (own.id, own.erp_stamp) == (organizer_id, "A-7")
    assert await side.calendar.events_by_ical_uid(BOB, "040000008200E00074C5B7101A82E008DEADBEEF") == ()


@pytest.mark.parametrize("response", ["accepted", "tentativelyAccepted", "declined"])
async def test_respond_sets_the_copy_and_leaves_the_organizer_untold(side: Side, response: str) -> None:
    """The port responds with sendResponse false: the copy takes the response, the organizer's attendee
    status and event do not change (https://learn.microsoft.com/en-us/graph/api/event-accept)."""
    organizer_id, ical_uid = await _meeting(side)
    before = await side.calendar.get_event(ALICE, organizer_id)
    [copy] = await side.calendar.events_by_ical_uid(BOB, ical_uid)
    await side.calendar.respond(BOB, copy.id, response)
    after = await side.calendar.get_event(ALICE, organizer_id)
    assert (await side.calendar.get_event(BOB, copy.id)).response == response
    assert [a.response for a in after.attendees] == ["none"]
    assert after.change_key == before.change_key


async def test_responding_to_own_meeting_is_invalid(side: Side) -> None:
    """An organizer cannot respond to their own meeting: 400 (https://learn.microsoft.com/en-us/graph/api/event-accept)."""
    organizer_id, _ = await _meeting(side)
    with pytest.raises(GraphInvalid) as raised:
        await side.calendar.respond(ALICE, organizer_id, "accepted")
    assert raised.value.status == 400


async def test_lost_delta_token_raises_sync_state_lost(side: Side) -> None:
    """An expired or unknown delta token answers 410 SyncStateNotFound
    (https://learn.microsoft.com/en-us/graph/delta-query-overview#synchronization-reset)."""
    first = await side.calendar.delta_start(ALICE, **WINDOW)
    await side.control("POST", "/delta-tokens/expire")
    with pytest.raises(GraphSyncStateLost):
        await side.calendar.delta_follow(first.delta_link)


async def test_throttling_past_the_retries_surfaces_as_transient(side: Side) -> None:
    """A 429 whose Retry-After is beyond what the SDK waits (180 s) is not retried and surfaces as
    GraphTransient with the wait (https://learn.microsoft.com/en-us/graph/throttling)."""
    await side.control("POST", "/faults", json={"path": "/events", "status": 429, "count": 5, "retryAfter": 200})
    with pytest.raises(GraphTransient) as raised:
        await side.calendar.get_event(ALICE, "AAMkAnything")
    assert (raised.value.status, raised.value.retry_after) == (429, 200)


async def test_one_unavailable_answer_is_retried_after_retry_after(side: Side) -> None:
    """A single 503 with Retry-After is retried by the SDK's retry handler and the call succeeds
    (https://learn.microsoft.com/en-us/graph/best-practices-concept#handling-expected-errors)."""
    created = await side.calendar.create_event(ALICE, _write("Retried"))
    await side.control("POST", "/faults", json={"method": "GET", "status": 503, "count": 1, "retryAfter": 1})
    assert (await side.calendar.get_event(ALICE, created.id)).subject == "Retried"


async def test_user_without_mailbox_is_unavailable(side: Side) -> None:
    """A user without an Exchange Online mailbox answers MailboxNotEnabledForRESTAPI
    (https://learn.microsoft.com/en-us/graph/api/resources/calendar)."""
    side.emulator.add_user("nomail@contoso.com", "No Mail", has_mailbox=False)
    with pytest.raises(GraphMailboxUnavailable):
        await side.calendar.delta_start("nomail@contoso.com", **WINDOW)


async def test_mailbox_outside_the_apps_scope_is_unavailable(side: Side) -> None:
    """A mailbox the app's Exchange role assignment does not cover answers 403 ErrorAccessDenied
    (https://learn.microsoft.com/exchange/permissions-exo/application-rbac): R2 reports its user."""
    await side.control("POST", "/faults", json={"method": "GET", "status": 403, "count": 1})
    with pytest.raises(GraphMailboxUnavailable):
        await side.calendar.delta_start(ALICE, **WINDOW)


async def test_subscription_lifecycle(side: Side) -> None:
    """Create (after the validation handshake), renew, list, delete a subscription on a mailbox's events
    (https://learn.microsoft.com/en-us/graph/api/subscription-post-subscriptions)."""
    created = await side.calendar.create_subscription(
        ALICE,
        notification_url="https://sync.example/api/graph/notifications",
        lifecycle_url=None,
        client_state="cs",
        expires_at=datetime.now(UTC) + timedelta(days=1),
    )
    renewed = await side.calendar.renew_subscription(created.id, expires_at=datetime.now(UTC) + timedelta(days=2))
    assert [s.id for s in await side.calendar.subscriptions()] == [created.id]
    assert renewed.resource == created.resource
    assert renewed.expires_at > created.expires_at
    await side.calendar.delete_subscription(created.id)
    await side.calendar.delete_subscription(created.id)
    assert await side.calendar.subscriptions() == ()


def _series(recurrence: Recurrence = WEEKLY) -> EventWrite:
    return EventWrite(
        subject="Weekly sync",
        start=datetime(2026, 12, 3, 9),
        end=datetime(2026, 12, 3, 10),
        time_zone="Europe/Berlin",
        recurrence=recurrence,
        erp_stamp="S-1",
    )


async def test_a_series_created_with_a_recurrence_reads_back_the_same(side: Side) -> None:
    """``EventWrite.recurrence`` creates a series master; ``GET /events/{id}`` returns it with the same
    pattern and range, the range's zone as IANA; without a zone of its own the range takes the event's
    (https://learn.microsoft.com/en-us/graph/api/user-post-events,
    https://learn.microsoft.com/en-us/graph/api/resources/recurrencerange)."""
    created = await side.calendar.create_event(ALICE, _series())
    master = await side.calendar.get_event(ALICE, created.id)
    assert (created.type, master.type) == (EventType.SERIES_MASTER, EventType.SERIES_MASTER)
    assert created.recurrence == master.recurrence == WEEKLY
    assert (master.start, master.original_start, master.erp_stamp) == (THURSDAYS[0], None, "S-1")

    no_zone = WEEKLY.model_copy(update={"range": WEEKLY.range.model_copy(update={"recurrence_time_zone": None})})
    other = await side.calendar.get_event(ALICE, (await side.calendar.create_event(ALICE, _series(no_zone))).id)
    assert other.recurrence == WEEKLY


async def test_instances_in_a_window_carry_their_original_start(side: Side) -> None:
    """``/instances`` returns the series' occurrences that overlap the window, each an ``occurrence`` of
    its master with its ``originalStart`` (https://learn.microsoft.com/en-us/graph/api/event-list-instances)."""
    master = await side.calendar.create_event(ALICE, _series())
    found = await side.calendar.instances(ALICE, master.id, **WINDOW)
    assert [o.original_start for o in found] == [o.start for o in found] == THURSDAYS
    assert {(o.type, o.series_master_id, o.subject) for o in found} == {
        (EventType.OCCURRENCE, master.id, "Weekly sync")
    }
    middle = await side.calendar.instances(
        ALICE, master.id, start=datetime(2026, 12, 9, tzinfo=UTC), end=datetime(2026, 12, 20, tzinfo=UTC)
    )
    assert [o.original_start for o in middle] == THURSDAYS[1:3]


async def test_instances_follow_every_page(side: Side) -> None:
    """``/instances`` pages with ``@odata.nextLink`` past ``$top``; the port reads them all
    (https://learn.microsoft.com/en-us/graph/paging)."""
    daily = Recurrence(
        pattern=RecurrencePattern(type=PatternType.DAILY),
        range=RecurrenceRange(type=RangeType.NUMBERED, start_date=date(2026, 12, 3), number_of_occurrences=55),
    )
    master = await side.calendar.create_event(ALICE, _series(daily))
    found = await side.calendar.instances(ALICE, master.id, start=WINDOW["start"], end=datetime(2027, 3, 1, tzinfo=UTC))
    assert len({o.original_start for o in found}) == 55


async def test_an_occurrence_updated_becomes_an_exception_in_the_delta(side: Side) -> None:
    """PATCH on an occurrence makes it an ``exception`` that keeps its ``originalStart``; the calendar-view
    delta reports it (and never the master) (https://learn.microsoft.com/en-us/graph/api/event-update,
    https://learn.microsoft.com/en-us/graph/api/event-delta)."""
    master = await side.calendar.create_event(ALICE, _series())
    first = await side.calendar.delta_start(ALICE, **WINDOW)
    assert master.id not in {e.event_id for e in first.entries}
    second = (await side.calendar.instances(ALICE, master.id, **WINDOW))[1]
    moved = EventWrite(
        subject="Moved", start=datetime(2026, 12, 11, 14), end=datetime(2026, 12, 11, 15), time_zone="Europe/Berlin"
    )
    updated = await side.calendar.update_event(ALICE, second.id, moved)
    assert (updated.id, updated.type, updated.original_start) == (second.id, EventType.EXCEPTION, THURSDAYS[1])

    [entry] = (await side.calendar.delta_follow(first.delta_link)).entries
    assert entry.event is not None
    assert (entry.event_id, entry.event.type, entry.event.series_master_id) == (
        second.id,
        EventType.EXCEPTION,
        master.id,
    )
    assert (entry.event.subject, entry.event.start) == ("Moved", datetime(2026, 12, 11, 13, tzinfo=UTC))
    assert entry.event.original_start == THURSDAYS[1]


async def test_a_deleted_occurrence_leaves_the_instances_and_the_delta_reports_it_removed(side: Side) -> None:
    """DELETE on an occurrence cancels that one only: it is gone from ``/instances`` and the delta reports
    it ``@removed`` (https://learn.microsoft.com/en-us/graph/api/event-delete)."""
    master = await side.calendar.create_event(ALICE, _series())
    first = await side.calendar.delta_start(ALICE, **WINDOW)
    third = (await side.calendar.instances(ALICE, master.id, **WINDOW))[2]
    await side.calendar.delete_event(ALICE, third.id)
    await side.calendar.delete_event(ALICE, third.id)
    left = await side.calendar.instances(ALICE, master.id, **WINDOW)
    assert [o.original_start for o in left] == [THURSDAYS[0], THURSDAYS[1], THURSDAYS[3]]
    changes = (await side.calendar.delta_follow(first.delta_link)).entries
    assert [(e.event_id, e.removed) for e in changes] == [(third.id, True)]


async def test_a_pattern_change_resets_the_exceptions(side: Side) -> None:
    """A new recurrence on the master removes the series' exceptions: an edited occurrence is back to the
    series' values and a cancelled one is back (MS-OXOCAL 3.1.4.7.3.5 "Updating a Recurring Series",
    https://learn.microsoft.com/en-us/openspecs/exchange_server_protocols/ms-oxocal/4b92fb85-db55-4251-8e81-e319361218e1)."""
    master = await side.calendar.create_event(ALICE, _series())
    occurrences = await side.calendar.instances(ALICE, master.id, **WINDOW)
    await side.calendar.update_event(ALICE, occurrences[0].id, EventWrite(subject="Special"))
    await side.calendar.delete_event(ALICE, occurrences[1].id)
    five = WEEKLY.model_copy(update={"range": WEEKLY.range.model_copy(update={"number_of_occurrences": 5})})
    updated = await side.calendar.update_event(ALICE, master.id, EventWrite(recurrence=five))
    assert updated.recurrence == five
    after = await side.calendar.instances(ALICE, master.id, start=WINDOW["start"], end=datetime(2027, 1, 8, tzinfo=UTC))
    assert [(o.type, o.subject) for o in after] == [(EventType.OCCURRENCE, "Weekly sync")] * 5
    assert [o.original_start for o in after][:4] == THURSDAYS
