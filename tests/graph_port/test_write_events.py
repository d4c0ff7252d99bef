"""``CalendarPort.write_events``: creates, updates and deletes with a result each (issue 12, item 2).

``GraphCalendar`` sends them as JSON batches of 20 (page "Combine multiple requests in one HTTP call using
JSON batching", https://learn.microsoft.com/en-us/graph/json-batching), 4 ``dependsOn`` chains each so that no
more than 4 run at once in one mailbox (page "Microsoft Graph throttling limits",
https://learn.microsoft.com/en-us/graph/throttling-limits); ``InProcessCalendar`` one by one. Both give the
same results.
"""

from __future__ import annotations

from datetime import datetime

from shared.core.m365 import EventWrite
from shared.errors import GraphInvalid
from shared.graph.port import EventChange
from tests.graph_port.conftest import Side

ALICE = "alice@contoso.com"


def _write(n: int, **extra: object) -> EventWrite:
    values: dict[str, object] = {
        "subject": f"E{n}",
        "start": datetime(2026, 12, 1 + n % 28, 9),
        "end": datetime(2026, 12, 1 + n % 28, 10),
        "time_zone": "Europe/Oslo",
        "erp_stamp": f"ACT-{n}",
        "transaction_id": f"t-{n}",
    }
    return EventWrite(**{**values, **extra})


async def test_twenty_five_creates_come_back_in_order_with_their_events(side: Side) -> None:
    """25 creates: each result is its event (stamp included), in the order sent; Graph gets two batches."""
    side.emulator.state.requests.clear()
    results = await side.calendar.write_events(ALICE, [EventChange(kind="create", write=_write(n)) for n in range(25)])
    assert [r.error for r in results] == [None] * 25
    assert [r.event.subject if r.event else None for r in results] == [f"E{n}" for n in range(25)]
    assert [r.event.erp_stamp if r.event else None for r in results] == [f"ACT-{n}" for n in range(25)]
    if side.kind == "graph":
        batches = [r for r in side.emulator.state.requests if r.path == "/$batch"]
        assert len(batches) == 2


async def test_updates_deletes_and_a_refused_item_each_get_their_own_result(side: Side) -> None:
    """An update, a delete, a delete of an event already gone (not an error, as ``delete_event``) and a create
    Graph refuses (end before start: 400) in one call: only the refused one is an error."""
    made = await side.calendar.write_events(ALICE, [EventChange(kind="create", write=_write(n)) for n in range(2)])
    first, second = (r.event.id for r in made if r.event)
    bad = _write(9, start=datetime(2026, 12, 9, 10), end=datetime(2026, 12, 9, 9))
    results = await side.calendar.write_events(
        ALICE,
        [
            EventChange(kind="update", event_id=first, write=EventWrite(subject="Renamed")),
            EventChange(kind="delete", event_id=second),
            EventChange(kind="delete", event_id=second),
            EventChange(kind="create", write=bad),
        ],
    )
    assert results[0].event is not None
    assert results[0].event.subject == "Renamed"
    assert (results[1].error, results[2].error) == (None, None)
    assert isinstance(results[3].error, GraphInvalid)
    listed = (await side.person("GET", f"/users/{ALICE}/events")).json()["value"]
    assert [e["subject"] for e in listed] == ["Renamed"]


async def test_a_throttled_item_is_sent_again_and_nothing_is_created_twice(side: Side) -> None:
    """One create answered 429 (with ``Retry-After``): it is sent again after the wait, its chain's items that
    did not run (424) with it; every event exists once."""
    await side.control("POST", "/faults", json={"method": "POST", "path": "/events$", "status": 429, "retryAfter": 1})
    results = await side.calendar.write_events(ALICE, [EventChange(kind="create", write=_write(n)) for n in range(9)])
    assert [r.error for r in results] == [None] * 9
    listed = (await side.person("GET", f"/users/{ALICE}/events", params={"$top": "50"})).json()["value"]
    assert sorted(e["subject"] for e in listed) == sorted(f"E{n}" for n in range(9))


async def test_read_events_answers_each_event_with_its_stamp_and_none_for_a_gone_one(side: Side) -> None:
    """Several ``GET /events/{id}`` with the stamp expanded in one batch (page "Get singleValueLegacyExtendedProperty",
    https://learn.microsoft.com/en-us/graph/api/singlevaluelegacyextendedproperty-get): a deleted event is None
    (404, page "Get event"), as R9 needs to tell a deletion from a move out of the window."""
    made = await side.calendar.write_events(ALICE, [EventChange(kind="create", write=_write(n)) for n in range(3)])
    ids = [r.event.id for r in made if r.event]
    await side.person("DELETE", f"/users/{ALICE}/events/{ids[1]}")
    side.emulator.state.requests.clear()
    found = await side.calendar.read_events(ALICE, ids)
    assert found[ids[1]] is None
    assert [found[i].erp_stamp if found[i] else None for i in (ids[0], ids[2])] == ["ACT-0", "ACT-2"]
    if side.kind == "graph":
        assert [r.path for r in side.emulator.state.requests].count("/$batch") == 1


async def test_a_refused_write_does_not_cost_the_rest_of_its_chain(side: Side) -> None:
    """The first of 9 creates is refused (400): the items chained after it are answered 424 and not run (page
    "JSON batching"), then sent again; only the refused one is an error and the 8 others exist once."""
    bad = _write(0, start=datetime(2026, 12, 9, 10), end=datetime(2026, 12, 9, 9))
    changes = [
        EventChange(kind="create", write=bad),
        *(EventChange(kind="create", write=_write(n)) for n in range(1, 9)),
    ]
    results = await side.calendar.write_events(ALICE, changes)
    assert isinstance(results[0].error, GraphInvalid)
    assert [r.error for r in results[1:]] == [None] * 8
    listed = (await side.person("GET", f"/users/{ALICE}/events", params={"$top": "50"})).json()["value"]
    assert sorted(e["subject"] for e in listed) == sorted(f"E{n}" for n in range(1, 9))
