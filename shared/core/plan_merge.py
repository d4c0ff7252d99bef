"""Both sides changed one linked item since the last sync (R6)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from shared.core.actions import Action, Remember, UpdateActivity, UpdateEvent, VoidActivity
from shared.core.activities import Activity
from shared.core.fingerprint import changed_fields, fingerprint
from shared.core.links import Link
from shared.core.m365 import M365Event
from shared.core.mapping import item_from_activity, item_from_event
from shared.core.policy import NEVER_WRITTEN_TO_M365, SyncPolicy
from shared.core.run import Ways


def merge_both(policy: SyncPolicy, link: Link, event: M365Event, activity: Activity, ways: Ways) -> Iterator[Action]:
    """R6: fields changed on one side come from that side; on both, the latest change wins (ties: M365)."""
    m365_item = item_from_event(event, kind=link.kind, conflict_category=policy.conflict_category)
    erp_item = item_from_activity(activity)
    m365_changed = changed_fields(fingerprint(m365_item), link.m365_fields) & policy.fields_m365_may_change(
        link.kind, link.origin
    )
    erp_changed = changed_fields(fingerprint(erp_item), link.erp_fields)
    both = m365_changed & erp_changed
    m365_wins = m365_is_latest(event, activity, policy.clock_skew_seconds)
    to_erp_fields = (m365_changed - erp_changed) | (both if m365_wins else frozenset())
    to_m365_fields = ((erp_changed - m365_changed) | (frozenset() if m365_wins else both)) - NEVER_WRITTEN_TO_M365
    if ways.to_erp and to_erp_fields:
        yield UpdateActivity(link=link, event=event, item=m365_item, fields=frozenset(to_erp_fields))
    if ways.to_m365 and to_m365_fields:
        yield UpdateEvent(link=link, activity=activity, item=erp_item, fields=frozenset(to_m365_fields))
    wrote = (ways.to_erp and to_erp_fields) or (ways.to_m365 and to_m365_fields)
    if (m365_changed or erp_changed) and not wrote:
        yield Remember(link=link, event=event, activity=activity)


def m365_is_latest(event: M365Event, activity: Activity, skew_seconds: float) -> bool:
    if event.last_modified is None:
        return False
    return event.last_modified >= activity.modified_at - timedelta(seconds=skew_seconds)


def after_relink(policy: SyncPolicy, link: Link, event: M365Event, activity: Activity, ways: Ways) -> list[Action]:
    """R10: two records paired again after a crash. Where they differ, the newer record's field wins (the
    relink's record marks those fields changed on both sides); a meeting its owner declined or cancelled
    meanwhile is voided (R27, R8)."""
    if event.is_cancelled or (event.response == "declined" and not event.is_organizer):
        return [
            VoidActivity(
                link=link, reason="cancelled or declined before the relink (R27)", ends_claim=not event.is_organizer
            )
        ]
    return list(merge_both(policy, link, event, activity, ways))
