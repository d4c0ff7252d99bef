"""Property: an all-day event of 1–5 days keeps its dates through the whole round trip, in every zone (R13,
R14).

Outlook (Graph's answer, floating midnights, https://learn.microsoft.com/en-us/graph/api/resources/event)
→ ``M365Event`` (msgraph-sdk converter and the in-process fake's twin agree) → neutral item → ERP fields →
the activity the ERP stores → neutral item → the write to Outlook: same dates, midnight to midnight, in a
zone Graph accepts for an all-day event. Zones come as Windows and IANA names, with half- and
quarter-hour offsets, the date line on both sides, and DST changes (some of them at midnight); dates
include the European DST Sundays.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from emulators.fakes.calendar import body_from_write, event_from_json
from emulators.graph.events import check_times
from shared.core.fingerprint import fingerprint
from shared.core.items import Field, ItemKind, Side
from shared.core.mapping import event_write, item_from_activity, item_from_event
from shared.core.timezones import to_iana
from shared.graph.convert import event_from_graph
from tests.core.test_all_day_dates import erp_fields_of, graph_all_day, stored

ZONES = (
    "UTC",
    "W. Europe Standard Time",
    "Europe/Berlin",
    "GMT Standard Time",
    "Europe/London",
    "India Standard Time",  # +05:30
    "Asia/Kolkata",
    "Nepal Standard Time",  # +05:45
    "Asia/Kathmandu",
    "Chatham Islands Standard Time",  # +12:45 / +13:45
    "Line Islands Standard Time",  # +14, the far east
    "Pacific/Kiritimati",
    "Tonga Standard Time",
    "New Zealand Standard Time",
    "Cen. Australia Standard Time",  # +09:30 / +10:30
    "Australia/Lord_Howe",  # a half-hour DST
    "Dateline Standard Time",  # -12, the far west
    "Etc/GMT+12",
    "UTC-11",
    "Pacific/Pago_Pago",
    "Hawaiian Standard Time",
    "Pacific Standard Time",
    "America/New_York",
    "Newfoundland Standard Time",  # -03:30 / -02:30
    "Pacific SA Standard Time",  # America/Santiago: DST changes at midnight
    "America/Santiago",
    "America/Havana",  # DST changes at midnight
)


def _last_sunday(year: int, month: int) -> date:
    day = date(year, month + 1, 1) - timedelta(days=1)
    return day - timedelta(days=(day.weekday() + 1) % 7)


# Europe's DST Sundays and the days around them; Santiago's first Sundays of April and September.
EDGES = sorted(
    {
        edge + timedelta(days=shift)
        for year in range(2025, 2031)
        for edge in (_last_sunday(year, 3), _last_sunday(year, 10), date(year, 4, 6), date(year, 9, 7))
        for shift in (-1, 0, 1)
    }
)
DATES = st.one_of(st.sampled_from(EDGES), st.dates(min_value=date(2025, 1, 1), max_value=date(2030, 12, 31)))


@settings(max_examples=300, deadline=None)
@given(zone_name=st.sampled_from(ZONES), first=DATES, days=st.integers(1, 5), free=st.booleans())
def test_all_day_event_round_trips_outlook_erp_outlook_with_the_same_dates(
    zone_name: str, first: date, days: int, free: bool
) -> None:
    """R13/R14: whatever the zone, date and length, the ERP gets the event's dates as midnights in the
    event's zone (all-day when busy, no specified time when free), and what goes back to Outlook is the
    same dates, midnight to midnight in one zone, which Graph accepts as an all-day event."""
    last = first + timedelta(days=days)
    graph = graph_all_day(first, days, zone_name, show_as="free" if free else "busy")
    event = event_from_graph(graph)
    as_json = {
        "id": graph.id,
        "subject": graph.subject,
        "isAllDay": True,
        "showAs": "free" if free else "busy",
        "originalStartTimeZone": zone_name,
        "start": {"dateTime": f"{first.isoformat()}T00:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": f"{last.isoformat()}T00:00:00.0000000", "timeZone": "UTC"},
    }
    assert event_from_json(as_json) == event  # the fake's converter reads it the same

    fields = erp_fields_of(event)
    assert (fields.start, fields.end) == (_midnight(first), _midnight(last))
    assert fields.time_zone == to_iana(zone_name)
    assert (fields.all_day, fields.no_specified_time) == (not free, free)

    back = item_from_activity(stored(fields))
    assert (
        fingerprint(back)[Field.WHEN]
        == fingerprint(item_from_event(event, kind=ItemKind.MEETING, conflict_category="x"))[Field.WHEN]
    )  # R5: both sides show the same dates, so neither looks changed
    write = event_write(back, tuple(Field), origin=Side.M365)
    assert (write.start, write.end, write.is_all_day) == (_midnight(first), _midnight(last), True)
    assert write.show_as == ("free" if free else "busy")
    body = body_from_write(write)
    check_times(body["start"], body["end"], is_all_day=True)  # Graph's all-day rule: midnight, one zone


def _midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time())
