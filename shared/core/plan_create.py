"""A meeting from Outlook becomes an ERP activity (R23), unless a filter keeps it out (R24-R27)."""

from __future__ import annotations

from collections.abc import Iterator

from shared.core.actions import Action, CreateActivity, Skip
from shared.core.guards import why_not_create_activity
from shared.core.items import ItemKind, Side
from shared.core.m365 import M365Event
from shared.core.mapping import item_from_event
from shared.core.policy import PrivateEvents, SyncPolicy
from shared.core.run import Ways


def create_activity(policy: SyncPolicy, event: M365Event, ways: Ways) -> Iterator[Action]:
    """R23: the event becomes an ERP meeting, unless a filter keeps it out."""
    reason = why_not_create_activity(policy, event, to_erp=ways.to_erp)
    if reason:
        yield Skip(side=Side.M365, record_id=event.id, reason=reason)
        return
    item = item_from_event(event, kind=ItemKind.MEETING, conflict_category=policy.conflict_category)
    if policy.private_events is PrivateEvents.SYNC_AS_BUSY and event.sensitivity != "normal":
        item = item.model_copy(update={"subject": "Busy", "body": "", "attendees": ()})
    yield CreateActivity(event=event, item=item)
