"""All-day items keep their exact dates both ways, in every zone (R13, R14).

Graph returns an all-day event's start and end as midnight of its dates in whatever zone the request asked
for (we ask for UTC), with the event's own zone in ``originalStartTimeZone``
(https://learn.microsoft.com/en-us/graph/api/resources/event: "If true [isAllDay], regardless of whether
it's a single-day or multi-day event, start and endtime must be set to midnight and be in the same time
zone"). They are dates: read as UTC instants they moved to 01:00 in Berlin (refused by the ERP as an
all-day item) and to the day before west of UTC. The ERP stores all-day activities as midnights in the
activity's zone, end exclusive.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from msgraph.generated.models.date_time_time_zone import DateTimeTimeZone
from msgraph.generated.models.event import Event
from msgraph.generated.models.free_busy_status import FreeBusyStatus

from emulators.graph.events import check_times
from shared.core.activities import Activity, ActivityFields, ErpUser, Origin
from shared.core.directory import Directory
from shared.core.fingerprint import fingerprint
from shared.core.items import Field, ItemKind, Side
from shared.core.m365 import EventWrite, M365Event
from shared.core.mapping import activity_fields, event_write, item_from_activity, item_from_event
from shared.graph.convert import event_from_graph, graph_from_write
from tests.core.builders import activity

USER = ErpUser(
    id="u1", display_name="Ann", email="ann@contoso.com", default_company_id="c1", default_location_id="loc1"
)
ORIGIN = Origin(mailbox="ann@contoso.com", event_id="e1")
CREATED = datetime(2026, 11, 1, tzinfo=UTC)


def graph_all_day(first: date, days: int, zone_name: str, *, show_as: str = "busy") -> Event:
    """An all-day event as Graph answers it to ``Prefer: outlook.timezone="UTC"``: floating midnights."""
    last = first + timedelta(days=days)
    return Event(
        id="AAMk-all-day",
        subject="Off-site",
        is_all_day=True,
        show_as=FreeBusyStatus(show_as),
        original_start_time_zone=zone_name,
        original_end_time_zone=zone_name,
        start=DateTimeTimeZone(date_time=f"{first.isoformat()}T00:00:00.0000000", time_zone="UTC"),
        end=DateTimeTimeZone(date_time=f"{last.isoformat()}T00:00:00.0000000", time_zone="UTC"),
    )


def erp_fields_of(event: M365Event) -> ActivityFields:
    item = item_from_event(event, kind=ItemKind.MEETING, conflict_category="Sync conflict")
    return activity_fields(item, user=USER, origin=ORIGIN, directory=Directory())


def stored(fields: ActivityFields) -> Activity:
    """The activity the ERP stores for ``fields``."""
    return Activity.model_validate(
        {**fields.model_dump(), "id": "act-1", "version": 1, "created_at": CREATED, "modified_at": CREATED}
    )


def graph_json(write: EventWrite) -> dict[str, Any]:
    """What msgraph-sdk sends for ``write`` (start and end only)."""
    event = graph_from_write(write)
    assert event.start is not None
    assert event.end is not None
    return {
        "start": {"dateTime": event.start.date_time, "timeZone": event.start.time_zone},
        "end": {"dateTime": event.end.date_time, "timeZone": event.end.time_zone},
    }


def midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time())


def test_outlook_all_day_busy_in_w_europe_becomes_an_erp_all_day_activity_on_that_date() -> None:
    """R13/R14: an all-day busy event written in "W. Europe Standard Time" is an all-day ERP activity from
    midnight to midnight on its date in Europe/Berlin (it was 01:00–01:00, refused with 422)."""
    event = event_from_graph(graph_all_day(date(2026, 12, 4), 1, "W. Europe Standard Time"))
    fields = erp_fields_of(event)
    assert (fields.start, fields.end, fields.time_zone) == (
        datetime(2026, 12, 4),
        datetime(2026, 12, 5),
        "Europe/Berlin",
    )
    assert (fields.all_day, fields.no_specified_time) == (True, False)


def test_outlook_all_day_free_in_w_europe_becomes_an_erp_item_with_no_specified_time_on_that_date() -> None:
    """R13: all-day + free is an ERP item with no specified time, on the event's own date."""
    event = event_from_graph(graph_all_day(date(2026, 12, 4), 1, "W. Europe Standard Time", show_as="free"))
    fields = erp_fields_of(event)
    assert (fields.start, fields.end) == (datetime(2026, 12, 4), datetime(2026, 12, 5))
    assert (fields.all_day, fields.no_specified_time, fields.show_as.value) == (False, True, "free")


