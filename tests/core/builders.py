"""Small builders for core tests: an M365 event, an ERP activity and a link between them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shared.core.activities import Activity, ActivityType
from shared.core.fingerprint import fingerprint
from shared.core.items import ItemKind, Side
from shared.core.links import Link
from shared.core.m365 import M365Event
from shared.core.mapping import item_from_activity, item_from_event

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def event(**overrides: Any) -> M365Event:
    values: dict[str, Any] = {
        "id": "AAMk-event-1",
        "ical_uid": "ical-1",
        "change_key": "ck1",
        "subject": "Quarterly review",
        "body": "Agenda",
        "start": NOW + timedelta(days=1),
        "end": NOW + timedelta(days=1, hours=1),
        "time_zone": "Europe/Berlin",
        "last_modified": NOW - timedelta(minutes=5),
    }
    values.update(overrides)
    return M365Event(**values)


def activity(**overrides: Any) -> Activity:
    values: dict[str, Any] = {
        "id": "act-1",
        "version": 1,
        "type": ActivityType.MEETING,
        "subject": "Quarterly review",
        "description": "Agenda",
        "start": datetime(2026, 12, 2, 9, 0),
        "end": datetime(2026, 12, 2, 10, 0),
        "time_zone": "Europe/Berlin",
        "owner_id": "u1",
        "created_at": NOW - timedelta(days=1),
        "modified_at": NOW - timedelta(minutes=10),
    }
    values.update(overrides)
    return Activity(**values)


def link(
    ev: M365Event, act: Activity, *, origin: Side = Side.M365, kind: ItemKind = ItemKind.MEETING, **overrides: Any
) -> Link:
    values: dict[str, Any] = {
        "user_id": "u1",
        "link_id": "L1",
        "kind": kind,
        "origin": origin,
        "event_id": ev.id,
        "ical_uid": ev.ical_uid,
        "activity_id": act.id,
        "m365_fields": fingerprint(item_from_event(ev, kind=kind, conflict_category="Sync conflict")),
        "erp_fields": fingerprint(item_from_activity(act)),
        "erp_version": act.version,
    }
    values.update(overrides)
    return Link(**values)
