"""``CalendarPort.stamped_events`` and the JSON reading of Graph answers (issue 12, items 1 and 3).

Both calendars list the events carrying our ERP stamp in one filtered listing (page "Get
singleValueLegacyExtendedProperty", https://learn.microsoft.com/en-us/graph/api/singlevaluelegacyextendedproperty-get),
and read delta pages as JSON with the same result as kiota's models (page "event resource type",
https://learn.microsoft.com/en-us/graph/api/resources/event).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from kiota_serialization_json.json_parse_node_factory import JsonParseNodeFactory
from msgraph.generated.models.event import Event

import emulators.fakes.calendar as fake
import shared.graph.client as client
from shared.core.m365 import EventWrite
from shared.graph.convert import ERP_STAMP_PROPERTY, event_from_graph
from shared.graph.events_json import event_from_json
from tests.graph_port.conftest import Side

ALICE = "alice@contoso.com"
WINDOW = {"start": datetime(2026, 12, 1, tzinfo=UTC), "end": datetime(2026, 12, 31, tzinfo=UTC)}


def _json(subject: str, day: int, stamp: str | None = None) -> dict[str, Any]:
    extra = {"singleValueExtendedProperties": [{"id": ERP_STAMP_PROPERTY, "value": stamp}]} if stamp else {}
    return {
        "subject": subject,
        "start": {"dateTime": f"2026-12-{day:02d}T10:00:00", "timeZone": "UTC"},
        "end": {"dateTime": f"2026-12-{day:02d}T11:00:00", "timeZone": "UTC"},
        **extra,
    }


async def test_stamped_events_lists_only_our_stamped_events_across_pages(
    side: Side, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every stamped event and only those, as id → stamp, whatever the number of pages (the listing follows
    ``@odata.nextLink``; page "Paging Microsoft Graph data in your app")."""
    monkeypatch.setattr(client, "STAMPED_PAGE", 2)
    monkeypatch.setattr(fake, "STAMPED_PAGE", 2)
    made = {}
    for n in range(7):
        body = _json(f"E{n}", 1 + n, stamp=f"ACT-{n}" if n % 2 == 0 else None)
        made[n] = (await side.person("POST", f"/users/{ALICE}/events", json=body)).json()["id"]
    created = await side.calendar.create_event(
        ALICE,
        EventWrite(subject="ours", start=datetime(2026, 12, 9, 9), end=datetime(2026, 12, 9, 10), erp_stamp="ACT-X"),
    )
    side.emulator.state.requests.clear()
    found = await side.calendar.stamped_events(ALICE)
    assert len(side.emulator.state.requests) == 3  # 5 stamped events, 2 a page
    assert found == {made[0]: "ACT-0", made[2]: "ACT-2", made[4]: "ACT-4", made[6]: "ACT-6", created.id: "ACT-X"}


async def test_stamped_events_of_an_empty_mailbox_is_one_request(side: Side) -> None:
    """No stamped event: an empty listing, one request."""
    side.emulator.state.requests.clear()
    assert await side.calendar.stamped_events(ALICE) == {}
    assert len(side.emulator.state.requests) == 1


async def test_delta_pages_read_as_json_equal_the_kiota_reading(side: Side) -> None:
    """An event read from a delta page is the ``M365Event`` kiota's model gives for the same JSON."""
    body = _json("Review", 3) | {
        "location": {"displayName": "Room 1"},
        "attendees": [{"type": "optional", "emailAddress": {"address": "X@Fabrikam.com", "name": "X"}}],
        "categories": ["Blue"],
        "showAs": "workingElsewhere",
        "isAllDay": False,
    }
    await side.person("POST", f"/users/{ALICE}/events", json=body)
    entries = (await side.calendar.delta_start(ALICE, **WINDOW)).entries
    assert len(entries) == 1
    assert entries[0].event is not None
    raw = (await side.person("GET", f"/users/{ALICE}/events/{entries[0].event_id}")).json()
    node = JsonParseNodeFactory().get_root_parse_node("application/json", json.dumps(raw).encode())
    kiota = event_from_graph(node.get_object_value(Event))
    assert event_from_json(raw) == kiota
    assert entries[0].event.model_dump(exclude={"change_key", "last_modified"}) == kiota.model_dump(
        exclude={"change_key", "last_modified"}
    )


async def test_delta_marks_events_made_outside_the_sync_as_foreign(side: Side) -> None:
    """An event answered with ``transactionId: null`` was made by no client that chose one (page "event resource
    type": transactionId is client-chosen at creation); the sync sets one on every create, so only the events
    made elsewhere are ``foreign`` and need no stamp read."""
    outside = (await side.person("POST", f"/users/{ALICE}/events", json=_json("Outlook", 2))).json()["id"]
    ours = await side.calendar.create_event(
        ALICE,
        EventWrite(subject="ours", start=datetime(2026, 12, 9, 9), end=datetime(2026, 12, 9, 10), transaction_id="t-1"),
    )
    result = await side.calendar.delta_start(ALICE, **WINDOW)
    assert {e.event_id for e in result.entries} == {outside, ours.id}
    assert result.foreign == {outside}