def test_three_day_outlook_all_day_event_in_berlin_keeps_its_three_dates_in_the_erp() -> None:
    """R14: a multi-day all-day event (IANA zone name this time) covers exactly its dates, end exclusive."""
    event = event_from_graph(graph_all_day(date(2026, 12, 4), 3, "Europe/Berlin"))
    fields = erp_fields_of(event)
    assert (fields.start, fields.end, fields.all_day) == (datetime(2026, 12, 4), datetime(2026, 12, 7), True)


def test_outlook_all_day_west_of_utc_is_not_moved_to_the_day_before() -> None:
    """R14: in "Pacific Standard Time" the floating midnight read as an instant was 16:00 the day before."""
    event = event_from_graph(graph_all_day(date(2026, 12, 4), 1, "Pacific Standard Time"))
    fields = erp_fields_of(event)
    assert (fields.start, fields.end, fields.time_zone) == (
        datetime(2026, 12, 4),
        datetime(2026, 12, 5),
        "America/Los_Angeles",
    )


def test_erp_all_day_activity_in_berlin_becomes_an_outlook_all_day_event_on_the_same_dates() -> None:
    """R14: a three-day all-day activity in Europe/Berlin is written midnight to midnight in W. Europe
    Standard Time, which Graph accepts as an all-day event (midnight, one zone)."""
    act = activity(all_day=True, start=datetime(2026, 12, 4), end=datetime(2026, 12, 7), time_zone="Europe/Berlin")
    write = event_write(item_from_activity(act), tuple(Field), origin=Side.ERP)
    assert (write.start, write.end, write.time_zone, write.is_all_day) == (
        datetime(2026, 12, 4),
        datetime(2026, 12, 7),
        "Europe/Berlin",
        True,
    )
    body = graph_json(write)
    assert body["start"]["timeZone"] == "W. Europe Standard Time"
    check_times(body["start"], body["end"], is_all_day=True)  # raises Graph's 400 otherwise


def test_erp_item_with_no_specified_time_and_clock_times_is_an_all_day_free_event_on_its_date() -> None:
    """R13 reversed: an item with no specified time is all-day and free in Outlook, on the date it has,
    whatever clock times the ERP keeps on it."""
    act = activity(
        no_specified_time=True,
        start=datetime(2026, 12, 4, 9, 0),
        end=datetime(2026, 12, 4, 9, 30),
        time_zone="Asia/Kolkata",
    )
    write = event_write(item_from_activity(act), tuple(Field), origin=Side.ERP)
    assert (write.start, write.end, write.is_all_day, write.show_as) == (
        datetime(2026, 12, 4),
        datetime(2026, 12, 5),
        True,
        "free",
    )


def test_erp_born_all_day_event_read_back_from_graph_is_no_change() -> None:
    """R5: the event the sync wrote for an all-day activity in Berlin, read back as Graph floats it, has the
    same dates (fingerprint) as the activity: no change to sync in either direction."""
    act = activity(all_day=True, start=datetime(2026, 12, 4), end=datetime(2026, 12, 7), time_zone="Europe/Berlin")
    read_back = event_from_graph(graph_all_day(date(2026, 12, 4), 3, "W. Europe Standard Time"))
    from_event = item_from_event(read_back, kind=ItemKind.MEETING, conflict_category="x")
    assert fingerprint(from_event)[Field.WHEN] == fingerprint(item_from_activity(act))[Field.WHEN]


def test_all_day_round_trip_through_the_erp_keeps_the_dates() -> None:
    """R14: Outlook → ERP → Outlook writes back the same dates (the property test's base case)."""
    event = event_from_graph(graph_all_day(date(2026, 3, 29), 2, "W. Europe Standard Time"))
    write = event_write(item_from_activity(stored(erp_fields_of(event))), tuple(Field), origin=Side.M365)
    assert (write.start, write.end, write.is_all_day) == (
        midnight(date(2026, 3, 29)),
        midnight(date(2026, 3, 31)),
        True,
    )
